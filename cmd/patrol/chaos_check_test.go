package main

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/patrolsec/patrol/poller/jira/jiratest"
	"github.com/patrolsec/patrol/state"
)

// What a settled ticket's comments say of its remediation.
const (
	saysDone     = "done and verified"
	saysReadBack = "shows the change in place"
	saysNotThere = "NOT in place"
)

// check asserts what a settled world must show, and returns its figures.
func (w *chaosWorld) check() chaosFigures {
	t := w.t
	t.Helper()
	before := w.snapshot()
	w.run(nil) // settled means settled: another run changes nothing
	if after := w.snapshot(); after != before {
		t.Errorf("seed %d: a run after everything settled changed something:\nbefore %s\nafter  %s\n%s", w.seed, before, after, w.lastOut)
	}
	for _, line := range strings.Split(w.lastOut, "\n") {
		if (strings.HasPrefix(line, "respond ") || strings.HasPrefix(line, "detect ")) && !strings.HasSuffix(line, " ok") {
			t.Errorf("seed %d: the last run failed: %s\n%s", w.seed, line, w.lastOut)
		}
	}
	f := w.figures
	f.seeds = 1

	// One ticket per alert, and per self-alert problem.
	f.duplicates = fingerprintDuplicates(w.jira)
	if f.duplicates != 0 {
		t.Errorf("seed %d: %d duplicate tickets", w.seed, f.duplicates)
	}
	for _, is := range w.jira.Issues() {
		if !hasLabel(is.Labels, "patrol-self") {
			continue
		}
		f.selfAlerts++
		if is.Summary != "patrol: data stopped arriving for e2e-quiet" {
			// A run that only waits for the index, or was killed, is not
			// a failed run: nothing but the quiet source raises one.
			t.Errorf("seed %d: self-alert %s %q", w.seed, is.Key, is.Summary)
		}
	}

	if f.selfAlerts != 1 {
		t.Errorf("seed %d: %d self-alerts about the quiet source, want 1", w.seed, f.selfAlerts)
	}

	// Every resource fixed, or handed to a person with the true reason.
	for _, trail := range w.trails {
		st, err := w.ct.GetTrailStatus(context.Background(), &cloudtrail.GetTrailStatusInput{Name: aws.String(trail)})
		if err != nil {
			t.Fatal(err)
		}
		w.outcome(&f, "e2e-stop-logging", trail, aws.ToBool(st.IsLogging))
	}
	for i, key := range w.keys {
		w.outcome(&f, "e2e-external-key", key, keyStatus(t, w.ic, w.users[i], key) == "Inactive")
	}

	// A person gets a ticket only when the kill fell after the action
	// marked its send and before AWS had the call: a read-back cannot say
	// whether that call will still be made.
	if f.handed > f.inFlight {
		t.Errorf("seed %d: %d tickets handed to a person, but only %d kills could have fallen while a write was in flight", w.seed, f.handed, f.inFlight)
	}

	// No AWS write reached AWS twice for one target.
	for call, n := range w.aws.doubles() {
		f.doubles += n - 1
		t.Errorf("seed %d: %s reached AWS %d times", w.seed, call, n)
	}

	// Nothing lost from the outbox, nothing set aside.
	db := w.db()
	defer db.Close()
	if q, _ := db.PendingOutbox(context.Background(), 10); len(q) != 0 {
		t.Errorf("seed %d: still queued: %+v", w.seed, q)
	}
	if dead, _ := db.DeadLetters(context.Background(), 10); len(dead) != 0 {
		t.Errorf("seed %d: dead letters: %+v", w.seed, dead)
	}
	return f
}

