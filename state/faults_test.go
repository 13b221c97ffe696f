package state

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

// TestLastRunsCountsOnlyFinishedRuns: a run that never finished (patrol
// killed in the middle) is neither the last run nor a success, and does
// not hide the failure before it.
func TestLastRunsCountsOnlyFinishedRuns(t *testing.T) {
	ctx := context.Background()
	db, now := openTest(t)
	ok, _ := db.StartRun(ctx, Run{Job: "detect", Detection: "d"})
	db.FinishRun(Run{ID: ok})
	*now = now.Add(time.Minute)
	bad, _ := db.StartRun(ctx, Run{Job: "detect", Detection: "d"})
	db.FinishRun(Run{ID: bad, Error: "search failed"})
	*now = now.Add(time.Minute)
	db.StartRun(ctx, Run{Job: "detect", Detection: "d"}) // killed: never finished
	runs, err := db.LastRuns(ctx)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs: %+v %v", runs, err)
	}
	r := runs[0]
	if r.LastError != "search failed" || r.FailuresInRow != 1 || r.LastSuccess.IsZero() || r.Unfinished.IsZero() || !r.LastStart.Before(r.Unfinished) {
		t.Errorf("summary: %+v", r)
	}
	if n, _ := db.FailuresInRow(ctx, "detect", "d"); n != 1 {
		t.Errorf("failures in a row = %d", n)
	}

	// Pruning keeps the latest finished success, not the unfinished run.
	*now = now.Add(100 * 24 * time.Hour)
	if _, err := db.Prune(ctx, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if runs, _ := db.LastRuns(ctx); len(runs) != 1 || runs[0].LastSuccess.IsZero() || runs[0].LastError != "search failed" {
		t.Errorf("after prune: %+v", runs)
	}
}

// TestDurableTxLeavesConnectionsNormal: a durable transaction syncs at
// its commit and hands its connection back with synchronous=NORMAL, so
// every other commit keeps NORMAL's speed.
func TestDurableTxLeavesConnectionsNormal(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	db.db.SetMaxOpenConns(1) // the same connection every time
	if _, err := db.CreatePendingAlert(ctx, Alert{Detection: "d", Fingerprint: "f", Result: "{}"}); err != nil {
		t.Fatal(err)
	}
	var mode int
	if err := db.db.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&mode); err != nil || mode != 1 {
		t.Errorf("synchronous after a durable transaction = %d (%v), want 1 (NORMAL)", mode, err)
	}
	var inside int
	err := db.durableTx(ctx, func(tx *sql.Tx) error { return tx.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&inside) })
	if err != nil || inside != 2 {
		t.Errorf("synchronous inside a durable transaction = %d (%v), want 2 (FULL)", inside, err)
	}
}

// TestRecoverAfterHostRestart: the marks written before a ticket create
// are NORMAL commits, which a host crash may lose. When the host has
// booted since, pending alerts without a mark are treated as if their
// create had been in flight; a restart of patrol alone changes nothing.
func TestRecoverAfterHostRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "p.db")
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	db, err := Open(path, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.bootID = "boot-1"
	if err := db.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	a, _ := db.CreatePendingAlert(ctx, Alert{Detection: "d", Fingerprint: "f", Result: "{}"})
	db.EnqueueDeliveries(ctx, Delivery{TicketKey: "SEC-1", Kind: DeliverComment, Payload: "{}"}, Delivery{TicketKey: "SEC-1", Kind: DeliverNotify, Payload: "{}"})
	if err := db.Recover(ctx); err != nil { // patrol restarted, same boot
		t.Fatal(err)
	}
	if got, _ := db.LatestAlert(ctx, "f"); !got.CreateUnknownAt.IsZero() {
		t.Fatalf("same boot marked the alert: %+v", got)
	}
	db.bootID = "boot-2"
	now = now.Add(time.Minute)
	if err := db.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.LatestAlert(ctx, "f"); !got.CreateUnknownAt.Equal(now) || got.ID != a.ID {
		t.Errorf("after a host restart: %+v", got)
	}
	// A queued comment's attempt may have been lost with the host: it is
	// looked for before it is sent again. Chat messages are not.
	q, _ := db.PendingOutbox(ctx, 10)
	if len(q) != 2 || !q[0].Sending.Equal(now) || !q[1].Sending.IsZero() {
		t.Errorf("outbox after a host restart: %+v", q)
	}
}
