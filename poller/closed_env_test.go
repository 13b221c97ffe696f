package poller_test

// A remediation whose ticket a person closed before it ran, through the
// real respond job, the real Jira client against the fake and a real
// state file.

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/jira"
	"github.com/patrolsec/patrol/state"
)

// cancelledLine starts the comment and the note of a remediation
// cancelled because its ticket was closed.
const cancelledLine = "Remediation cancelled: the ticket was closed"

// TestClosedTicketCancelsItsRemediation: a ticket closed while its action
// waits (a grace period, the hourly budget, the circuit breaker, an
// approver) never starts it, not even when the wait ends or an approval
// arrives after the close: the remediation is cancelled with one comment
// and leaves the lists of waiting tickets. Reopened, the ticket does not
// resume the action by itself: the plan is posted again and only an
// approval given after the reopen runs it.
func TestClosedTicketCancelsItsRemediation(t *testing.T) {
	graced := func(t *testing.T, o envOptions) (*env, string) {
		e, key := graceEnv(t, o)
		e.poll()
		if e.stage(key) != state.StageGrace {
			t.Fatalf("stage %s, want grace", e.stage(key))
		}
		return e, key
	}
	budgeted := func(t *testing.T, o envOptions) (*env, string) {
		o.mode = "auto"
		e := newEnv(t, o)
		keys := e.secondDeferred(t)
		e.action.mu.Lock()
		e.action.applied = nil // the first ticket's run is not the one under test
		e.action.mu.Unlock()
		return e, keys[1]
	}
	cases := []struct {
		name string
		// setup makes the ticket whose action waits and returns its key.
		setup func(t *testing.T, o envOptions) (*env, string)
		// after runs after the close, before the first pass that sees it:
		// that pass is also the one that would run the action.
		after func(t *testing.T, e *env, key string)
		// lag is how long Jira's search lags behind writes (no reconcile):
		// the close is not searchable when the action would run.
		lag time.Duration
	}{{
		name:  "grace period",
		setup: graced,
		after: func(t *testing.T, e *env, key string) { e.clock.Add(20 * time.Minute) },
	}, {
		name:  "grace period, the close not yet searchable",
		setup: graced,
		after: func(t *testing.T, e *env, key string) { e.clock.Add(20 * time.Minute) },
		lag:   30 * time.Minute,
	}, {
		name:  "hourly budget",
		setup: budgeted,
		after: func(t *testing.T, e *env, key string) { e.clock.Add(2 * time.Hour) },
	}, {
		name:  "hourly budget, the close not yet searchable",
		setup: budgeted,
		after: func(t *testing.T, e *env, key string) { e.clock.Add(2 * time.Hour) },
		lag:   3 * time.Hour,
	}, {
		name: "circuit breaker",
		setup: func(t *testing.T, o envOptions) (*env, string) {
			o.mode = "auto"
			e := newEnv(t, o)
			e.resp.Actions = map[string]poller.Action{"iam.disable_access_key": &failingAction{}}
			e.resp.Guard.BreakerFailures = 1
			e.search.add(keyEvent(e.clock.Now().Add(-10*time.Minute), "alice", "AKIAALICE00000000001"), keyEvent(e.clock.Now().Add(-9*time.Minute), "bob", "AKIABOB0000000000002"))
			if _, err := e.detect(); err != nil {
				t.Fatal(err)
			}
			e.poll()
			keys := e.alertKeys()
			if e.stage(keys[1]) != state.StageDeferred || e.count(keys[1], "circuit breaker is open") != 1 {
				t.Fatalf("second ticket %s, comments %q", e.stage(keys[1]), e.comments(keys[1]))
			}
			return e, keys[1]
		},
		after: func(t *testing.T, e *env, key string) {
			// The cause is fixed and a person resets the breaker (patrol resume).
			e.resp.Actions = map[string]poller.Action{"iam.disable_access_key": e.action}
			if err := poller.ResetBreaker(context.Background(), e.db, "alice", e.clock.Now()); err != nil {
				t.Fatal(err)
			}
			e.clock.Add(time.Minute)
		},
	}, {
		name: "approval",
		setup: func(t *testing.T, o envOptions) (*env, string) {
			e := newEnv(t, o)
			e.search.add(keyEvent(e.clock.Now().Add(-10*time.Minute), "alice", "AKIAALICE00000000001"))
			if _, err := e.detect(); err != nil {
				t.Fatal(err)
			}
			e.poll()
			key := e.issueKeys()[0]
			if e.stage(key) != state.StageApproval {
				t.Fatalf("stage %s, want approval", e.stage(key))
			}
			return e, key
		},
		after: func(t *testing.T, e *env, key string) {
			// An approver, not seeing the ticket is closed, approves it.
			e.jira.AddLabel(key, "patrol-approve", approver)
			e.clock.Add(time.Minute)
		},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var o envOptions
			if c.lag > 0 {
				o.jira.IndexLag, o.jiraConfig = c.lag, func(jc *jira.Config) { jc.Reconcile = false }
			}
			e, key := c.setup(t, o)
			e.resp.FalsePositives = []string{"False Positive"}
			e.clock.Add(time.Minute)
			if err := e.jira.Resolve(key, "Done", "False Positive", "bob"); err != nil {
				t.Fatal(err)
			}
			e.clock.Add(time.Minute)
			c.after(t, e, key)
			e.poll()
			e.clock.Add(time.Minute)
			e.poll()
			if got := e.action.keys(); len(got) != 0 {
				t.Fatalf("the action ran on a closed ticket: %v", got)
			}
			row, err := e.db.Ticket(context.Background(), key)
			if err != nil {
				t.Fatal(err)
			}
			if row.Stage != state.StageDone || !strings.HasPrefix(row.Note, cancelledLine) || e.count(key, cancelledLine) != 1 {
				t.Fatalf("stage %s, note %q, comments %q", row.Stage, row.Note, e.comments(key))
			}
			if c.lag == 0 && e.count(key, "[[exception]]") != 1 {
				t.Errorf("no false-positive snippet: %q", e.comments(key))
			}
			if e.phases(key) != "" {
				t.Errorf("action ledger of a cancelled remediation: %s", e.phases(key))
			}
			waiting, err := e.db.TicketsInStage(context.Background(), state.StageApproval, state.StageDeferred, state.StageGrace, state.StageNew)
			if err != nil {
				t.Fatal(err)
			}
			if slices.ContainsFunc(waiting, func(r state.TicketRow) bool { return r.Key == key }) {
				t.Errorf("%s is still listed as waiting", key)
			}

			// Reopened: the plan is posted again and waits for a fresh
			// approval; a label added while it was closed does not count.
			e.clock.Add(time.Minute)
			if err := e.jira.Resolve(key, "To Do", "", "bob"); err != nil {
				t.Fatal(err)
			}
			e.clock.Add(time.Minute + c.lag)
			e.poll()
			e.clock.Add(30 * time.Minute)
			e.poll()
			if got := e.action.keys(); len(got) != 0 || e.stage(key) != state.StageApproval || e.count(key, "was reopened") != 1 {
				t.Fatalf("after the reopen: applied %v, stage %s, comments %q", got, e.stage(key), e.comments(key))
			}
			e.jira.RemoveLabel(key, "patrol-approve", approver)
			e.clock.Add(time.Minute)
			e.jira.AddLabel(key, "patrol-approve", approver)
			e.clock.Add(time.Minute + c.lag)
			e.poll()
			if got := e.action.keys(); len(got) != 1 || e.stage(key) != state.StageDone {
				t.Fatalf("approved after the reopen: applied %v, stage %s, comments %q", got, e.stage(key), e.comments(key))
			}
			if e.count(key, cancelledLine) != 1 {
				t.Errorf("cancelled comment posted %d times", e.count(key, cancelledLine))
			}
		})
	}
}

