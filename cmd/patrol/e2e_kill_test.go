package main

import (
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller/aws/awstest"
	"github.com/patrolsec/patrol/state"
)

// The defects of issue 21, each at one fixed kill point, with real patrol
// processes killed with SIGKILL (the chaos test's world and proxies).

// killAt runs patrol once, killed at p.
func (w *chaosWorld) killAt(p killPoint) {
	w.t.Helper()
	if w.run(&p); w.figures.kills != 1 {
		w.t.Fatalf("patrol was not killed %s\n%s", p, w.lastOut)
	}
}

// ticketAbout returns the comments and the ledger stage of the one ticket
// whose summary names target.
func (w *chaosWorld) ticketAbout(target string) (string, []string, string) {
	w.t.Helper()
	for _, is := range w.jira.Issues() {
		if strings.Contains(is.Summary, target) {
			db := w.db()
			row, _ := db.Ticket(w.t.Context(), is.Key)
			db.Close()
			if row == nil {
				w.t.Fatalf("%s is not in the ledger", is.Key)
			}
			return is.Status, jiraComments(w.jira, is.Key), row.Stage
		}
	}
	w.t.Fatalf("no ticket about %s", target)
	return "", nil, ""
}

// TestEndToEndKillAroundTheChange: patrol killed while its action runs.
// After AWS started the trail's logging and before patrol heard so, the
// next run reads the trail back: the ticket says the change is in place and
// closes, no one asked to check by hand. After the action's start was
// recorded but while it assumed its role (before StartLogging went out),
// the change was never sent, so the next run makes it and the ticket
// closes without a person. StartLogging reaches AWS once either way.
func TestEndToEndKillAroundTheChange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		kill killPoint
		says string
	}{
		{"after AWS made it", killPoint{class: "aws write", nth: 1, after: true}, "shows the change in place"},
		{"before it was sent", killPoint{class: "aws read", nth: 1}, "done and verified"}, // AssumeRole
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newChaosWorld(t, awstest.URL(t), 0, 1, 0)
			w.happen(1, 2*time.Second)
			w.killAt(tt.kill)
			w.recover()
			status, comments, stage := w.ticketAbout(w.trails[0])
			if countContaining(comments, tt.says) != 1 || countContaining(comments, "by hand") != 0 || stage != state.StageDone || status != "Done" {
				t.Errorf("status %s, stage %s, comments %q", status, stage, comments)
			}
			if n := w.aws.writeCount("StartLogging " + w.trails[0]); n != 1 {
				t.Errorf("StartLogging reached AWS %d times", n)
			}
		})
	}
}

// TestEndToEndQuickRestartsAfterKillDuringCreate: patrol killed after
// Jira made an alert's issue and before patrol recorded it, then
// restarted three times at once. Each run succeeds (waiting for the index
// is not a failure, and the respond job adopts the issue for its pending
// alert instead of failing it), so no "failed N runs in a row" self-alert;
// one issue, remediated.
func TestEndToEndQuickRestartsAfterKillDuringCreate(t *testing.T) {
	t.Parallel()
	w := newChaosWorld(t, awstest.URL(t), 0, 1, 0)
	w.happen(1, 2*time.Second)
	w.killAt(killPoint{class: "jira create", nth: 1, after: true})
	for i := 0; i < 3; i++ {
		w.run(nil)
		if w.lastExit != exitOK {
			t.Fatalf("restart %d: exit %d\n%s", i+1, w.lastExit, w.lastOut)
		}
	}
	w.recover()
	status, comments, stage := w.ticketAbout(w.trails[0])
	if countContaining(comments, "cannot be planned") != 0 || countContaining(comments, "done and verified") != 1 || stage != state.StageDone || status != "Done" {
		t.Errorf("status %s, stage %s, comments %q", status, stage, comments)
	}
	for _, is := range w.jira.Issues() {
		if strings.Contains(is.Summary, "failed") {
			t.Errorf("self-alert %s: %s", is.Key, is.Summary)
		}
	}
	if d := fingerprintDuplicates(w.jira); d != 0 || len(w.jira.Issues()) != 2 { // the trail's, the quiet source's
		t.Errorf("%d issues, %d duplicates", len(w.jira.Issues()), d)
	}
}

// TestEndToEndKillDuringSelfAlertCreate: patrol killed after Jira made a
// self-alert's issue and before patrol recorded it; quick restarts raise
// the same problem again. It has one issue.
func TestEndToEndKillDuringSelfAlertCreate(t *testing.T) {
	t.Parallel()
	w := newChaosWorld(t, awstest.URL(t), 0, 0, 0) // only the quiet source
	w.killAt(killPoint{class: "jira create", nth: 1, after: true})
	for i := 0; i < 3; i++ {
		w.run(nil)
	}
	waitFor(t, "the self-alert to be recorded", 30*time.Second, func() bool {
		w.run(nil)
		return w.settled()
	})
	if n := len(w.jira.Issues()); n != 1 || fingerprintDuplicates(w.jira) != 0 {
		t.Errorf("self-alert issues = %d, want 1", n)
	}
}
