package state

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func openTest(t *testing.T) (*DB, *time.Time) {
	t.Helper()
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	db, err := Open(filepath.Join(t.TempDir(), "patrol.db"), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, &now
}

func TestMigrationsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	files, err := migrations.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		db, err := Open(path, nil)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		var n int
		if err := db.db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(files) {
			t.Fatalf("migrations recorded: %d %v", n, err)
		}
		db.Close()
	}
}

func TestLockIsExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	release, err := Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v, want ErrLocked", err)
	}
	release()
	again, err := Lock(path)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again()
}

func TestCheckpointAndHits(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	if _, ok, err := db.Checkpoint(ctx, "d"); ok || err != nil {
		t.Fatalf("fresh checkpoint: %v %v", ok, err)
	}
	t1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t2 := t1.Add(time.Minute)
	if err := db.AddHits(ctx, "d", []Hit{{Fingerprint: "b", Count: 1, First: t2, Last: t2, Result: `{"x":["2"]}`}, {Fingerprint: "a", Count: 1, First: t1, Last: t1, Result: `{}`}}); err != nil {
		t.Fatal(err)
	}
	if err := db.AddHits(ctx, "d", []Hit{{Fingerprint: "b", Count: 2, First: t1, Last: t1, Result: `{"x":["1"]}`}}); err != nil {
		t.Fatal(err)
	}
	hits, err := db.Hits(ctx, "d", nil, 10)
	if err != nil || len(hits) != 2 {
		t.Fatalf("hits: %v %v", hits, err)
	}
	b := hits[1] // ordered by first sight: a (t1) then b (t1, later fingerprint)
	if b.Fingerprint != "b" || b.Count != 3 || !b.First.Equal(t1) || !b.Last.Equal(t2) || b.Result != `{"x":["2"]}` {
		t.Errorf("aggregated hit: %+v", b)
	}
	if page, _ := db.Hits(ctx, "d", &hits[0], 10); len(page) != 1 || page[0].Fingerprint != "b" {
		t.Errorf("paging: %+v", page)
	}
	if err := db.CompleteWindow(ctx, "d", t2); err != nil {
		t.Fatal(err)
	}
	if cp, ok, _ := db.Checkpoint(ctx, "d"); !ok || !cp.Equal(t2) {
		t.Errorf("checkpoint %v %v", cp, ok)
	}
	if hits, _ := db.Hits(ctx, "d", nil, 10); len(hits) != 0 {
		t.Errorf("staging not cleared: %v", hits)
	}
}

