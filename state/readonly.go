package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrNoState is returned by OpenReadOnly when the state file does not exist.
var ErrNoState = errors.New("state file does not exist")

// OpenReadOnly opens an existing state file for reading only: it never
// creates, migrates or writes it, so it serves a user who may only read
// the file (status, tickets) and a copy of it. A state file that is still
// in the daemon's write-ahead log is read through it; where the log's
// shared-memory file cannot be created (a read-only folder holding a copy),
// the file is read as it is on disk.
func OpenReadOnly(path string) (*DB, error) {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s (nothing has run with this config yet: 'patrol once' or the service creates it; or state.path points elsewhere)", ErrNoState, path)
		}
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	base := "file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=ro&_busy_timeout=5000&_query_only=true"
	s, err := openRO(base)
	if err != nil && canOnlyReadFolder(path) {
		s, err = openRO(base + "&immutable=1")
	}
	if err != nil {
		return nil, fmt.Errorf("state %s (read-only): %w", path, err)
	}
	s.path = path
	return s, nil
}

func openRO(dsn string) (*DB, error) {
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, err
	}
	s := &DB{db: db, now: time.Now}
	if err := s.checkSchema(context.Background()); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// canOnlyReadFolder reports whether the state file's folder has no -shm
// file and cannot get one: SQLite then cannot share the write-ahead log.
func canOnlyReadFolder(path string) bool {
	if _, err := os.Stat(path + "-shm"); err == nil {
		return false
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".patrol-probe-*")
	if err != nil {
		return true
	}
	f.Close()
	os.Remove(f.Name())
	return false
}

// checkSchema checks that the file is a patrol state file with every
// migration this build knows applied: a read-only reader cannot migrate.
func (s *DB) checkSchema(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return errors.New("not a patrol state file (no schema_migrations table)")
		}
		return err
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return err
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	list, err := migrationList()
	if err != nil {
		return err
	}
	for _, m := range list {
		if !applied[m.version] {
			return fmt.Errorf("written by an older patrol (migration %s not applied): run 'patrol once' or restart the service to upgrade it", m.name)
		}
	}
	return nil
}
