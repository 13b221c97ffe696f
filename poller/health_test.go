package poller

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/state"
)

func withHealth(h *harness) *Health {
	hl := &Health{Tracker: h.tracker, Store: h.store, Label: "patrol", FailuresBeforeAlert: 3, MaxLag: 2 * time.Hour,
		Runs: h.db.FailuresInRow, Now: h.clock.Now, Logger: h.detector.Logger}
	h.detector.Health = hl
	return hl
}

func TestFreshnessAlertRaisedOnceAndCleared(t *testing.T) {
	h := newHarness(t, "")
	withHealth(h)
	h.det.Freshness = 30 * time.Minute
	h.det.FreshnessSearch = "sourcetype=aws:cloudtrail"
	// No events at all: one "data stopped arriving" ticket, however many runs.
	for i := 0; i < 3; i++ {
		if _, err := h.detect(); err != nil {
			t.Fatal(err)
		}
		h.clock.Add(5 * time.Minute)
	}
	if h.tracker.count() != 1 {
		t.Fatalf("tickets = %d, want 1", h.tracker.count())
	}
	tk := h.tracker.ticket("SEC-1")
	if !strings.Contains(tk.Summary, "data stopped arriving for ct-stop") || !tk.HasLabel(SelfLabel) {
		t.Errorf("self-alert: %+v", tk.Ticket)
	}
	if len(h.notifier.sent) != 1 {
		t.Errorf("notifications = %d", len(h.notifier.sent))
	}
	// The alert ledger names the problem, for the report.
	if a, err := h.db.AlertByTicket(context.Background(), "SEC-1"); err != nil || a == nil || a.Detection != SelfDetection || !strings.Contains(a.Result, `"problem":["stale:ct-stop"]`) {
		t.Errorf("ledger row: %+v %v", a, err)
	}
	// Data arrives (any event of the source, even one that is not a hit): cleared once.
	h.search.add(event{at: h.clock.Now().Add(-10 * time.Minute), fields: Result{"eventName": {"DescribeInstances"}}})
	h.detect()
	h.detect()
	if c := h.tracker.comments("SEC-1"); len(c) != 1 || !strings.Contains(c[0], "arriving again") {
		t.Errorf("comments = %q", c)
	}
	// Silence again: a new alert.
	h.clock.Add(2 * time.Hour)
	h.detect()
	if h.tracker.count() != 2 {
		t.Errorf("tickets after second silence = %d", h.tracker.count())
	}
}

func TestFailingDetectionAlertDeduped(t *testing.T) {
	h := newHarness(t, "")
	withHealth(h)
	h.search.err = errors.New("splunk: 401 Unauthorized")
	for i := 0; i < 6; i++ {
		h.detect()
		h.clock.Add(5 * time.Minute)
	}
	if h.tracker.count() != 1 {
		t.Fatalf("tickets = %d, want one self-alert", h.tracker.count())
	}
	if s := h.tracker.ticket("SEC-1").Summary; !strings.Contains(s, "failed 3 runs in a row") {
		t.Errorf("summary = %q", s)
	}
	h.search.err = nil
	if _, err := h.detect(); err != nil {
		t.Fatal(err)
	}
	if c := h.tracker.comments("SEC-1"); len(c) != 1 || !strings.Contains(c[0], "successfully again") {
		t.Errorf("comments = %q", c)
	}
}

func TestLaggingCheckpointAlert(t *testing.T) {
	h := newHarness(t, "")
	hl := withHealth(h)
	ctx := context.Background()
	h.db.CompleteWindow(ctx, h.det.ID, h.clock.Now().Add(-3*time.Hour))
	if err := hl.AfterRun(ctx, h.det, nil); err != nil {
		t.Fatal(err)
	}
	hl.AfterRun(ctx, h.det, nil)
	if h.tracker.count() != 1 || !strings.Contains(h.tracker.ticket("SEC-1").Summary, "behind") {
		t.Fatalf("tickets = %d", h.tracker.count())
	}
	h.db.CompleteWindow(ctx, h.det.ID, h.clock.Now())
	hl.AfterRun(ctx, h.det, nil)
	h.detector.FlushOutbox(ctx)
	if c := h.tracker.comments("SEC-1"); len(c) != 1 {
		t.Errorf("comments = %q", c)
	}
}

func TestRecoveryWaitsForTrackerIndex(t *testing.T) {
	h := newHarness(t, "")
	h.detector.IndexLag = time.Minute
	h.search.add(stop(h.clock.Now().Add(-5*time.Minute), "main"))
	h.tracker.lostCreate = true
	h.detect()
	h.tracker.lostCreate = false
	h.tracker.hidden["SEC-1"] = true // created, not yet visible to search
	if st, err := h.detect(); err != nil || st.Waiting != 1 {
		t.Fatalf("rerun inside the lag: %+v, %v (waiting is not a failure)", st, err)
	}
	h.clock.Add(2 * time.Minute)
	delete(h.tracker.hidden, "SEC-1") // indexed by now
	if _, err := h.detect(); err != nil {
		t.Fatal(err)
	}
	if h.tracker.creates != 1 {
		t.Errorf("creates = %d, want 1", h.tracker.creates)
	}
}

func TestFailingRespondAlertDeduped(t *testing.T) {
	h := newHarness(t, "")
	hl := withHealth(h)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		id, _ := h.db.StartRun(ctx, state.Run{Job: "respond"})
		h.db.FinishRun(state.Run{ID: id, Error: "jira: 401"})
		if err := hl.AfterRespond(ctx, errors.New("jira: 401")); err != nil {
			t.Fatal(err)
		}
	}
	if h.tracker.count() != 1 || !strings.Contains(h.tracker.ticket("SEC-1").Summary, "respond job failed 3 runs in a row") {
		t.Fatalf("tickets = %d", h.tracker.count())
	}
	hl.AfterRespond(ctx, nil)
	h.detector.FlushOutbox(ctx)
	if c := h.tracker.comments("SEC-1"); len(c) != 1 {
		t.Errorf("comments = %q", c)
	}
}
