package poller_test

// Grace periods and the hold label, the circuit breaker, and false-positive
// feedback, through the real respond job, the real Jira client against the
// fake and a real state file.

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/jira"
	"github.com/patrolsec/patrol/poller/jira/jiratest"
	"github.com/patrolsec/patrol/poller/tuning"
	"github.com/patrolsec/patrol/state"
)

// graceEnv is auto mode with a 15m grace period and one ticket made.
func graceEnv(t *testing.T, o envOptions) (*env, string) {
	t.Helper()
	o.mode = "auto"
	e := newEnv(t, o)
	e.det = loadDetection(t, strings.Replace(detectionTOML("auto", "1h"), `mode = "auto"`, "mode = \"auto\"\ngrace = \"15m\"", 1))
	e.search.add(keyEvent(e.clock.Now().Add(-10*time.Minute), "alice", "AKIAALICE00000000001"))
	if _, err := e.detect(); err != nil {
		t.Fatal(err)
	}
	return e, e.issueKeys()[0]
}

// TestGraceAndHold: an automatic remediation with a grace period says on
// the ticket when it will run and how to stop it, runs on the first pass
// after that time, and a hold label cancels it for good: it then needs an
// approval.
func TestGraceAndHold(t *testing.T) {
	t.Run("runs after the grace period", func(t *testing.T) {
		e, key := graceEnv(t, envOptions{})
		e.poll()
		if e.stage(key) != state.StageGrace || e.count(key, "runs automatically at 2026-11-02T09:15:00Z") != 1 || e.count(key, `add the label "patrol-hold"`) != 1 {
			t.Fatalf("stage %s, comments %q", e.stage(key), e.comments(key))
		}
		e.clock.Add(14 * time.Minute)
		e.poll()
		if len(e.action.keys()) != 0 {
			t.Fatal("ran inside its grace period")
		}
		e.clock.Add(2 * time.Minute)
		e.poll()
		e.clock.Add(time.Minute)
		e.poll()
		if got := e.action.keys(); len(got) != 1 || e.stage(key) != state.StageDone {
			t.Fatalf("after the grace period: applied %v, stage %s", got, e.stage(key))
		}
	})
	t.Run("a hold cancels it for good; an approval runs it", func(t *testing.T) {
		e, key := graceEnv(t, envOptions{})
		e.poll()
		e.clock.Add(5 * time.Minute)
		e.jira.AddLabel(key, "patrol-hold", "bob")
		e.clock.Add(time.Minute)
		e.poll()
		e.clock.Add(30 * time.Minute)
		e.poll()
		if len(e.action.keys()) != 0 {
			t.Fatal("a held remediation ran")
		}
		row, _ := e.db.Ticket(context.Background(), key)
		if row.HeldBy != "bob" || e.count(key, "(added by bob at 2026-11-02T09:05:00Z)") != 1 || row.Stage != state.StageApproval {
			t.Fatalf("held by %q, stage %s, comments %q", row.HeldBy, row.Stage, e.comments(key))
		}
		// Removing the label does not bring the automatic run back: the
		// plan is posted for an approval.
		e.jira.RemoveLabel(key, "patrol-hold", "bob")
		e.clock.Add(time.Minute)
		e.poll()
		if len(e.action.keys()) != 0 || e.count(key, "waits for approval") != 1 {
			t.Fatalf("after the label went: applied %v, comments %q", e.action.keys(), e.comments(key))
		}
		e.clock.Add(time.Minute)
		e.jira.AddLabel(key, "patrol-approve", approver)
		e.clock.Add(time.Minute)
		e.poll()
		if got := e.action.keys(); len(got) != 1 {
			t.Fatalf("approved after the hold: applied %v", got)
		}
	})
	t.Run("a hold the search does not show yet is read from the ticket", func(t *testing.T) {
		e, key := graceEnv(t, envOptions{jira: jiratest.Options{IndexLag: 10 * time.Minute},
			jiraConfig: func(c *jira.Config) { c.Reconcile = false }})
		e.poll()
		e.clock.Add(20 * time.Minute)
		// Added just before the pass that would run it, by someone the
		// changelog names; the poll's search may lag, the ticket does not.
		e.jira.AddLabel(key, "patrol-hold", "carol")
		if _, err := e.resp.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(e.action.keys()) != 0 || e.count(key, "added by carol") != 1 {
			t.Fatalf("applied %v, comments %q", e.action.keys(), e.comments(key))
		}
	})
}

