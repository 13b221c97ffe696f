package sequence_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/searchtest"
	"github.com/patrolsec/patrol/poller/sequence"
	"github.com/patrolsec/patrol/state"
)

var t0 = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

func newWorld(t testing.TB) *searchtest.Rig {
	return searchtest.NewRig(t, "testdata", t0, func(db *state.DB, _ poller.Searcher) []poller.Kind { return kinds(db) })
}

func kinds(db *state.DB) []poller.Kind {
	return []poller.Kind{&sequence.Engine{Store: db, Logger: searchtest.Quiet}}
}

func created(acct, key string) poller.Result {
	return poller.Result{"account": {acct}, "key": {key}, "user": {"svc-backup"}, "recipientAccountId": {acct}}
}

func used(acct, key, ip string) poller.Result {
	return poller.Result{"userIdentity.accountId": {acct}, "userIdentity.accessKeyId": {key}, "sourceIPAddress": {ip}}
}

func trail(acct, name string) poller.Result {
	return poller.Result{"recipientAccountId": {acct}, "trail": {name}}
}

// bothSteps is a world in which both steps of key-created-then-used have
// alerted, as of t0+1h.
func bothSteps(t *testing.T) *searchtest.Rig {
	w := newWorld(t)
	w.Backend.Add("key-created", t0.Add(10*time.Minute), created("111122223333", "AKIANEW"))
	w.Backend.Add("key-used", t0.Add(30*time.Minute), used("111122223333", "AKIANEW", "192.0.2.66"))
	w.Now = t0.Add(time.Hour)
	w.MustRun("key-created")
	w.MustRun("key-used")
	return w
}

// The second step's alert is recorded before the first's (the two
// detections run on their own schedules): the sequence still fires, once,
// on event time, and its ticket names both steps' tickets.
func TestSequenceStepsInAnyOrder(t *testing.T) {
	w := newWorld(t)
	w.Now = t0.Add(time.Hour)
	w.Backend.Add("key-used", t0.Add(30*time.Minute), used("111122223333", "AKIANEW", "192.0.2.66"))
	if n := w.MustRun("key-used"); n != 1 {
		t.Fatalf("key-used: %d alerts", n)
	}
	if n := w.MustRun("key-created-then-used"); n != 0 {
		t.Fatalf("sequence fired without its first step: %d", n)
	}
	w.Backend.Add("key-created", t0.Add(10*time.Minute), created("111122223333", "AKIANEW"))
	w.Now = w.Now.Add(5 * time.Minute)
	w.MustRun("key-created")
	if n := w.MustRun("key-created-then-used"); n != 1 {
		t.Fatalf("sequence: %d alerts, want 1", n)
	}
	for i := 0; i < 3; i++ {
		w.Now = w.Now.Add(10 * time.Minute)
		w.MustRun("key-created")
		w.MustRun("key-used")
		if n := w.MustRun("key-created-then-used"); n != 0 {
			t.Fatalf("run %d fired again: %d", i, n)
		}
	}
	rows, err := w.DB.LocalWithLabel(context.Background(), "patrol-det-key-created-then-used")
	if err != nil || len(rows) != 1 {
		t.Fatalf("sequence tickets: %d %v", len(rows), err)
	}
	seq := rows[0]
	for _, want := range []string{"Key AKIANEW created for svc-backup and used from 192.0.2.66", "1. key-created, first seen 2026-11-01T09:10:00Z, ticket LOCAL-2",
		"2. key-used, first seen 2026-11-01T09:30:00Z, ticket LOCAL-1"} {
		if !strings.Contains(seq.Summary+"\n"+seq.Description, want) {
			t.Errorf("sequence ticket lacks %q:\n%s\n%s", want, seq.Summary, seq.Description)
		}
	}
}

// patrol stops between the two steps; the new process still fires the
// sequence, once.
func TestSequenceSurvivesRestartBetweenSteps(t *testing.T) {
	w := newWorld(t)
	w.Backend.Add("key-created", t0.Add(10*time.Minute), created("111122223333", "AKIANEW"))
	w.Now = t0.Add(20 * time.Minute)
	w.MustRun("key-created")
	w.MustRun("key-used")
	if n := w.MustRun("key-created-then-used"); n != 0 {
		t.Fatalf("fired on the first step alone: %d", n)
	}
	w.Restart()
	w.Now = t0.Add(5 * time.Hour)
	w.Backend.Add("key-used", t0.Add(4*time.Hour), used("111122223333", "AKIANEW", "192.0.2.66"))
	w.MustRun("key-used")
	if n := w.MustRun("key-created-then-used"); n != 1 {
		t.Fatalf("after restart: %d alerts, want 1", n)
	}
	w.Restart()
	w.Now = w.Now.Add(time.Hour)
	if n := w.MustRun("key-created-then-used"); n != 0 {
		t.Fatalf("fired again after a second restart: %d", n)
	}
}

