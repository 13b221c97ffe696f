package state

import (
	"context"
	"testing"
	"time"
)

// TestMutedAlertsAndCounts: shadow and silenced alerts are recorded with
// what they need and counted; exception counts of a window searched again
// replace the window's, not add to them.
func TestMutedAlertsAndCounts(t *testing.T) {
	db, now := openTest(t)
	ctx := context.Background()
	w1 := now.Add(-time.Hour)
	c := WindowChange{
		New: []Alert{
			{Detection: "d", Fingerprint: "f1", FirstSeen: w1, LastSeen: w1, Count: 2, State: AlertSilenced, SilenceID: "maint", Result: "{}"},
			{Detection: "d", Fingerprint: "f2", FirstSeen: w1, LastSeen: w1, Count: 1, State: AlertSilenced, SilenceID: "maint", Result: "{}"},
			{Detection: "s", Fingerprint: "f3", FirstSeen: w1, LastSeen: w1, Count: 1, State: AlertShadow, Would: `{"summary":"x"}`, Result: "{}"},
		},
		Excepted: []ExceptionCount{{Detection: "d", Exception: "exc-1", WindowStart: w1, Count: 5, First: w1, Last: w1}},
	}
	if _, err := db.RecordWindow(ctx, c); err != nil {
		t.Fatal(err)
	}
	// The same window again (a retry) and another window.
	if _, err := db.RecordWindow(ctx, WindowChange{Excepted: []ExceptionCount{
		{Detection: "d", Exception: "exc-1", WindowStart: w1, Count: 5, First: w1, Last: w1},
		{Detection: "d", Exception: "exc-1", WindowStart: *now, Count: 1, First: *now, Last: *now},
	}}); err != nil {
		t.Fatal(err)
	}
	exc, err := db.ExceptionCounts(ctx, time.Time{}, time.Time{})
	if err != nil || len(exc) != 1 || exc[0].Results != 6 || !exc[0].Last.Equal(*now) {
		t.Fatalf("exception counts %+v %v", exc, err)
	}
	sil, err := db.SilenceCounts(ctx, time.Time{}, time.Time{})
	if err != nil || len(sil) != 1 || sil[0].Key != "maint" || sil[0].Alerts != 2 || sil[0].Results != 3 {
		t.Fatalf("silence counts %+v %v", sil, err)
	}
	sh, err := db.ShadowAlerts(ctx, "s")
	if err != nil || len(sh) != 1 || sh[0].Would != `{"summary":"x"}` || sh[0].Class() != "shadow" {
		t.Fatalf("shadow alerts %+v %v", sh, err)
	}
	if pending, _ := db.PendingAlerts(ctx, "d"); len(pending) != 0 {
		t.Errorf("muted alerts are pending: %+v", pending)
	}
	if counts, _ := db.AlertCounts(ctx); counts["d"] != [2]int{0, 0} {
		t.Errorf("muted alerts counted as open or pending: %v", counts)
	}
}

func TestVerdictsAndBreakerCounts(t *testing.T) {
	db, now := openTest(t)
	ctx := context.Background()
	for i, v := range []Verdict{
		{TicketKey: "A-1", Detection: "d", Resolution: "False Positive", FalsePositive: true, By: "alice", At: *now},
		{TicketKey: "A-2", Detection: "d", Resolution: "Done", At: *now},
		{TicketKey: "A-3", Detection: "d", Resolution: "Done", At: now.Add(-40 * 24 * time.Hour)},
		{TicketKey: "A-2", Detection: "d", Resolution: "False Positive", FalsePositive: true, At: *now}, // resolved again
	} {
		if _, err := db.Record(ctx, Change{Ticket: v.TicketKey, Verdict: &v}); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
	}
	counts, err := db.VerdictCounts(ctx, now.Add(-30*24*time.Hour), time.Time{})
	if err != nil || counts["d"] != [2]int{0, 2} {
		t.Fatalf("verdicts %v %v", counts, err)
	}
	if v, _ := db.TicketVerdict(ctx, "A-1"); v == nil || v.By != "alice" || !v.FalsePositive {
		t.Errorf("verdict %+v", v)
	}
	phases := []string{PhaseSucceeded, PhaseFailed, PhaseRefused, PhaseFailed}
	for i, p := range phases {
		if _, err := db.AppendAction(ctx, ActionEvent{Attempt: "x", TicketKey: "A-1", Action: "a", Target: "t", Phase: p, At: now.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	db.AppendAction(ctx, ActionEvent{Attempt: "y", TicketKey: "A-2", Action: "a", Target: "t", Phase: PhaseFailed, DryRun: true, At: now.Add(10 * time.Second)})
	if n, err := db.FailuresInARow(ctx, time.Time{}, 5); err != nil || n != 2 {
		t.Errorf("failures in a row %d %v, want 2 (refusals and dry runs do not count)", n, err)
	}
	if n, _ := db.FailuresInARow(ctx, now.Add(2*time.Second), 5); n != 1 {
		t.Errorf("failures after a reset: %d, want 1", n)
	}
}
