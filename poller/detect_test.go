package poller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestWindowArithmetic(t *testing.T) {
	now := newClock().Now()
	end := now.Add(-2 * time.Minute)
	tests := []struct {
		name       string
		checkpoint time.Time // zero: none
		firstAll   bool
		want       []Window
	}{
		{name: "first run uses lookback", want: []Window{{end.Add(-15 * time.Minute), end}}},
		{name: "from checkpoint to now minus settle", checkpoint: now.Add(-time.Hour), want: []Window{{now.Add(-time.Hour), end}}},
		{name: "downtime is searched in bounded chunks", checkpoint: now.Add(-13 * time.Hour), want: []Window{
			{now.Add(-13 * time.Hour), now.Add(-7 * time.Hour)},
			{now.Add(-7 * time.Hour), now.Add(-1 * time.Hour)},
			{now.Add(-1 * time.Hour), end},
		}},
		{name: "first run over all data", firstAll: true, want: []Window{{time.Time{}, end}}},
		{name: "checkpoint ahead of settle: nothing to search", checkpoint: now.Add(-time.Minute)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "")
			h.detector.FirstRunAll = tc.firstAll
			if !tc.checkpoint.IsZero() {
				if err := h.db.CompleteWindow(context.Background(), h.det.ID, tc.checkpoint); err != nil {
					t.Fatal(err)
				}
			}
			st, err := h.detect()
			if err != nil {
				t.Fatal(err)
			}
			if len(h.search.windows) != len(tc.want) || st.Windows != len(tc.want) {
				t.Fatalf("windows = %v, want %v", h.search.windows, tc.want)
			}
			for i, w := range tc.want {
				if got := h.search.windows[i]; !got.Start.Equal(w.Start) || !got.End.Equal(w.End) {
					t.Errorf("window %d = %v, want %v", i, got, w)
				}
			}
			if len(tc.want) > 0 {
				if cp := h.checkpoint(); !cp.Equal(end) {
					t.Errorf("checkpoint = %v, want %v", cp, end)
				}
			}
		})
	}
}

func TestChunkedCatchUpKeepsProgress(t *testing.T) {
	h := newHarness(t, "")
	now := h.clock.Now()
	h.db.CompleteWindow(context.Background(), h.det.ID, now.Add(-13*time.Hour))
	h.search.add(stop(now.Add(-12*time.Hour), "a"), stop(now.Add(-3*time.Hour), "b"))
	h.search.failAfter = 0 // the second chunk's search fails...
	calls := 0
	real := h.search
	h.detector.Searcher = searcherFunc(func(ctx context.Context, q Query, emit func(Result) error) error {
		calls++
		if calls == 2 {
			return errors.New("splunk: 503 quota")
		}
		real.failAfter = -1
		return real.Search(ctx, q, emit)
	})
	if _, err := h.detect(); err == nil {
		t.Fatal("want error from the second chunk")
	}
	// ...so the checkpoint stands at the end of the first chunk, which made its ticket.
	if cp := h.checkpoint(); !cp.Equal(now.Add(-7 * time.Hour)) {
		t.Errorf("checkpoint = %v", cp)
	}
	if h.tracker.count() != 1 {
		t.Errorf("tickets = %d", h.tracker.count())
	}
	h.detector.Searcher = real
	if _, err := h.detect(); err != nil {
		t.Fatal(err)
	}
	if h.tracker.count() != 2 || !h.checkpoint().Equal(now.Add(-2*time.Minute)) {
		t.Errorf("after retry: %d tickets, checkpoint %v", h.tracker.count(), h.checkpoint())
	}
}

type searcherFunc func(ctx context.Context, q Query, emit func(Result) error) error

func (f searcherFunc) Search(ctx context.Context, q Query, emit func(Result) error) error {
	return f(ctx, q, emit)
}