// After downtime the sequence catches up in chunks (max_window): the
// instance fires in one chunk only, and steps that happened further apart
// than within never join.
func TestSequenceCatchUpAndWithin(t *testing.T) {
	w := newWorld(t)
	seq := *w.Detections["key-created-then-used"]
	seq.MaxWindow = 10 * time.Minute
	w.Detections["key-created-then-used"] = &seq
	w.Now = t0
	w.MustRun("key-created") // checkpoints at t0; then patrol is down
	w.MustRun("key-used")
	w.MustRun("key-created-then-used")
	w.Backend.Add("key-created", t0.Add(10*time.Minute), created("111122223333", "AKIAONE"))
	w.Backend.Add("key-used", t0.Add(50*time.Minute), used("111122223333", "AKIAONE", "192.0.2.66"))
	w.Backend.Add("key-created", t0.Add(20*time.Minute), created("111122223333", "AKIATWO"))
	w.Backend.Add("key-used", t0.Add(26*time.Hour), used("111122223333", "AKIATWO", "192.0.2.66"))
	w.Now = t0.Add(27 * time.Hour)
	w.MustRun("key-used")
	w.MustRun("key-created")
	if n := w.MustRun("key-created-then-used"); n != 1 {
		t.Fatalf("catch-up: %d alerts, want 1 (AKIATWO was used 26h after, outside within)", n)
	}
	open, err := w.DB.SeqInstances(context.Background(), "key-created-then-used", state.SeqOpen, time.Time{}, time.Time{})
	if err != nil || len(open) != 0 {
		t.Errorf("instances still open once both steps' checkpoints passed the deadline: %+v %v", open, err)
	}
}

// A sequence alert whose ticket could not be made (tracker down) is made by
// the next run: the retried window emits the instance again, and only one
// ticket results.
func TestSequenceRetriedWindowEmitsAgain(t *testing.T) {
	w := bothSteps(t)
	w.FailCreate = true
	if _, err := w.Run("key-created-then-used"); err == nil {
		t.Fatal("want the tracker's error")
	}
	w.Now = w.Now.Add(5 * time.Minute)
	if n := w.MustRun("key-created-then-used"); n != 1 {
		t.Fatalf("retry: %d alerts, want 1", n)
	}
	w.Now = w.Now.Add(5 * time.Minute)
	if n := w.MustRun("key-created-then-used"); n != 0 {
		t.Fatalf("fired again: %d", n)
	}
}

// The absent form fires when time passes, not when a result comes: once the
// last step's detection has searched past the deadline without finding it.
func TestAbsentFiresWhenTimePasses(t *testing.T) {
	w := newWorld(t)
	w.Backend.Add("trail-stopped", t0.Add(5*time.Minute), trail("111122223333", "org-trail"))
	step := func(at time.Duration, startedRuns bool) int {
		w.Now = t0.Add(at)
		w.MustRun("trail-stopped")
		if startedRuns {
			w.MustRun("trail-started")
		}
		return w.MustRun("trail-not-restarted")
	}
	if n := step(10*time.Minute, true); n != 0 {
		t.Fatalf("fired before the deadline: %d", n)
	}
	if n := step(30*time.Minute, true); n != 0 {
		t.Fatalf("fired before the deadline (t0+35m): %d", n)
	}
	// The deadline has passed, but trail-started has not searched that far:
	// a restart may still be found.
	if n := step(50*time.Minute, false); n != 0 {
		t.Fatalf("fired before the last step's detection searched past the deadline: %d", n)
	}
	if n := step(55*time.Minute, true); n != 1 {
		t.Fatalf("deadline passed: %d alerts, want 1", n)
	}
	if n := step(2*time.Hour, true); n != 0 {
		t.Fatalf("fired again: %d", n)
	}
}

func TestAbsentQuietWhenTheStepComes(t *testing.T) {
	w := newWorld(t)
	w.Backend.Add("trail-stopped", t0.Add(5*time.Minute), trail("111122223333", "org-trail"))
	w.Backend.Add("trail-started", t0.Add(20*time.Minute), trail("111122223333", "org-trail"))
	// Another trail restarted in time does not count for this one.
	w.Backend.Add("trail-started", t0.Add(21*time.Minute), trail("111122223333", "other-trail"))
	for _, at := range []time.Duration{10 * time.Minute, 40 * time.Minute, 3 * time.Hour} {
		w.Now = t0.Add(at)
		w.MustRun("trail-stopped")
		w.MustRun("trail-started")
		if n := w.MustRun("trail-not-restarted"); n != 0 {
			t.Fatalf("at +%s: fired although the trail was restarted in time", at)
		}
	}
}

// A change to a sequence's definition (a reload) starts its open instances
// over and never fires one that fired.
func TestSequenceRedefined(t *testing.T) {
	w := bothSteps(t)
	if n := w.MustRun("key-created-then-used"); n != 1 {
		t.Fatalf("%d alerts", n)
	}
	changed := *w.Detections["key-created-then-used"]
	seq := *changed.Sequence
	seq.Within = 48 * time.Hour
	changed.Sequence = &seq
	w.Detections["key-created-then-used"] = &changed
	w.Now = w.Now.Add(time.Hour)
	w.MustRun("key-created")
	w.MustRun("key-used")
	if n := w.MustRun("key-created-then-used"); n != 0 {
		t.Fatalf("redefined sequence fired again: %d", n)
	}
}

// A step in the shadow stage opens no ticket, but its alerts are in the
// ledger: the sequence sees them and fires (its own ticket names no
// step ticket for that step).
func TestSequenceStepInShadowStage(t *testing.T) {
	w := newWorld(t)
	shadow := *w.Detections["key-used"]
	shadow.Stage = "shadow"
	w.Detections["key-used"] = &shadow
	w.Backend.Add("key-created", t0.Add(10*time.Minute), created("111122223333", "AKIANEW"))
	w.Backend.Add("key-used", t0.Add(30*time.Minute), used("111122223333", "AKIANEW", "192.0.2.66"))
	w.Now = t0.Add(time.Hour)
	w.MustRun("key-created")
	if n := w.MustRun("key-used"); n != 0 {
		t.Fatalf("the shadow step made %d tickets", n)
	}
	if n := w.MustRun("key-created-then-used"); n != 1 {
		t.Fatalf("sequence over a shadow step: %d alerts, want 1", n)
	}
}