// TestApproveClickOnClosedTicket: an Approve click in the chat on the plan
// of a ticket closed since (before any poll saw it) runs nothing and
// records no approval; the next poll cancels the remediation.
func TestApproveClickOnClosedTicket(t *testing.T) {
	e, key := pendingTicket(t)
	msg, _ := e.buttons(t, key)
	e.clock.Add(time.Minute)
	if err := e.jira.Resolve(key, "Done", "Done", "bob"); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Minute)
	e.press(t, msg, "patrol_approve", alice, "")
	waitUntil(t, "alice is told", func() bool { return len(e.slack.Ephemerals()) == 1 })
	if txt := e.slack.Ephemerals()[0].Text; !strings.Contains(txt, "is closed") || !strings.Contains(txt, "Nothing was changed") {
		t.Errorf("ephemeral %q", txt)
	}
	if apps, _ := e.db.Approvals(context.Background(), key); len(e.action.keys()) != 0 || len(apps) != 0 {
		t.Fatalf("the click on a closed ticket counted: applied %v, approvals %+v", e.action.keys(), apps)
	}
	if err := e.poll(); err != nil {
		t.Fatal(err)
	}
	if len(e.action.keys()) != 0 || e.stage(key) != state.StageDone || e.count(key, cancelledLine) != 1 {
		t.Fatalf("after the poll: applied %v, stage %s, comments %q", e.action.keys(), e.stage(key), e.comments(key))
	}
}

// TestClosedTicketLeftWaitingIsCancelled: a ticket the ledger already
// knows is closed but left waiting for approval (as a patrol that did not
// cancel such remediations left it), and not updated since, is cancelled
// on the next pass and leaves the pending approvals.
func TestClosedTicketLeftWaitingIsCancelled(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	e.search.add(keyEvent(e.clock.Now().Add(-10*time.Minute), "alice", "AKIAALICE00000000001"))
	if _, err := e.detect(); err != nil {
		t.Fatal(err)
	}
	e.poll()
	key := e.issueKeys()[0]
	e.clock.Add(time.Minute)
	if err := e.jira.Resolve(key, "Done", "Won't Do", "bob"); err != nil {
		t.Fatal(err)
	}
	// The earlier patrol's poll recorded the close and moved its watermark.
	is, _ := e.jira.Issue(key)
	row, err := e.db.Ticket(ctx, key)
	if err != nil || row.Stage != state.StageApproval {
		t.Fatalf("ledger row %+v %v", row, err)
	}
	row.Done, row.Status, row.Resolution = true, is.Status, is.Resolution
	if err := e.db.UpsertTicket(ctx, *row); err != nil {
		t.Fatal(err)
	}
	if err := e.db.UpdateTicket(ctx, key, state.TicketUpdate{UpdatedSeen: &is.Updated}); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Hour)
	if err := e.db.SetMetaTime(ctx, "respond_watermark", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := e.poll(); err != nil {
		t.Fatal(err)
	}
	if e.stage(key) != state.StageDone || e.count(key, cancelledLine+` (status "Done", resolution "Won't Do")`) != 1 {
		t.Fatalf("stage %s, comments %q", e.stage(key), e.comments(key))
	}
	e.poll()
	if e.count(key, cancelledLine) != 1 {
		t.Errorf("comments %q", e.comments(key))
	}
}