func TestCheckpointUnchangedOnFailure(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name   string
		break_ func(h *harness)
		fix    func(h *harness)
		// recorded: every result is in the ledger (pending alerts) when
		// the failure happens, so the checkpoint moves and the next run
		// makes the tickets from the ledger.
		recorded bool
	}{
		{"search fails", func(h *harness) { h.search.err = boom }, func(h *harness) { h.search.err = nil }, false},
		{"search fails after some results", func(h *harness) { h.search.failAfter = 1 }, func(h *harness) { h.search.failAfter = -1 }, false},
		{"staging write fails", func(h *harness) { h.store.set("AddHits", boom) }, func(h *harness) { h.store.set("AddHits", nil) }, false},
		{"alert write fails", func(h *harness) { h.store.set("CreatePendingAlert", boom) }, func(h *harness) { h.store.set("CreatePendingAlert", nil) }, false},
		{"ticket create fails", func(h *harness) { h.tracker.failCreate = boom }, func(h *harness) { h.tracker.failCreate = nil }, true},
		{"ticket record fails", func(h *harness) { h.store.set("OpenAlert", boom) }, func(h *harness) { h.store.set("OpenAlert", nil) }, true},
		{"checkpoint write fails", func(h *harness) { h.store.set("CompleteWindow", boom) }, func(h *harness) { h.store.set("CompleteWindow", nil) }, false},
		{"run is cancelled", func(h *harness) { h.search.err = context.Canceled }, func(h *harness) { h.search.err = nil }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "")
			now := h.clock.Now()
			start := now.Add(-time.Hour)
			h.db.CompleteWindow(context.Background(), h.det.ID, start)
			h.search.add(stop(now.Add(-30*time.Minute), "main"), stop(now.Add(-20*time.Minute), "main"), stop(now.Add(-10*time.Minute), "other"))
			tc.break_(h)
			if _, err := h.detect(); err == nil {
				t.Fatal("want an error")
			}
			if cp := h.checkpoint(); tc.recorded != !cp.Equal(start) {
				t.Fatalf("checkpoint at %v (from %v), want it moved: %v", cp, start, tc.recorded)
			}
			runs, _ := h.db.LastRuns(context.Background())
			if len(runs) != 1 || runs[0].LastError == "" {
				t.Errorf("run history: %+v", runs)
			}
			tc.fix(h)
			if _, err := h.detect(); err != nil {
				t.Fatal(err)
			}
			if got := h.tracker.count(); got != 2 {
				t.Errorf("tickets after recovery = %d, want 2 (one per fingerprint)", got)
			}
			a, _ := h.db.LatestAlert(context.Background(), Fingerprint(h.det.ID, h.det.GroupBy, stop(now, "main").fields))
			if a == nil || a.Count != 2 {
				t.Errorf("alert count = %+v, want 2 (a retried window is not counted twice)", a)
			}
			if cp := h.checkpoint(); !cp.Equal(now.Add(-2 * time.Minute)) {
				t.Errorf("checkpoint after recovery = %v", cp)
			}
		})
	}
}

func TestOneTicketAcrossCrash(t *testing.T) {
	boom := errors.New("crash")
	tests := []struct {
		name   string
		crash  func(h *harness)
		resume func(h *harness)
	}{
		{"before the ticket is created", func(h *harness) { h.tracker.failCreate = boom }, func(h *harness) { h.tracker.failCreate = nil }},
		{"ticket created, its answer lost", func(h *harness) { h.tracker.lostCreate = true }, func(h *harness) { h.tracker.lostCreate = false }},
		{"ticket created, state write lost", func(h *harness) { h.store.set("OpenAlert", boom) }, func(h *harness) { h.store.set("OpenAlert", nil) }},
		{"alerts recorded, checkpoint lost", func(h *harness) { h.store.set("CompleteWindow", boom) }, func(h *harness) { h.store.set("CompleteWindow", nil) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "")
			h.search.add(stop(h.clock.Now().Add(-5*time.Minute), "main"))
			tc.crash(h)
			if _, err := h.detect(); err == nil {
				t.Fatal("want the crash to surface as an error")
			}
			tc.resume(h)
			for i := 0; i < 2; i++ { // the rerun, and one more for good measure
				if _, err := h.detect(); err != nil {
					t.Fatalf("rerun %d: %v", i, err)
				}
			}
			if h.tracker.count() != 1 {
				t.Fatalf("tickets = %d, want 1", h.tracker.count())
			}
			fp := Fingerprint(h.det.ID, h.det.GroupBy, stop(time.Time{}, "main").fields)
			if !h.tracker.ticket("SEC-1").HasLabel(FingerprintLabel(fp)) {
				t.Error("ticket lacks its fingerprint label")
			}
			a, _ := h.db.LatestAlert(context.Background(), fp)
			if a.TicketKey != "SEC-1" || a.State != "open" || a.Count != 1 {
				t.Errorf("alert: %+v", a)
			}
		})
	}
}

