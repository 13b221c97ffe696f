package state

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenReadOnlyNeverCreates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "typo", "patrol.db")
	if _, err := OpenReadOnly(path); !errors.Is(err, ErrNoState) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want ErrNoState naming the path", err)
	}
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the state folder was created: %v", err)
	}
}

func TestOpenReadOnlyReadsAndRefusesWrites(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "patrol.db")
	db, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	cp := db.Now().Truncate(1e9)
	if err := db.CompleteWindow(ctx, "d", cp); err != nil {
		t.Fatal(err)
	}
	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if got, ok, err := ro.Checkpoint(ctx, "d"); err != nil || !ok || !got.Equal(cp) {
		t.Errorf("checkpoint through the daemon's open WAL = %v %v %v", got, ok, err)
	}
	if err := ro.CompleteWindow(ctx, "d", cp.Add(1e9)); err == nil {
		t.Error("a write through the read-only handle succeeded")
	}
	db.Close()
}

func TestOpenReadOnlyOlderSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "patrol.db")
	db, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.db.Exec(`DELETE FROM schema_migrations`)
	db.Close()
	if _, err := OpenReadOnly(path); err == nil || !strings.Contains(err.Error(), "older patrol") {
		t.Fatalf("err = %v, want the schema named as older", err)
	}
}
