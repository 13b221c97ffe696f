package state

import (
	"context"
	"reflect"
	"testing"
	"time"
)

// Objects a window reads count as read only when its checkpoint is written:
// a crash (or a failure) between reading them and completing the window
// leaves them unread, so the retried window reads them again and loses
// nothing.
func TestWindowObjectsCommitWithTheCheckpoint(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	obj := func(name string, arrived time.Time) WindowObject {
		return WindowObject{Object: "s3://logs/" + name, Version: `"etag-` + name + `"`, Arrived: arrived, KeepUntil: arrived.Add(10 * time.Minute)}
	}
	read := func() []string {
		t.Helper()
		got, err := db.ObjectsRead(ctx, "det", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, o := range got {
			names = append(names, o.Object)
		}
		return names
	}

	// A window reads a and b, then stops before its checkpoint (a crash).
	if err := db.ClearHits(ctx, "det"); err != nil {
		t.Fatal(err)
	}
	if err := db.StageObjects(ctx, "det", []WindowObject{obj("a", t0.Add(-time.Minute)), obj("b", t0.Add(-30*time.Second))}); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != nil {
		t.Fatalf("staged objects count as read before the window completed: %q", got)
	}
	// The retried window starts again: the stale staging is dropped, and it
	// reads b (a arrived too early for its listing, say) and c.
	if err := db.ClearHits(ctx, "det"); err != nil {
		t.Fatal(err)
	}
	if err := db.StageObjects(ctx, "det", []WindowObject{obj("b", t0.Add(-30*time.Second)), obj("c", t0)}); err != nil {
		t.Fatal(err)
	}
	if err := db.CompleteWindow(ctx, "det", t0); err != nil {
		t.Fatal(err)
	}
	if got := read(); !reflect.DeepEqual(got, []string{"s3://logs/b", "s3://logs/c"}) {
		t.Fatalf("read after the window: %q", got)
	}
	if got, _ := db.ObjectsRead(ctx, "other", time.Time{}); got != nil {
		t.Fatalf("another detection sees them: %v", got)
	}
	if got, _ := db.ObjectsRead(ctx, "det", t0.Add(-time.Second)); len(got) != 1 || got[0].Object != "s3://logs/c" {
		t.Fatalf("since filter: %v", got)
	}

	// Rows are kept while a later window can reach back to them, then pruned.
	if err := db.CompleteWindow(ctx, "det", t0.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := read(); !reflect.DeepEqual(got, []string{"s3://logs/c"}) {
		t.Fatalf("after 10m: %q", got)
	}
	if err := db.CompleteWindow(ctx, "det", t0.Add(11*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != nil {
		t.Fatalf("not pruned: %q", got)
	}
}