func TestRecoveryNeverCreatesWhileTrackerCannotSay(t *testing.T) {
	h := newHarness(t, "")
	h.search.add(stop(h.clock.Now().Add(-5*time.Minute), "main"))
	h.tracker.lostCreate = true
	h.detect()
	h.tracker.lostCreate = false
	h.tracker.failFind = errors.New("jira: 503")
	_, err := h.detect()
	if err == nil || !strings.Contains(err.Error(), "not creating") {
		t.Fatalf("err = %v", err)
	}
	if h.tracker.creates != 1 {
		t.Fatalf("creates = %d", h.tracker.creates)
	}
}

func TestSuppression(t *testing.T) {
	h := newHarness(t, "")
	ctx := context.Background()
	now := h.clock.Now()
	h.search.add(stop(now.Add(-5*time.Minute), "main"))
	h.detect()
	fp := Fingerprint(h.det.ID, h.det.GroupBy, stop(now, "main").fields)

	// Repeats inside suppress (1h): the alert is updated, the ticket gets one comment.
	for i := 0; i < 3; i++ {
		h.clock.Add(10 * time.Minute)
		h.search.add(stop(h.clock.Now().Add(-5*time.Minute), "main"), stop(h.clock.Now().Add(-4*time.Minute), "main"))
		if _, err := h.detect(); err != nil {
			t.Fatal(err)
		}
	}
	if h.tracker.count() != 1 {
		t.Fatalf("tickets = %d, want 1", h.tracker.count())
	}
	a, _ := h.db.LatestAlert(ctx, fp)
	if a.Count != 7 || a.Generation != 1 {
		t.Errorf("alert = %+v, want count 7", a)
	}
	if c := h.tracker.comments("SEC-1"); len(c) != 1 || !strings.Contains(c[0], "Seen again") {
		t.Errorf("comments = %q, want one repeat comment", c)
	}
	// After suppress, a repeat is a new alert with its own ticket.
	h.clock.Add(2 * time.Hour)
	h.search.add(stop(h.clock.Now().Add(-5*time.Minute), "main"))
	if _, err := h.detect(); err != nil {
		t.Fatal(err)
	}
	if h.tracker.count() != 2 {
		t.Fatalf("tickets = %d, want 2", h.tracker.count())
	}
	if a, _ := h.db.LatestAlert(ctx, fp); a.Generation != 2 || a.TicketKey != "SEC-2" {
		t.Errorf("second generation: %+v", a)
	}
}

func TestGroupByMakesOneAlertPerValueSet(t *testing.T) {
	h := newHarness(t, "")
	now := h.clock.Now()
	h.search.add(stop(now.Add(-9*time.Minute), "a"), stop(now.Add(-8*time.Minute), "b"), stop(now.Add(-7*time.Minute), "a"))
	st, err := h.detect()
	if err != nil {
		t.Fatal(err)
	}
	if st.Results != 3 || st.Alerts != 2 || h.tracker.count() != 2 {
		t.Errorf("stats %+v, tickets %d", st, h.tracker.count())
	}
	tk := h.tracker.ticket("SEC-1")
	if tk.Summary != "CloudTrail StopLogging on a" || tk.route.Component != "Payments" {
		t.Errorf("ticket: %+v route %+v", tk.Ticket, tk.route)
	}
	for _, l := range []string{"patrol", "patrol-det-ct-stop"} {
		if !tk.HasLabel(l) {
			t.Errorf("missing label %s in %v", l, tk.Labels)
		}
	}
	if len(h.notifier.sent) != 2 || h.notifier.sent[0].Channel != "#pay" {
		t.Errorf("notifications: %+v", h.notifier.sent)
	}
}

