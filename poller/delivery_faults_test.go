package poller_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/jira/jiratest"
	"github.com/patrolsec/patrol/state"
)

// ownTicket runs the detect job over one key event: SEC-1, patrol's own.
func (e *env) ownTicket() string {
	e.t.Helper()
	e.search.add(keyEvent(e.clock.Now().Add(-5*time.Minute), "alice", "AKIAALICE00000000001"))
	if _, err := e.detect(); err != nil {
		e.t.Fatal(err)
	}
	keys := e.issueKeys()
	if len(keys) != 1 {
		e.t.Fatalf("issues = %v", keys)
	}
	return keys[0]
}

// approve shows the plan, then has the approver approve it.
func (e *env) approve(key string) {
	e.t.Helper()
	e.clock.Add(time.Minute)
	e.poll()
	e.clock.Add(time.Minute)
	if err := e.jira.AddLabel(key, "patrol-approve", approver); err != nil {
		e.t.Fatal(err)
	}
	e.clock.Add(time.Minute)
}

// transitions counts the status changes in the issue's changelog.
func (e *env) transitions(key string) int {
	is, _ := e.jira.Issue(key)
	n := 0
	for _, h := range is.Changelog {
		for _, it := range h.Items {
			if it.Field == "status" {
				n++
			}
		}
	}
	return n
}

// replies counts the Slack messages (card or replies) containing s.
func (e *env) replies(s string) int {
	n := 0
	for _, m := range e.slack.Messages() {
		if strings.Contains(m.Text+string(m.Blocks), s) {
			n++
		}
	}
	return n
}

// TestFollowThroughSurvivesFailures: what must follow a recorded outcome
// (the ticket comment, the Slack update, the done transition) is queued with
// it in one state transaction, so one failure never loses it: later passes
// deliver each of them, exactly once.
func TestFollowThroughSurvivesFailures(t *testing.T) {
	comment := func(key string) string { return "/rest/api/3/issue/" + key + "/comment" }
	tests := []struct {
		name  string
		setup func(e *env)
		fault func(key string) jiratest.Fault
		// want: a comment that must arrive once, and whether the ticket
		// ends Done (one transition).
		want string
		done bool
	}{
		{name: "503 on the result comment", fault: func(key string) jiratest.Fault {
			return jiratest.Fault{Method: http.MethodPost, Path: comment(key), Status: 503, After: 1}
		}, want: "done and verified", done: true},
		{name: "timeout on the result comment", fault: func(key string) jiratest.Fault {
			return jiratest.Fault{Method: http.MethodPost, Path: comment(key), Status: 504, After: 1, Header: http.Header{"Content-Type": {"text/html"}}, Body: "<html>Gateway Timeout</html>"}
		}, want: "done and verified", done: true},
		{name: "503 on the done transition", fault: func(key string) jiratest.Fault {
			return jiratest.Fault{Method: http.MethodPost, Path: "/rest/api/2/issue/" + key + "/transitions", Status: 503}
		}, want: "done and verified", done: true},
		{name: "503 on a refusal", setup: func(e *env) { e.resp.Guard.ProtectedPrincipals = []string{"arn:aws:iam::*:user/alice"} },
			fault: func(key string) jiratest.Fault {
				return jiratest.Fault{Method: http.MethodPost, Path: comment(key), Status: 503}
			}, want: "Remediation refused"},
		{name: "503 on the enrichment notice", setup: func(e *env) { e.resp.Enrichers = []poller.Enricher{ownerEnricher{}} },
			fault: func(key string) jiratest.Fault {
				return jiratest.Fault{Method: http.MethodPost, Path: comment(key), Status: 503}
			}, want: "Account owner", done: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			if tt.setup != nil {
				tt.setup(e)
			}
			key := e.ownTicket()
			e.jira.Fail(tt.fault(key))
			var errs []error
			if tt.want != "Remediation refused" {
				for i := 0; i < 2; i++ { // enrichment and the plan, delivered
					e.clock.Add(time.Minute)
					errs = append(errs, e.poll())
				}
				e.clock.Add(time.Minute)
				if err := e.jira.AddLabel(key, "patrol-approve", approver); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < 4; i++ { // the action runs; later passes deliver
				e.clock.Add(time.Minute)
				errs = append(errs, e.poll())
			}
			if errors.Join(errs...) == nil {
				t.Fatal("want the failed delivery to fail its pass")
			}
			if n := e.count(key, tt.want); n != 1 {
				t.Errorf("%q arrived %d times, want 1: %q", tt.want, n, e.comments(key))
			}
			wantTransitions := 0
			if tt.done {
				wantTransitions = 1
			}
			if n := e.transitions(key); n != wantTransitions {
				t.Errorf("transitions = %d, want %d", n, wantTransitions)
			}
			if is, _ := e.jira.Issue(key); tt.done != (is.Status == "Done") {
				t.Errorf("status = %s", is.Status)
			}
			if tt.done {
				if n := e.replies("done and verified"); n != 1 {
					t.Errorf("Slack got the result %d times, want 1", n)
				}
				if got := e.action.keys(); len(got) != 1 {
					t.Errorf("applied %v", got)
				}
			}
			if q, _ := e.db.PendingOutbox(context.Background(), 100); len(q) != 0 {
				t.Errorf("still queued: %+v", q)
			}
		})
	}
}