func TestRecordRepeatReplacesReplayedWindow(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	w1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, err := db.CreatePendingAlert(ctx, Alert{Detection: "d", Fingerprint: "f", FirstSeen: w1, LastSeen: w1, Count: 1, WindowStart: w1, WindowCount: 1, Result: "{}"})
	if err != nil {
		t.Fatal(err)
	}
	w2 := w1.Add(time.Hour)
	for _, n := range []int{5, 5, 7} { // the window w2 handled, retried, retried with more results
		if err := db.RecordRepeat(ctx, a.ID, w2, n, w2, w2); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := db.LatestAlert(ctx, "f")
	if got.Count != 8 {
		t.Errorf("count = %d, want 1 + 7", got.Count)
	}
	w3 := w2.Add(time.Hour)
	db.RecordRepeat(ctx, a.ID, w3, 2, w3, w3)
	if got, _ := db.LatestAlert(ctx, "f"); got.Count != 10 || !got.LastSeen.Equal(w3) {
		t.Errorf("after next window: %+v", got)
	}
	second, _ := db.CreatePendingAlert(ctx, Alert{Detection: "d", Fingerprint: "f", FirstSeen: w3, LastSeen: w3, Count: 1, WindowStart: w3, WindowCount: 1, Result: "{}"})
	if second.Generation != 2 {
		t.Errorf("generation = %d", second.Generation)
	}
}

func TestOpenAlertWritesLedgerAndOutbox(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	a, _ := db.CreatePendingAlert(ctx, Alert{Detection: "d", Fingerprint: "f", Result: "{}"})
	if err := db.OpenAlert(ctx, a.ID, TicketRow{Key: "SEC-1", ID: "100", Detection: "d", Fingerprint: "f", Labels: []string{"patrol"}}, []string{"n1", "n2"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.AlertByTicket(ctx, "SEC-1"); got == nil || got.State != AlertOpen {
		t.Fatalf("alert: %+v", got)
	}
	if keys, _ := db.KnownTicketKeys(ctx, "f"); !keys["SEC-1"] {
		t.Errorf("known keys: %v", keys)
	}
	tr, _ := db.Ticket(ctx, "SEC-1")
	if tr == nil || tr.Stage != StageNew || tr.Labels[0] != "patrol" {
		t.Fatalf("ticket row: %+v", tr)
	}
	items, _ := db.PendingOutbox(ctx, 10)
	if len(items) != 2 || items[0].Payload != "n1" {
		t.Fatalf("outbox: %+v", items)
	}
	db.OutboxFailed(ctx, items[0].ID, "boom")
	db.OutboxSent(ctx, items[1].ID)
	if items, _ := db.PendingOutbox(ctx, 10); len(items) != 1 || items[0].Attempts != 1 || items[0].LastError != "boom" {
		t.Errorf("after send: %+v", items)
	}
}

func TestActionsBudget(t *testing.T) {
	ctx := context.Background()
	db, now := openTest(t)
	for i, ev := range []ActionEvent{
		{Attempt: "a", Phase: PhaseStarted},
		{Attempt: "b", Phase: PhaseStarted, DryRun: true},
		{Attempt: "c", Phase: PhasePlanned},
		{Attempt: "d", Phase: PhaseStarted, At: now.Add(-2 * time.Hour)},
	} {
		ev.TicketKey, ev.Action, ev.Target = "T-1", "x", string(rune('a'+i))
		if _, err := db.AppendAction(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := db.StartedSince(ctx, now.Add(-time.Hour)); n != 1 {
		t.Errorf("started in the last hour = %d, want 1", n)
	}
	if evs, _ := db.TicketActions(ctx, "T-1"); len(evs) != 4 {
		t.Errorf("ticket actions: %d", len(evs))
	}
}

func TestLocalTickets(t *testing.T) {
	ctx := context.Background()
	db, now := openTest(t)
	a, err := db.LocalCreate(ctx, "LOCAL", LocalTicket{Summary: "s", Status: "Open", Labels: []string{"patrol", "patrol-fp-1"}})
	if err != nil || a.Key != "LOCAL-1" {
		t.Fatalf("create: %+v %v", a, err)
	}
	*now = now.Add(time.Minute)
	b, _ := db.LocalCreate(ctx, "LOCAL", LocalTicket{Summary: "t", Status: "Open", Labels: []string{"patrol"}})
	if found, _ := db.LocalWithLabel(ctx, "patrol-fp-1"); len(found) != 1 || found[0].Key != "LOCAL-1" {
		t.Errorf("with label: %+v", found)
	}
	*now = now.Add(time.Minute)
	if err := db.LocalAddLabel(ctx, a.Key, "patrol-approve", "alice"); err != nil {
		t.Fatal(err)
	}
	db.LocalAddLabel(ctx, a.Key, "patrol-approve", "bob") // label already there: recorded, not duplicated
	got, _ := db.LocalGet(ctx, a.Key)
	if len(got.Labels) != 3 {
		t.Errorf("labels: %v", got.Labels)
	}
	evs, _ := db.LocalEvents(ctx, a.Key, EventLabelAdded)
	if len(evs) != 2 || evs[0].By != "alice" {
		t.Errorf("events: %+v", evs)
	}
	since, _ := db.LocalUpdatedSince(ctx, "patrol", b.Updated)
	if len(since) != 2 || since[0].Key != b.Key || since[1].Key != a.Key {
		t.Errorf("updated since (ordered by update): %+v", since)
	}
	if err := db.LocalComment(ctx, "LOCAL-99", "x", "y"); !errors.Is(err, ErrNoTicket) {
		t.Errorf("comment on missing ticket: %v", err)
	}
}

func TestPruneKeepsLatestAndAuditTrail(t *testing.T) {
	ctx := context.Background()
	db, now := openTest(t)
	for i, errText := range []string{"", "boom", "", "boom"} {
		id, _ := db.StartRun(ctx, Run{Job: "detect", Detection: "d"})
		db.FinishRun(Run{ID: id, Error: errText})
		_ = i
	}
	db.AppendAction(ctx, ActionEvent{Attempt: "a", TicketKey: "T", Action: "x", Target: "y", Phase: PhaseSucceeded})
	db.Enqueue(ctx, "T", "note")
	items, _ := db.PendingOutbox(ctx, 1)
	db.OutboxSent(ctx, items[0].ID)
	*now = now.Add(100 * 24 * time.Hour)
	n, err := db.Prune(ctx, now.Add(-90*24*time.Hour))
	if err != nil || n != 3 { // two runs (the latest and the latest success stay) and one sent notification
		t.Fatalf("pruned %d, %v", n, err)
	}
	runs, _ := db.LastRuns(ctx)
	if len(runs) != 1 || runs[0].LastError != "boom" || runs[0].LastSuccess.IsZero() {
		t.Errorf("last runs after prune: %+v", runs)
	}
	if evs, _ := db.TicketActions(ctx, "T"); len(evs) != 1 {
		t.Error("the action ledger was pruned")
	}
}
