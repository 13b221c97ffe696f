package state

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := OpenReadOnly(filepath.Join(dir, "missing.db")); err == nil || !strings.Contains(err.Error(), "missing.db") {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); !os.IsNotExist(err) {
		t.Fatal("a read-only open created the file")
	}
	os.WriteFile(filepath.Join(dir, "other.db"), []byte("not sqlite"), 0o600)
	if _, err := OpenReadOnly(filepath.Join(dir, "other.db")); err == nil {
		t.Fatal("a file that is not a state file opened")
	}

	// Beside a writer that keeps the file open (the daemon), a reader sees
	// what is committed and cannot write.
	w, _ := openTest(t)
	if err := w.SetMeta(ctx, "k", "v1"); err != nil {
		t.Fatal(err)
	}
	r, err := OpenReadOnly(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := w.SetMeta(ctx, "k", "v2"); err != nil {
		t.Fatal(err)
	}
	if v, err := r.Meta(ctx, "k"); err != nil || v != "v2" {
		t.Errorf("reader sees %q %v", v, err)
	}
	if err := r.SetMeta(ctx, "k", "v3"); err == nil {
		t.Error("a read-only state file accepted a write")
	}
	if ok, err := r.Migrated(ctx, 1); !ok || err != nil {
		t.Errorf("migration 1: %v %v", ok, err)
	}
	if ok, _ := r.Migrated(ctx, 1799); ok {
		t.Error("migration 1799 is applied")
	}
}

func TestAttemptsBetween(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	add := func(attempt, phase string, at time.Time) {
		t.Helper()
		if _, err := db.AppendAction(ctx, ActionEvent{Attempt: attempt, TicketKey: "K", Action: "a", Target: attempt, Phase: phase, At: at}); err != nil {
			t.Fatal(err)
		}
	}
	add("before", PhasePlanned, t0.Add(-time.Hour))
	add("before", PhaseSucceeded, t0.Add(time.Hour)) // began before the span: left out whole
	add("in", PhasePlanned, t0.Add(time.Hour))
	add("in", PhaseStarted, t0.Add(time.Hour))
	add("in", PhaseSucceeded, t0.Add(2*time.Hour))
	add("in", PhaseReverted, t0.Add(30*time.Hour)) // after the span: the attempt as it stood at its end
	add("after", PhasePlanned, t0.Add(25*time.Hour))
	evs, err := db.AttemptsBetween(ctx, t0, t0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.Attempt+":"+e.Phase)
	}
	if strings.Join(got, " ") != "in:planned in:started in:succeeded" {
		t.Errorf("rows = %v", got)
	}
	oldest, err := db.OldestRecord(ctx)
	if err != nil || !oldest.Equal(t0.Add(-time.Hour)) {
		t.Errorf("oldest record = %s %v", oldest, err)
	}
}

func TestIsClosed(t *testing.T) {
	for _, c := range []struct {
		status string
		extra  []string
		want   bool
	}{{"Done", nil, true}, {" won't do ", nil, true}, {"In Progress", nil, false}, {"Fixed", []string{"fixed"}, true}, {"", nil, false}} {
		if got := IsClosed(c.status, c.extra...); got != c.want {
			t.Errorf("IsClosed(%q, %v) = %v", c.status, c.extra, got)
		}
	}
}
