package poller_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/splunk"
	"github.com/patrolsec/patrol/poller/splunk/splunktest"
	"github.com/patrolsec/patrol/state"
)

// TestDeferredExternalTicketKeepsItsFields: a ticket another system made,
// held back by the hourly budget, is retried from the ledger with the
// fields patrol first read, not failed for want of them.
func TestDeferredExternalTicketKeepsItsFields(t *testing.T) {
	e := newEnv(t, envOptions{mode: "auto"})
	e.resp.AutoForExternal = true
	e.resp.Guard.MaxPerHour = 1
	e.db.AppendAction(context.Background(), state.ActionEvent{Attempt: "other", TicketKey: "SEC-0", Action: "x", Target: "y", Phase: state.PhaseStarted})
	key := e.external("alice", "AKIAALICE00000000001")
	e.clock.Add(time.Minute)
	if err := e.poll(); err != nil {
		t.Fatal(err)
	}
	if e.stage(key) != state.StageDeferred {
		t.Fatalf("stage = %s (%q)", e.stage(key), e.comments(key))
	}
	e.clock.Add(time.Hour)
	if err := e.poll(); err != nil {
		t.Fatal(err)
	}
	if got := e.action.keys(); len(got) != 1 || got[0] != "AKIAALICE00000000001" || e.stage(key) != state.StageDone {
		t.Errorf("after the hour: applied %v, stage %s", got, e.stage(key))
	}
}

// TestSuppressionPerResultTime: repeats farther apart than suppress inside
// one long (catch-up) window open new alerts; a window searched again after
// a failure counts nothing twice.
func TestSuppressionPerResultTime(t *testing.T) {
	e := newEnv(t, envOptions{mode: "off", suppress: "1h"})
	ctx := context.Background()
	end := e.clock.Now().Add(-time.Minute)
	e.db.CompleteWindow(ctx, e.det.ID, end.Add(-5*time.Hour)) // down for 5 hours
	base := end.Add(-4 * time.Hour)
	for _, d := range []time.Duration{0, 10 * time.Minute, 59 * time.Minute, 90 * time.Minute, 100 * time.Minute, 3 * time.Hour} {
		e.search.add(keyEvent(base.Add(d), "alice", "AKIAALICE00000000001"))
	}
	fp := poller.Fingerprint(e.det.ID, e.det.GroupBy, keyEvent(base, "alice", "AKIAALICE00000000001"))
	want := []int{3, 2, 1} // generations: at 0 (0, 10m, 59m), at 90m (90m, 100m), at 3h
	check := func(when string) {
		t.Helper()
		gens, _ := e.db.Generations(ctx, fp)
		var got []int
		for _, g := range gens {
			got = append(got, g.Count)
		}
		if len(got) != len(want) || len(e.jira.Issues()) != len(want) {
			t.Fatalf("%s: generations %v, issues %d; want counts %v", when, got, len(e.jira.Issues()), want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: counts %v, want %v", when, got, want)
			}
		}
	}
	if _, err := e.detect(); err != nil {
		t.Fatal(err)
	}
	check("first run")
	// The same span searched again (a checkpoint write lost, say).
	e.db.CompleteWindow(ctx, e.det.ID, end.Add(-5*time.Hour))
	if _, err := e.detect(); err != nil {
		t.Fatal(err)
	}
	check("window searched again")
}

