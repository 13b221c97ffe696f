// Package state is patrol's SQLite store: schema migrations, checkpoints,
// the alert, ticket and action ledgers, run history, the notification
// outbox and the local ticket store. It is the audit trail: rows about
// actions are only ever appended.
package state

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the sqlite3 driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is an open state file.
type DB struct {
	db   *sql.DB
	path string
	now  func() time.Time
	// bootID names the running kernel (Linux); "" where it cannot be read.
	// Commits made with synchronous=NORMAL survive a crash of the process but
	// not of the host: knowing the boot tells the two apart (see Recover).
	bootID string
}

// Open opens (creating if needed) the state file at path and applies any
// pending migrations. now is the clock for recorded times (nil: time.Now).
func Open(path string, now func() time.Time) (*DB, error) {
	return open(path, now, "_journal_mode=WAL&_synchronous=NORMAL")
}

// OpenScratch opens a throwaway state file (`patrol test` replays) without
// the journal and syncs that make a real one survive a crash: nothing is
// lost with it, and opening it costs no disk flushes.
func OpenScratch(path string, now func() time.Time) (*DB, error) {
	return open(path, now, "_journal_mode=MEMORY&_synchronous=OFF")
}

func open(path string, now func() time.Time, durability string) (*DB, error) {
	if now == nil {
		now = time.Now
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("state folder: %w", err)
		}
	}
	if err := private(path, path+"-wal", path+"-shm"); err != nil {
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	// Settings go in the DSN so every pooled connection gets them.
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_busy_timeout=5000&_foreign_keys=on&_txlock=immediate&" + durability
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	s := &DB{db: db, path: path, now: now, bootID: readBootID()}
	if err := s.migrate(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	return s, nil
}

// Close closes the database.
func (s *DB) Close() error { return s.db.Close() }

// Path is the state file's path.
func (s *DB) Path() string { return s.path }

// Now is the store's clock.
func (s *DB) Now() time.Time { return s.now().UTC() }

func (s *DB) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return err
	}
	list, err := migrationList()
	if err != nil {
		return err
	}
	for _, m := range list {
		version := m.version
		body, err := migrations.ReadFile("migrations/" + m.name)
		if err != nil {
			return err
		}
		err = s.tx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil || n > 0 {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, ts(s.Now()))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

type migration struct {
	name    string
	version int
}

// migrationList is the embedded migrations in the order they apply.
func migrationList() ([]migration, error) {
	entries, err := migrations.ReadDir("migrations")
	if err != nil {
		return nil, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number", e.Name())
		}
		out = append(out, migration{e.Name(), version})
	}
	return out, nil
}

// tx runs fn in one transaction (BEGIN IMMEDIATE, from the DSN).
func (s *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	return commitOrRollback(tx, fn)
}

// commitOrRollback runs fn in tx, then commits tx, or rolls it back where
// fn fails.
func commitOrRollback(tx *sql.Tx, fn func(*sql.Tx) error) error {
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// durableTx is tx for the rows that guard a side effect outside the state
// file (a pending alert before its ticket is created, an action's start
// before the AWS call): it returns only once the commit is on disk.
//
// The state runs with synchronous=NORMAL, whose commits survive a crash
// of the process but not of the host (power loss, kernel panic). Setting
// synchronous=FULL on one connection for one transaction makes SQLite sync
// the WAL at that commit; every other commit keeps NORMAL's speed.
func (s *DB) durableTx(ctx context.Context, fn func(*sql.Tx) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = FULL`); err != nil {
		return err
	}
	// Back to NORMAL before the connection returns to the pool, even when
	// ctx has ended.
	defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = NORMAL`)
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	return commitOrRollback(tx, fn)
}

// readBootID returns the running kernel's boot id, or "" where there is
// none (it changes at every boot, so a change means the host restarted).
func readBootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// tsFormat is fixed-width so stored times sort as text.
const tsFormat = "2006-01-02T15:04:05.000000000Z"

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(tsFormat)
}

func parseTS(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(tsFormat, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

func nullTS(ns sql.NullString) time.Time {
	if !ns.Valid {
		return time.Time{}
	}
	return parseTS(ns.String)
}

// ErrLocked is returned by Lock when another process holds the state file.
var ErrLocked = errors.New("state file is in use by another patrol process")

// Lock takes the single-writer lock of the state file at path: one process
// at a time may run jobs against it. It returns the release function.
func Lock(path string) (func(), error) {
	lockPath := path + ".lock"
	if err := os.MkdirAll(filepath.Dir(lockPath), 0o750); err != nil {
		return nil, err
	}
	if err := private(lockPath); err != nil {
		return nil, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	f, err := os.OpenFile(lockPath, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(lockPath)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			msg := strings.TrimSpace(string(holder))
			if msg != "" {
				msg = " (" + msg + ")"
			}
			return nil, fmt.Errorf("%w%s: %s", ErrLocked, msg, lockPath)
		}
		return nil, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	f.Truncate(0)
	fmt.Fprintf(f, "pid %d", os.Getpid())
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// private makes paths[0] exist and every one of paths that exists readable
// by its owner only (0600), whatever the umask: the state holds alerts,
// tickets and action snapshots. SQLite creates the WAL and shared-memory
// files with the main file's mode, so creating that one 0600 first covers
// them; a file an earlier version or another tool left readable is
// tightened when its owner opens it.
func private(paths ...string) error {
	f, err := os.OpenFile(paths[0], os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	for _, p := range paths {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if fi.Mode().Perm() != 0o600 {
			// Best effort: only the owner may change the mode, and a
			// reader that is not the owner (root running patrol status)
			// must still be able to open the file.
			_ = os.Chmod(p, 0o600)
		}
	}
	return nil
}
