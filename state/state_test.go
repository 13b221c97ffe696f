package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
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
	for i := 0; i < 2; i++ {
		db, err := Open(path, nil)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		entries, _ := migrations.ReadDir("migrations")
		var n int
		if err := db.db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(entries) {
			t.Fatalf("migrations recorded: %d of %d %v", n, len(entries), err)
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
	if err := db.AddHits(ctx, "d", []Hit{{Fingerprint: "b", Count: 2, First: t1, Last: t1, Result: `{"x":["1"]}`},
		{Fingerprint: "b", Count: 1, First: t2.Add(300 * time.Millisecond), Last: t2.Add(300 * time.Millisecond), Result: `{"x":["3"]}`}}); err != nil {
		t.Fatal(err)
	}
	hits, err := db.Hits(ctx, "d", nil, 10)
	if err != nil || len(hits) != 3 {
		t.Fatalf("hits: %v %v", hits, err)
	}
	// Ordered by first sight: a (t1), b (t1, later fingerprint), b (t2):
	// results of one fingerprint aggregate per second.
	b1, b2 := hits[1], hits[2]
	if b1.Fingerprint != "b" || b1.Count != 2 || !b1.First.Equal(t1) || !b1.At.Equal(t1) || b1.Result != `{"x":["1"]}` {
		t.Errorf("first second of b: %+v", b1)
	}
	if b2.Fingerprint != "b" || b2.Count != 2 || !b2.First.Equal(t2) || !b2.Last.Equal(t2.Add(300*time.Millisecond)) || b2.Result != `{"x":["2"]}` {
		t.Errorf("second second of b: %+v", b2)
	}
	if page, _ := db.Hits(ctx, "d", &hits[0], 10); len(page) != 2 || page[0].Fingerprint != "b" {
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
	ds := []Delivery{{TicketKey: "SEC-1", Payload: "n1"}, {TicketKey: "SEC-1", Kind: DeliverComment, Payload: "n2"}}
	if err := db.OpenAlert(ctx, a.ID, TicketRow{Key: "SEC-1", ID: "100", Detection: "d", Fingerprint: "f", Labels: []string{"patrol"}}, ds); err != nil {
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
	if len(items) != 2 || items[0].Payload != "n1" || items[0].Kind != DeliverNotify || items[1].Kind != DeliverComment {
		t.Fatalf("outbox: %+v", items)
	}
	db.OutboxFailed(ctx, items[0].ID, "boom")
	db.OutboxDead(ctx, items[1].ID, "400 Bad Request")
	if items, _ := db.PendingOutbox(ctx, 10); len(items) != 1 || items[0].Attempts != 1 || items[0].LastError != "boom" {
		t.Errorf("after send: %+v", items)
	}
	if dead, _ := db.DeadLetters(ctx, 10); len(dead) != 1 || dead[0].Kind != DeliverComment || dead[0].Dead.IsZero() {
		t.Errorf("dead letters: %+v", dead)
	}
}

// TestDeadLettersBetween: a report lists the deliveries set aside in its
// span, oldest first, with their error and attempts.
func TestDeadLettersBetween(t *testing.T) {
	ctx := context.Background()
	db, now := openTest(t)
	t0 := *now
	db.EnqueueDeliveries(ctx, Delivery{TicketKey: "SEC-1", Kind: DeliverComment, Payload: "c"}, Delivery{TicketKey: "SEC-2", Kind: DeliverLabels, Payload: "l"},
		Delivery{TicketKey: "SEC-3", Payload: "n"}, Delivery{TicketKey: "SEC-4", Payload: "sent"})
	items, _ := db.PendingOutbox(ctx, 10)
	db.OutboxSent(ctx, items[3].ID)
	for i, d := range []time.Duration{2 * time.Hour, time.Hour, 30 * time.Hour} { // SEC-3 after the span
		*now = t0.Add(d)
		db.OutboxFailed(ctx, items[i].ID, "503")
		db.OutboxDead(ctx, items[i].ID, fmt.Sprintf("400 Bad Request %d", i))
	}
	dead, err := db.DeadLettersBetween(ctx, t0, t0.Add(24*time.Hour))
	if err != nil || len(dead) != 2 {
		t.Fatalf("dead letters: %+v %v", dead, err)
	}
	if d := dead[0]; d.TicketKey != "SEC-2" || d.Kind != DeliverLabels || d.LastError != "400 Bad Request 1" || d.Attempts != 2 || !d.Dead.Equal(t0.Add(time.Hour)) || !d.Created.Equal(t0) {
		t.Errorf("first: %+v", d)
	}
	if dead[1].TicketKey != "SEC-1" {
		t.Errorf("second: %+v", dead[1])
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

// TestStateFilesPrivate: the state file holds alerts, tickets and action
// snapshots; it, its WAL and shared-memory files and the lock are 0600
// whatever the umask, and an existing file left readable is tightened.
func TestStateFilesPrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := t.TempDir()
	path := filepath.Join(dir, "patrol.db")
	check := func(when string) {
		t.Helper()
		for _, f := range []string{path, path + "-wal", path + "-shm", path + ".lock"} {
			fi, err := os.Stat(f)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if m := fi.Mode().Perm(); m != 0o600 {
				t.Errorf("%s: %s is %04o, want 0600", when, filepath.Base(f), m)
			}
		}
	}
	release, err := Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetMeta(context.Background(), "k", "v"); err != nil {
		t.Fatal(err)
	}
	check("new")
	db.Close()
	release()

	for _, f := range []string{path, path + ".lock"} {
		os.Chmod(f, 0o644)
	}
	release, err = Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	db, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMeta(context.Background(), "k", "w")
	check("existing, once readable")
}

func TestCancelledRunIsNeitherSuccessNorFailure(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	record := func(errText string, cancelled bool) {
		id, _ := db.StartRun(ctx, Run{Job: "detect", Detection: "d"})
		if err := db.FinishRun(Run{ID: id, Error: errText, Cancelled: cancelled}); err != nil {
			t.Fatal(err)
		}
	}
	record("", false)
	record("boom", false)
	record("cancelled: patrol is stopping", true)
	record("cancelled: patrol is stopping", true)
	if n, _ := db.FailuresInRow(ctx, "detect", "d"); n != 1 {
		t.Errorf("failures in a row = %d, want 1 (cancelled runs are not failures)", n)
	}
	runs, _ := db.LastRuns(ctx)
	if len(runs) != 1 || !runs[0].LastCancelled || runs[0].FailuresInRow != 1 {
		t.Fatalf("last runs: %+v", runs)
	}
	first := runs[0].LastSuccess
	record("cancelled: patrol is stopping", true)
	if runs, _ := db.LastRuns(ctx); !runs[0].LastSuccess.Equal(first) {
		t.Error("a cancelled run counted as a success")
	}
	var cancelled []bool
	db.EachRun(ctx, time.Time{}, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), func(r Run) error {
		cancelled = append(cancelled, r.Cancelled)
		return nil
	})
	if fmt.Sprint(cancelled) != "[false false true true true]" {
		t.Errorf("runs read back as cancelled: %v", cancelled)
	}
}

func TestRecordSkip(t *testing.T) {
	ctx := context.Background()
	db, now := openTest(t)
	for i := 1; i <= 3; i++ {
		*now = now.Add(time.Minute)
		if n, err := db.RecordSkip(ctx, "a"); err != nil || n != int64(i) {
			t.Fatalf("skip %d: %d %v", i, n, err)
		}
	}
	db.RecordSkip(ctx, "b")
	got, err := db.SkippedRuns(ctx)
	if err != nil || got["a"].Count != 3 || !got["a"].Last.Equal(*now) || got["b"].Count != 1 || len(got) != 2 {
		t.Errorf("skipped runs: %+v %v", got, err)
	}
	// The log places each skip in time: a span counts its own.
	t0 := now.Add(-3 * time.Minute) // the first skip was at t0 + 1m
	span, err := db.SkippedBetween(ctx, t0.Add(2*time.Minute), t0.Add(3*time.Minute))
	if err != nil || len(span) != 1 || span["a"].Count != 1 || !span["a"].Last.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("skips in [2m, 3m): %+v %v", span, err)
	}
	// Pruned with the run history; the totals stay.
	*now = now.Add(100 * 24 * time.Hour)
	if n, err := db.Prune(ctx, now.Add(-90*24*time.Hour)); err != nil || n != 4 {
		t.Errorf("pruned %d %v, want the 4 logged skips", n, err)
	}
	if span, _ := db.SkippedBetween(ctx, t0, *now); len(span) != 0 {
		t.Errorf("skips after pruning: %+v", span)
	}
	if got, _ := db.SkippedRuns(ctx); got["a"].Count != 3 {
		t.Errorf("totals after pruning: %+v", got)
	}
}
