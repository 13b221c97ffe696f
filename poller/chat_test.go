package poller_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/slack"
	"github.com/patrolsec/patrol/poller/slack/slackfake"
	"github.com/patrolsec/patrol/state"
)

// Slack users of the chat tests: alice is mapped to the approver, mallory
// to nobody.
const (
	alice   = "U0ALICE01"
	mallory = "U0MALLORY"
)

// chat turns on Slack approvals for e and connects a Listener to the
// Slack fake's Socket Mode, handing clicks to the Responder.
func (e *env) chat(t *testing.T) *slack.Listener {
	t.Helper()
	e.resp.ChatApprovals = true
	e.resp.ChatApprovers = map[string]string{alice: approver}
	e.resp.HoldLabel = "patrol-hold"
	t.Setenv("T_SLACK_APP_TOKEN", "xapp-test")
	sc := slack.Defaults()
	sc.TokenEnv, sc.Channel, sc.APIURL, sc.AppTokenEnv = "T_SLACK_TOKEN", "#security-alerts", e.slack.URL, "T_SLACK_APP_TOKEN"
	sc.AllowInsecureHTTP = true
	l, err := slack.NewListener(sc, slack.ListenerOptions{Retry: 10 * time.Millisecond, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Listen(ctx, e.resp); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitUntil(t, "the socket connected", func() bool { return l.State().State == "connected" })
	return l
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// buttons returns the message that carries ticket key's Approve and Hold
// buttons, with the value they hold.
func (e *env) buttons(t *testing.T, key string) (slackfake.Message, string) {
	t.Helper()
	for _, m := range e.slack.Messages() {
		var blocks []struct {
			Type     string `json:"type"`
			Elements []struct {
				ActionID string `json:"action_id"`
				Value    string `json:"value"`
			} `json:"elements"`
		}
		_ = json.Unmarshal(m.Blocks, &blocks)
		for _, b := range blocks {
			for _, el := range b.Elements {
				if b.Type == "actions" && el.ActionID == "patrol_approve" && strings.Contains(el.Value, `"`+key+`"`) {
					return m, el.Value
				}
			}
		}
	}
	t.Fatalf("no message with buttons for %s", key)
	return slackfake.Message{}, ""
}

// press presses a button of m as user and waits for its acknowledgement.
func (e *env) press(t *testing.T, m slackfake.Message, action, user, value string) {
	t.Helper()
	id, err := e.slack.PressButton(slackfake.Press{Channel: m.Channel, TS: m.TS, ActionID: action, User: user, UserName: map[string]string{alice: "alice", mallory: "mallory"}[user], Value: value})
	if err != nil {
		t.Fatal(err)
	}
	if ack, ok := e.slack.WaitAck(id, 3*time.Second); !ok || ack.After > 3*time.Second {
		t.Fatalf("envelope %s not acknowledged within 3s", id)
	}
}

// pendingTicket opens a ticket whose plan waits for approval, with the
// Listener connected.
func pendingTicket(t *testing.T) (*env, string) {
	e := newEnv(t, envOptions{})
	e.chat(t)
	e.search.add(keyEvent(e.clock.Now().Add(-10*time.Minute), "alice", "AKIAALICE00000000001"))
	if _, err := e.detect(); err != nil {
		t.Fatal(err)
	}
	if err := e.poll(); err != nil {
		t.Fatal(err)
	}
	keys := e.issueKeys()
	if len(keys) != 1 || e.stage(keys[0]) != state.StageApproval {
		t.Fatalf("tickets %v", keys)
	}
	return e, keys[0]
}

func (e *env) message(channel, ts string) slackfake.Message {
	for _, m := range e.slack.Messages() {
		if m.Channel == channel && m.TS == ts {
			return m
		}
	}
	return slackfake.Message{}
}

// TestApproveFromSlack: a mapped approver's click on the current plan
// records the approval (who, when, digest, via slack), mirrors it into
// Jira (the approve label and a comment), runs the action once at once,
// and updates the message to say who approved and then the result. A
// click after it ran changes nothing (TestRefusedSlackClicks has the
// others).
func TestApproveFromSlack(t *testing.T) {
	e, key := pendingTicket(t)
	msg, value := e.buttons(t, key)
	cur, _ := e.db.CurrentPlan(context.Background(), key)
	if !strings.Contains(value, cur.Digest) {
		t.Fatalf("button value %s lacks the digest %s", value, cur.Digest)
	}

	e.press(t, msg, "patrol_approve", alice, "")
	waitUntil(t, "the action ran and its outcome was recorded", func() bool { return e.stage(key) == state.StageDone })
	waitUntil(t, "the message shows the result", func() bool {
		return strings.Contains(string(e.message(msg.Channel, msg.TS).Blocks), "done and verified")
	})
	if got := e.action.keys(); len(got) != 1 || got[0] != "AKIAALICE00000000001" {
		t.Fatalf("action ran %v, want once on alice's key", got)
	}
	is, _ := e.jira.Issue(key)
	if !contains(is.Labels, "patrol-approve") {
		t.Errorf("labels %v: the approval is not mirrored", is.Labels)
	}
	if e.count(key, "approved by alice in Slack") != 1 {
		t.Errorf("comments %q", e.comments(key))
	}
	if e.count(key, "done and verified") != 1 {
		t.Errorf("result comment missing: %q", e.comments(key))
	}
	apps, _ := e.db.Approvals(context.Background(), key)
	if len(apps) != 1 || apps[0].Via != "slack" || apps[0].By != approver || apps[0].Digest != cur.Digest || apps[0].At.IsZero() {
		t.Errorf("approvals %+v", apps)
	}
	final := e.message(msg.Channel, msg.TS)
	if b := string(final.Blocks); !strings.Contains(b, "Approved by alice in Slack") || strings.Contains(b, "patrol_approve") || final.Updates < 2 {
		t.Errorf("message after the run (%d updates): %s", final.Updates, b)
	}

	// The same button pressed again (another client still showed it).
	var again slackfake.Envelope
	for _, env := range e.slack.Envelopes() {
		if strings.Contains(string(env.Payload), alice) {
			again = env
		}
	}
	again.EnvelopeID = ""
	id, err := e.slack.Send(again)
	if err != nil {
		t.Fatal(err)
	}
	e.slack.WaitAck(id, 3*time.Second)
	waitUntil(t, "told it no longer waits", func() bool { return len(e.slack.Ephemerals()) == 1 })
	if txt := e.slack.Ephemerals()[0].Text; !strings.Contains(txt, "no longer waits for approval") {
		t.Errorf("ephemeral %q", txt)
	}
	// The next poll sees the label patrol added; nothing runs or complains.
	e.clock.Add(time.Minute)
	if err := e.poll(); err != nil {
		t.Fatal(err)
	}
	if len(e.action.keys()) != 1 || e.count(key, "not in tickets.approvers") != 0 {
		t.Errorf("after the poll: keys %v comments %q", e.action.keys(), e.comments(key))
	}
}

// TestRefusedSlackClicks: Approve or Hold pressed by a Slack user not
// mapped to an approver, or on a message whose plan has changed since it
// was posted, changes nothing: no label, comment, approval or action, and
// only the person who clicked is told why.
func TestRefusedSlackClicks(t *testing.T) {
	// planChanged reloads the detection with other params (as an edit of
	// its file would); the next pass that looks at the ticket (someone
	// labels it) posts the new plan with a new digest, and the message
	// pressed still carries the old one.
	planChanged := func(t *testing.T, e *env, key string) {
		t.Helper()
		e.det = loadDetection(t, strings.Replace(detectionTOML("approve", "1h"), `key = "{userIdentity.accessKeyId}"`, `key = "AKIABOB0000000000002"`, 1))
		e.clock.Add(time.Minute)
		e.jira.AddLabel(key, "triaged", approver)
		e.clock.Add(time.Minute)
		if err := e.poll(); err != nil {
			t.Fatal(err)
		}
		if e.count(key, "The plan changed since it was posted") != 1 {
			t.Fatalf("no new plan posted: %q", e.comments(key))
		}
	}
	for _, c := range []struct {
		name, button, user string
		before             func(t *testing.T, e *env, key string) // after the message is posted
		told               string
	}{
		{name: "unmapped user approves", button: "patrol_approve", user: mallory, told: "not one of patrol's approvers"},
		{name: "unmapped user holds", button: "patrol_hold", user: mallory, told: "not one of patrol's approvers"},
		{name: "approver approves a plan that changed", button: "patrol_approve", user: alice, before: planChanged, told: "no longer the current plan"},
		{name: "approver holds a plan that changed", button: "patrol_hold", user: alice, before: planChanged, told: "no longer the current plan"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, key := pendingTicket(t)
			msg, value := e.buttons(t, key)
			if c.before != nil {
				c.before(t, e, key)
			}
			cur, _ := e.db.CurrentPlan(context.Background(), key)
			comments := len(e.comments(key))

			e.press(t, msg, c.button, c.user, value) // the button as the person saw it
			waitUntil(t, "the person who clicked is told", func() bool { return len(e.slack.Ephemerals()) == 1 })
			if txt := e.slack.Ephemerals()[0].Text; !strings.Contains(txt, c.told) || !strings.Contains(txt, "Nothing was changed") {
				t.Errorf("ephemeral %q, want %q", txt, c.told)
			}
			if c.before != nil && strings.Contains(value, cur.Digest) {
				t.Fatalf("the plan did not change: the button holds %s, the current digest is %s", value, cur.Digest)
			}
			// A respond pass finds nothing to do either.
			e.clock.Add(time.Minute)
			if err := e.poll(); err != nil {
				t.Fatal(err)
			}
			is, _ := e.jira.Issue(key)
			if len(e.action.keys()) != 0 || len(e.comments(key)) != comments || contains(is.Labels, "patrol-approve") ||
				contains(is.Labels, "patrol-hold") || e.stage(key) != state.StageApproval {
				t.Fatalf("a refused click changed something: keys %v labels %v stage %s comments %q", e.action.keys(), is.Labels, e.stage(key), e.comments(key))
			}
			if as, _ := e.db.ChatActions(context.Background(), key); len(as) != 0 {
				t.Fatalf("refused clicks recorded: %+v", as)
			}
			if apps, _ := e.db.Approvals(context.Background(), key); len(apps) != 0 {
				t.Fatalf("approvals %+v", apps)
			}
		})
	}
}

// TestHoldFromSlack: Hold records the click, puts the hold label on the
// ticket with a comment and updates the message; an approval given before
// the hold does not run it, and neither does one while the label is on;
// an approval after the label is removed does, once.
func TestHoldFromSlack(t *testing.T) {
	e, key := pendingTicket(t)
	msg, _ := e.buttons(t, key)
	e.clock.Add(time.Minute)
	e.jira.AddLabel(key, "patrol-approve", approver) // given, then held before the next poll
	e.clock.Add(time.Minute)
	e.press(t, msg, "patrol_hold", alice, "")
	// The message update is queued after the label and the comment, and
	// deliveries go out in order.
	waitUntil(t, "the message says it is held", func() bool {
		return strings.Contains(string(e.message(msg.Channel, msg.TS).Blocks), "Held by alice in Slack")
	})
	if is, _ := e.jira.Issue(key); !contains(is.Labels, "patrol-hold") || e.count(key, "held by alice in Slack") != 1 {
		t.Errorf("labels %v comments %q", is.Labels, e.comments(key))
	}
	for i := 0; i < 2; i++ {
		e.clock.Add(time.Minute)
		if err := e.poll(); err != nil {
			t.Fatal(err)
		}
	}
	if len(e.action.keys()) != 0 {
		t.Fatalf("ran while held: %v", e.action.keys())
	}
	e.clock.Add(time.Minute)
	e.jira.RemoveLabel(key, "patrol-hold", approver)
	e.clock.Add(time.Minute)
	if err := e.poll(); err != nil {
		t.Fatal(err)
	}
	if len(e.action.keys()) != 0 {
		t.Fatalf("the approval given before the hold ran it: %v", e.action.keys())
	}
	e.clock.Add(time.Minute)
	e.jira.RemoveLabel(key, "patrol-approve", approver)
	e.jira.AddLabel(key, "patrol-approve", approver)
	e.clock.Add(time.Minute)
	if err := e.poll(); err != nil {
		t.Fatal(err)
	}
	if got := e.action.keys(); len(got) != 1 {
		t.Fatalf("after a new approval: ran %v, want once", got)
	}
	if !strings.Contains(string(e.message(msg.Channel, msg.TS).Blocks), "done and verified") {
		t.Errorf("the held message does not show the result: %s", e.message(msg.Channel, msg.TS).Blocks)
	}
}

// TestApprovedClickRunsOnNextPassWhenBudgetFull: an approval recorded from
// Slack whose run cannot happen at once (the hourly budget is used up)
// runs on a later pass, from the state.
func TestApprovedClickRunsOnNextPassWhenBudgetFull(t *testing.T) {
	e, key := pendingTicket(t)
	e.resp.Guard.MaxPerHour = 1
	if _, err := e.db.AppendAction(context.Background(), state.ActionEvent{Attempt: "other", TicketKey: "SEC-99", Action: "x", Target: "y", Phase: state.PhaseStarted}); err != nil {
		t.Fatal(err)
	}
	msg, _ := e.buttons(t, key)
	e.press(t, msg, "patrol_approve", alice, "")
	waitUntil(t, "deferred by the hourly budget", func() bool { return e.stage(key) == state.StageDeferred })
	if len(e.action.keys()) != 0 {
		t.Fatal("ran past the budget")
	}
	e.clock.Add(2 * time.Hour)
	if err := e.poll(); err != nil {
		t.Fatal(err)
	}
	if got := e.action.keys(); len(got) != 1 || e.stage(key) != state.StageDone {
		t.Fatalf("after the budget freed: ran %v, stage %s", got, e.stage(key))
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

var _ poller.ClickHandler = (*poller.Responder)(nil)

// TestHoldLabelCancelsAutoForGood: the hold label keeps an automatic
// remediation (held back by the hourly budget) from running, says so once,
// and after the label is removed the remediation needs an approval.
func TestHoldLabelCancelsAutoForGood(t *testing.T) {
	e := newEnv(t, envOptions{mode: "auto"})
	e.resp.HoldLabel = "patrol-hold"
	e.resp.Guard.MaxPerHour = 1
	if _, err := e.db.AppendAction(context.Background(), state.ActionEvent{Attempt: "other", TicketKey: "SEC-99", Action: "x", Target: "y", Phase: state.PhaseStarted}); err != nil {
		t.Fatal(err)
	}
	e.search.add(keyEvent(e.clock.Now().Add(-10*time.Minute), "alice", "AKIAALICE00000000001"))
	if _, err := e.detect(); err != nil {
		t.Fatal(err)
	}
	if err := e.poll(); err != nil {
		t.Fatal(err)
	}
	key := e.issueKeys()[0]
	if e.stage(key) != state.StageDeferred {
		t.Fatalf("stage %s, want deferred by the budget", e.stage(key))
	}
	e.clock.Add(time.Minute)
	e.jira.AddLabel(key, "patrol-hold", approver)
	e.clock.Add(2 * time.Hour) // the budget frees up
	for i := 0; i < 2; i++ {
		e.clock.Add(time.Minute)
		if err := e.poll(); err != nil {
			t.Fatal(err)
		}
	}
	if len(e.action.keys()) != 0 || e.count(key, "Remediation held: the label") != 1 {
		t.Fatalf("held: ran %v, comments %q", e.action.keys(), e.comments(key))
	}
	e.clock.Add(time.Minute)
	e.jira.RemoveLabel(key, "patrol-hold", approver)
	e.clock.Add(time.Minute)
	if err := e.poll(); err != nil {
		t.Fatal(err)
	}
	if len(e.action.keys()) != 0 || e.stage(key) != state.StageApproval {
		t.Fatalf("after the hold was lifted the automatic run came back: ran %v, stage %s", e.action.keys(), e.stage(key))
	}
	e.clock.Add(time.Minute)
	e.poll() // the plan comment is delivered
	e.clock.Add(time.Minute)
	e.jira.AddLabel(key, "patrol-approve", approver)
	e.clock.Add(time.Minute)
	if err := e.poll(); err != nil {
		t.Fatal(err)
	}
	if got := e.action.keys(); len(got) != 1 {
		t.Fatalf("after an approval: ran %v, want once", got)
	}
}