type ownerEnricher struct{}

func (ownerEnricher) Name() string { return "owner" }
func (ownerEnricher) Enrich(ctx context.Context, in poller.EnrichInput) (poller.Enrichment, error) {
	return poller.Enrichment{Facts: []poller.Field{{Name: "Account owner", Value: "alice@" + in.Fields.Get("recipientAccountId")}}}, nil
}

// TestDeadLetters: a delivery that fails for good (a Slack channel that
// does not exist, a comment Jira rejects) is set aside; it never holds back
// what is queued behind it, and each kind of failure raises one self-alert.
func TestDeadLetters(t *testing.T) {
	e := newEnv(t, envOptions{mode: "off"})
	e.detector.Router = poller.Router{Teams: []poller.Team{{Name: "gone", Accounts: []string{account}, SlackChannel: "#gone"}}}
	e.search.add(keyEvent(e.clock.Now().Add(-9*time.Minute), "alice", "AKIAALICE00000000001"),
		keyEvent(e.clock.Now().Add(-8*time.Minute), "bob", "AKIABOB0000000000002"))
	if _, err := e.detect(); err != nil {
		t.Fatal(err) // dead letters do not fail the run
	}
	dead, _ := e.db.DeadLetters(context.Background(), 10)
	if len(dead) != 2 || dead[0].Kind != state.DeliverNotify || !strings.Contains(dead[0].LastError, "channel_not_found") {
		t.Fatalf("dead letters: %+v", dead)
	}
	// One self-alert for the kind of failure, not one per delivery; its
	// own notification goes to the default channel.
	var self []string
	for _, is := range e.jira.Issues() {
		if strings.Contains(is.Summary, "deliveries fail for good") {
			self = append(self, is.Key)
		}
	}
	if len(self) != 1 {
		t.Fatalf("self-alerts: %v", self)
	}
	e.clock.Add(5 * time.Minute)
	e.search.add(keyEvent(e.clock.Now().Add(-2*time.Minute), "carol", "AKIACAROL00000000003"))
	e.detect()
	if dead, _ := e.db.DeadLetters(context.Background(), 10); len(dead) != 3 {
		t.Errorf("dead letters: %d", len(dead))
	}
	n := 0
	for _, is := range e.jira.Issues() {
		if strings.Contains(is.Summary, "deliveries fail for good") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("self-alerts after another dead letter: %d", n)
	}
	if got := e.slack.Count("chat.postMessage"); got < 2 {
		t.Errorf("the self-alert was not announced: %d posts", got)
	}

	// A Jira comment rejected for good (400) does not hold back the
	// transition queued after it.
	key := e.issueKeys()[0]
	e.jira.Fail(jiratest.Fault{Method: http.MethodPost, Path: "/rest/api/3/issue/" + key + "/comment", Status: 400, Body: `{"errorMessages":["Comment body is not valid!"]}`})
	ds := []poller.Delivery{poller.CommentDelivery(poller.Message{Title: "x"}), poller.TransitionDelivery("Done")}
	var sds []state.Delivery
	for _, d := range ds {
		sd, err := poller.EncodeDelivery(key, d)
		if err != nil {
			t.Fatal(err)
		}
		sds = append(sds, sd)
	}
	e.db.EnqueueDeliveries(context.Background(), sds...)
	if err := e.detector.FlushOutbox(context.Background()); err != nil {
		t.Fatal(err)
	}
	if is, _ := e.jira.Issue(key); is.Status != "Done" {
		t.Errorf("transition held back by a dead comment: status %s", is.Status)
	}
}