// outcome checks the one ticket about target (a trail or an access key):
// its comments, each at most once, and its end agree with the resource.
func (w *chaosWorld) outcome(f *chaosFigures, det, target string, fixed bool) {
	t := w.t
	t.Helper()
	var found []jiratest.Issue
	for _, is := range w.jira.Issues() {
		if hasLabel(is.Labels, "patrol-det-"+det) && strings.Contains(is.Summary, target) {
			found = append(found, is)
		}
	}
	if len(found) != 1 {
		t.Errorf("seed %d: %d tickets about %s", w.seed, len(found), target)
		return
	}
	is := found[0]
	var comments []string
	for _, c := range is.Comments {
		comments = append(comments, jiratest.PlainText(c.Body))
	}
	n := func(s string) int { return countContaining(comments, s) }
	db := w.db()
	row, _ := db.Ticket(context.Background(), is.Key)
	db.Close()
	stage := ""
	if row != nil {
		stage = row.Stage
	}
	problem := ""
	switch {
	case n("cannot be planned") > 0:
		problem = "failed for missing fields"
	case n("Enrichment") != 1:
		problem = fmt.Sprintf("%d enrichment comments", n("Enrichment"))
	case det == "e2e-external-key" && n("Plan digest:") != 1:
		problem = fmt.Sprintf("%d plan comments", n("Plan digest:"))
	case fixed && (n(saysDone)+n(saysReadBack) != 1 || n(saysNotThere) != 0 || stage != state.StageDone || is.Status != "Done"):
		problem = "fixed, but the ticket does not say so once and close"
	case !fixed && (n(saysNotThere) != 1 || stage != state.StageFailed || is.Status == "Done"):
		problem = "not fixed, and the ticket does not hand it to a person with the read-back"
	}
	if problem != "" {
		t.Errorf("seed %d: %s (%s, stage %q, status %s): %s\ncomments: %q", w.seed, is.Key, target, stage, is.Status, problem, comments)
		return
	}
	if fixed {
		f.fixed++
	} else {
		f.handed++
	}
	if w.slackAbout(is.Key) == 0 {
		t.Errorf("seed %d: no Slack message about %s", w.seed, is.Key)
	}
}

// slackAbout counts the Slack messages that name ticket key.
func (w *chaosWorld) slackAbout(key string) int {
	n := 0
	for _, m := range w.slack.Messages() {
		if strings.Contains(m.Text+string(m.Blocks), key) {
			n++
		}
	}
	return n
}

// snapshot sums up what patrol did outside its state: issues, comments,
// labels, statuses, AWS writes.
func (w *chaosWorld) snapshot() string {
	var b strings.Builder
	for _, is := range w.jira.Issues() {
		fmt.Fprintf(&b, "%s:%s:%d:%d ", is.Key, is.Status, len(is.Comments), len(is.Labels))
	}
	w.aws.mu.Lock()
	keys := slices.Sorted(maps.Keys(w.aws.writes))
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%d ", k, w.aws.writes[k])
	}
	w.aws.mu.Unlock()
	return b.String()
}

// db opens the state file between runs.
func (w *chaosWorld) db() *state.DB {
	w.t.Helper()
	db, err := state.Open(filepath.Join(filepath.Dir(w.conf), "patrol.db"), nil)
	if err != nil {
		w.t.Fatal(err)
	}
	return db
}

// settled: every alert of the remediating detections has its ticket, each
// ticket is done or handed to a person, and nothing is queued.
func (w *chaosWorld) settled() bool {
	db := w.db()
	defer db.Close()
	ctx := context.Background()
	counts, err := db.AlertCounts(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	if counts["patrol"][1] != 0 {
		return false // a self-alert waits for its ticket
	}
	for det, want := range map[string]int{"e2e-stop-logging": len(w.trails), "e2e-external-key": len(w.keys)} {
		gens := counts[det]
		if gens[1] != 0 {
			return false
		}
		rows, _ := db.TicketsInStage(ctx)
		n := 0
		for _, r := range rows {
			if r.Detection != det {
				continue
			}
			if r.Stage != state.StageDone && r.Stage != state.StageFailed {
				return false
			}
			n++
		}
		if n != want {
			return false
		}
	}
	q, err := db.PendingOutbox(ctx, 10)
	return err == nil && len(q) == 0
}

// state describes the ledger for a failure message.
func (w *chaosWorld) state() string {
	db := w.db()
	defer db.Close()
	ctx := context.Background()
	var b strings.Builder
	counts, _ := db.AlertCounts(ctx)
	fmt.Fprintf(&b, "alerts (open, pending) per detection: %v\n", counts)
	rows, _ := db.TicketsInStage(ctx)
	for _, r := range rows {
		fmt.Fprintf(&b, "ticket %s %s stage %s: %s\n", r.Key, r.Detection, r.Stage, r.Note)
	}
	q, _ := db.PendingOutbox(ctx, 50)
	for _, it := range q {
		fmt.Fprintf(&b, "queued %s %s (attempts %d): %s\n", it.Kind, it.TicketKey, it.Attempts, it.LastError)
	}
	return b.String()
}