// TestUndoRefusedLeavesItAvailable: an undo refused before it changed
// anything (dry run, here) is recorded, and the undo can be asked for again.
func TestUndoRefusedLeavesItAvailable(t *testing.T) {
	e := newEnv(t, envOptions{})
	rev := &reverter{keyAction: e.action, err: poller.NothingChanged{Err: errors.New("revert: aws.dry_run is on; nothing changed")}}
	e.resp.Actions["iam.disable_access_key"] = rev
	key := e.ownTicket()
	e.approve(key)
	e.poll()
	evs, _ := e.db.TicketActions(context.Background(), key)
	id := evs[len(evs)-1].ID
	if _, err := e.resp.Undo(context.Background(), id, "alice"); err == nil || !strings.Contains(err.Error(), "may be asked for again") {
		t.Fatalf("refused undo: %v", err)
	}
	rev.err = nil
	if _, err := e.resp.Undo(context.Background(), id, "alice"); err != nil {
		t.Fatalf("undo after the refusal: %v", err)
	}
	if got := e.phases(key); !strings.HasSuffix(got, "revert_started,revert_refused,revert_started,reverted") {
		t.Errorf("phases = %s", got)
	}
	if _, err := e.resp.Undo(context.Background(), id, "alice"); err == nil || !strings.Contains(err.Error(), "already undone") {
		t.Errorf("third undo: %v", err)
	}
	if n := rev.reverts; n != 2 {
		t.Errorf("Revert called %d times", n)
	}
}

type reverter struct {
	*keyAction
	err     error
	reverts int
}

func (r *reverter) Revert(ctx context.Context, p poller.Plan, snapshot string) (poller.Outcome, error) {
	r.reverts++
	return poller.Outcome{Detail: "key active again", Verified: r.err == nil}, r.err
}

// TestQueuedUndoCarriedOut: an undo queued in the state file (by `patrol
// undo` beside a running daemon) is carried out on the next pass.
func TestQueuedUndoCarriedOut(t *testing.T) {
	e := newEnv(t, envOptions{})
	rev := &reverter{keyAction: e.action}
	e.resp.Actions["iam.disable_access_key"] = rev
	key := e.ownTicket()
	e.approve(key)
	e.poll()
	evs, _ := e.db.TicketActions(context.Background(), key)
	if _, err := e.db.RequestUndo(context.Background(), evs[len(evs)-1].ID, "alice"); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Minute)
	e.poll()
	undos, _ := e.db.RecentUndos(context.Background(), 5)
	if len(undos) != 1 || undos[0].Result != poller.UndoDone || rev.reverts != 1 || e.count(key, "undone at the request of alice") != 1 {
		t.Errorf("undo requests %+v, reverts %d, comments %q", undos, rev.reverts, e.comments(key))
	}
}

// TestSplunkPartialResultsKeepTheCheckpoint: a job whose messages say a
// search peer was down fails the window through the real Splunk client;
// the checkpoint stays and the span is searched again.
func TestSplunkPartialResultsKeepTheCheckpoint(t *testing.T) {
	e := newEnv(t, envOptions{mode: "off"})
	fake := splunktest.New(t, splunktest.Options{Token: "splunk-token", Now: e.clock.Now})
	t.Setenv("T_SPLUNK_TOKEN", "splunk-token")
	cfg := splunk.Defaults()
	cfg.URL, cfg.TokenEnv, cfg.AllowInsecureHTTP = fake.URL, "T_SPLUNK_TOKEN", true
	s, err := splunk.New(cfg, "", nil, splunk.WithSleep(func(ctx context.Context, d time.Duration) error { return ctx.Err() }))
	if err != nil {
		t.Fatal(err)
	}
	e.detector.Searcher = s
	ctx := context.Background()
	start := e.clock.Now().Add(-time.Hour)
	e.db.CompleteWindow(ctx, e.det.ID, start)
	fake.PlanJobs(splunktest.JobPlan{Messages: []splunktest.Message{{Type: "WARN", Text: "The following search peers are down: idx2. Search results might be incomplete."}}})
	if _, err := e.detect(); err == nil || !strings.Contains(err.Error(), "results may be incomplete") {
		t.Fatalf("err = %v", err)
	}
	if cp, _, _ := e.db.Checkpoint(ctx, e.det.ID); !cp.Equal(start) {
		t.Errorf("checkpoint moved to %v", cp)
	}
	if _, err := e.detect(); err != nil {
		t.Fatal(err)
	}
	if cp, _, _ := e.db.Checkpoint(ctx, e.det.ID); !cp.After(start) {
		t.Errorf("checkpoint did not move after a complete search: %v", cp)
	}
}