// TestHoldStopsAHeldBackRemediation: the hold label stops an automatic
// remediation without a grace period that is held back (the hourly
// budget): it then needs an approval.
func TestHoldStopsAHeldBackRemediation(t *testing.T) {
	e := newEnv(t, envOptions{mode: "auto"})
	keys := e.secondDeferred(t)
	e.clock.Add(time.Minute)
	e.jira.AddLabel(keys[1], "patrol-hold", "bob")
	e.clock.Add(2 * time.Hour)
	e.poll()
	if len(e.action.keys()) != 1 || e.count(keys[1], "added by bob") != 1 || e.stage(keys[1]) != state.StageApproval {
		t.Fatalf("after the hold: applied %v, stage %s, comments %q", e.action.keys(), e.stage(keys[1]), e.comments(keys[1]))
	}
}

// failingAction fails every Apply, as AWS refusing the change would.
type failingAction struct{ keyAction }

func (a *failingAction) Apply(ctx context.Context, p poller.Plan) (poller.Outcome, error) {
	a.keyAction.Apply(ctx, p)
	return poller.Outcome{}, errors.New("AccessDenied: not authorized to perform iam:UpdateAccessKey")
}

// TestCircuitBreaker: after breaker_failures failed actions in a row no
// action runs, held like those over the hourly budget, one self-alert says
// why, and a reset (patrol resume) lets the held ones run.
func TestCircuitBreaker(t *testing.T) {
	e := newEnv(t, envOptions{mode: "auto"})
	failing := &failingAction{}
	e.resp.Actions = map[string]poller.Action{"iam.disable_access_key": failing}
	e.resp.Guard.BreakerFailures = 3
	for i, k := range []string{"AKIAKEY0000000000001", "AKIAKEY0000000000002", "AKIAKEY0000000000003", "AKIAKEY0000000000004"} {
		e.search.add(keyEvent(e.clock.Now().Add(time.Duration(i)*time.Second-5*time.Minute), "u"+k[len(k)-1:], k))
	}
	if _, err := e.detect(); err != nil {
		t.Fatal(err)
	}
	e.poll()
	keys := e.alertKeys()
	if len(keys) != 4 {
		t.Fatalf("issues %v", keys)
	}
	if got := failing.keys(); len(got) != 3 {
		t.Fatalf("applied %v: the breaker did not stop the fourth", got)
	}
	held := keys[3]
	if e.stage(held) != state.StageDeferred || e.count(held, "circuit breaker is open") != 1 {
		t.Fatalf("held ticket: stage %s, comments %q", e.stage(held), e.comments(held))
	}
	e.clock.Add(time.Minute)
	e.poll()
	e.poll()
	var self []jiratest.Issue
	for _, is := range e.jira.Issues() {
		if slices.Contains(is.Labels, poller.SelfLabel) {
			self = append(self, is)
		}
	}
	if len(self) != 1 || !strings.Contains(self[0].Summary, "3 remediations failed in a row") || e.count(held, "circuit breaker") != 1 {
		t.Fatalf("self-alerts %v; comments on the held ticket %q", self, e.comments(held))
	}
	// A person fixes the cause and resets the breaker.
	e.resp.Actions = map[string]poller.Action{"iam.disable_access_key": e.action}
	if err := poller.ResetBreaker(context.Background(), e.db, "alice", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Minute)
	e.poll()
	if got := e.action.keys(); len(got) != 1 || got[0] != "AKIAKEY0000000000004" || e.stage(held) != state.StageDone {
		t.Fatalf("after the reset: applied %v, stage %s", got, e.stage(held))
	}
	if e.count(self[0].Key, "reset by alice") != 1 {
		t.Errorf("self-alert not cleared: %q", e.comments(self[0].Key))
	}
}