func TestNotificationsQueuedUntilSent(t *testing.T) {
	h := newHarness(t, "")
	h.search.add(stop(h.clock.Now().Add(-5*time.Minute), "main"))
	h.notifier.fail = errors.New("slack: 500")
	_, err := h.detect()
	if err == nil || !strings.Contains(err.Error(), "notify") {
		t.Fatalf("err = %v", err)
	}
	if !h.checkpoint().Equal(h.clock.Now().Add(-2 * time.Minute)) {
		t.Error("a notification failure must not hold the checkpoint: the outbox keeps it")
	}
	h.notifier.fail = nil
	if err := h.detector.FlushOutbox(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(h.notifier.sent) != 1 {
		t.Fatalf("sent = %d", len(h.notifier.sent))
	}
	row, _ := h.db.Ticket(context.Background(), "SEC-1")
	if row.Thread != "thread-SEC-1" {
		t.Errorf("thread not stored: %+v", row)
	}
	h.detector.FlushOutbox(context.Background())
	if len(h.notifier.sent) != 1 {
		t.Error("a sent notification was sent again")
	}
}

func TestConcurrentFlushesSendOnce(t *testing.T) {
	h := newHarness(t, "")
	h.search.add(stop(h.clock.Now().Add(-5*time.Minute), "a"), stop(h.clock.Now().Add(-4*time.Minute), "b"))
	h.notifier.fail = errors.New("down")
	h.detect()
	h.notifier.fail = nil
	done := make(chan struct{})
	for i := 0; i < 4; i++ {
		go func() { h.detector.FlushOutbox(context.Background()); done <- struct{}{} }()
	}
	for i := 0; i < 4; i++ {
		<-done
	}
	if len(h.notifier.sent) != 2 {
		t.Errorf("sent %d notifications, want 2", len(h.notifier.sent))
	}
}

func TestFloodOfNewAlertsMakesNoTickets(t *testing.T) {
	h := newHarness(t, "")
	withHealth(h)
	h.detector.MaxNewAlerts = 2
	start := h.clock.Now().Add(-time.Hour)
	h.db.CompleteWindow(context.Background(), h.det.ID, start)
	for i := 0; i < 3; i++ {
		h.search.add(stop(h.clock.Now().Add(-time.Duration(10+i)*time.Minute), fmt.Sprintf("trail-%d", i)))
	}
	_, err := h.detect()
	if err == nil || !strings.Contains(err.Error(), "more than detections.max_new_alerts (2)") {
		t.Fatalf("err = %v", err)
	}
	if h.tracker.count() != 1 || !h.tracker.ticket("SEC-1").HasLabel(SelfLabel) {
		t.Fatalf("tickets = %d, want only the self-alert", h.tracker.count())
	}
	if !h.checkpoint().Equal(start) {
		t.Error("checkpoint moved past a refused window")
	}
	// Raised once, however often the window is refused.
	h.detect()
	if h.tracker.count() != 1 {
		t.Errorf("tickets = %d", h.tracker.count())
	}
	// The limit raised: the window is searched again and every alert gets its ticket.
	h.detector.MaxNewAlerts = 10
	if _, err := h.detect(); err != nil {
		t.Fatal(err)
	}
	if h.tracker.count() != 4 {
		t.Errorf("tickets = %d, want the self-alert and 3", h.tracker.count())
	}
	if c := h.tracker.comments("SEC-1"); len(c) != 1 {
		t.Errorf("self-alert not cleared: %q", c)
	}
}