// TestFalsePositiveFeedback: a ticket resolved as a false positive gets a
// ready [[exception]] built from the alert's group_by values (owner: who
// resolved it; expires in 90 days) that loads and excepts the alert's
// results; true and false positives are counted per detection.
func TestFalsePositiveFeedback(t *testing.T) {
	e := newEnv(t, envOptions{mode: "off"})
	e.resp.FalsePositives = []string{"False Positive", "Won't Do"}
	e.search.add(keyEvent(e.clock.Now().Add(-10*time.Minute), "alice", "AKIA*LICE00000000001"), keyEvent(e.clock.Now().Add(-9*time.Minute), "bob", "AKIABOB0000000000002"))
	if _, err := e.detect(); err != nil {
		t.Fatal(err)
	}
	e.poll()
	keys := e.issueKeys()
	e.clock.Add(time.Hour)
	e.jira.Resolve(keys[0], "Done", "False Positive", "5b10ac8d82e05b22cc7d4eff")
	e.jira.Resolve(keys[1], "Done", "Done", approver)
	e.clock.Add(time.Minute)
	e.poll()
	e.clock.Add(time.Minute)
	e.poll()
	if n := e.count(keys[0], "[[exception]]"); n != 1 {
		t.Fatalf("%d snippets, want 1: %q", n, e.comments(keys[0]))
	}
	if e.count(keys[1], "[[exception]]") != 0 {
		t.Errorf("a true positive got a snippet")
	}
	var snippet string
	for _, c := range e.comments(keys[0]) {
		if i := strings.Index(c, "[[exception]]"); i >= 0 {
			snippet, _, _ = strings.Cut(c[i:], "\npatrol ref ") // the comment's last line, not the code block's
		}
	}
	for _, want := range []string{`"userIdentity.accessKeyId" = "AKIA\\*LICE00000000001"`, `owner   = "5b10ac8d82e05b22cc7d4eff"`, "expires = 2027-01-31", `ticket  = "` + keys[0] + `"`} {
		if !strings.Contains(snippet, want) {
			t.Errorf("snippet lacks %s:\n%s", want, snippet)
		}
	}
	// The snippet is a valid exception that excepts the alert's results,
	// and only them.
	path := filepath.Join(t.TempDir(), "d.toml")
	os.WriteFile(path, []byte(detectionTOML("off", "1h")+"\n"+snippet), 0o644)
	d, err := detections.LoadFile(path, detections.LoadOptions{Now: e.clock.Now})
	if err != nil {
		t.Fatalf("snippet does not load: %v\n%s", err, snippet)
	}
	tu := &tuning.Tuner{}
	if _, ok := tu.Except(d, keyEvent(e.clock.Now(), "alice", "AKIA*LICE00000000001"), e.clock.Now()); !ok {
		t.Error("the snippet does not except the alert's result")
	}
	if _, ok := tu.Except(d, keyEvent(e.clock.Now(), "alice", "AKIAXLICE00000000001"), e.clock.Now()); ok {
		t.Error("the snippet's * matched another key")
	}
	counts, err := e.db.VerdictCounts(context.Background(), e.clock.Now().Add(-30*24*time.Hour), time.Time{})
	if err != nil || counts["key-used"] != [2]int{1, 1} {
		t.Fatalf("verdicts %v %v", counts, err)
	}
}

// secondDeferred opens two auto-mode tickets (alice's and bob's leaked
// keys) under an hourly budget of one action: the first runs, the second
// is deferred. It returns both keys, the deferred one second.
func (e *env) secondDeferred(t *testing.T) []string {
	t.Helper()
	e.resp.Guard.MaxPerHour = 1
	e.search.add(keyEvent(e.clock.Now().Add(-10*time.Minute), "alice", "AKIAALICE00000000001"), keyEvent(e.clock.Now().Add(-9*time.Minute), "bob", "AKIABOB0000000000002"))
	if _, err := e.detect(); err != nil {
		t.Fatal(err)
	}
	e.poll()
	keys := e.alertKeys()
	if got := e.action.keys(); len(got) != 1 || e.stage(keys[1]) != state.StageDeferred {
		t.Fatalf("applied %v, second ticket %s", got, e.stage(keys[1]))
	}
	return keys
}
