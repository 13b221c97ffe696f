package state

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Action phases. An attempt (ticket + action + target) is a sequence of
// appended rows: planned, then started, then succeeded or failed; or
// planned then refused; a dry run is one 'planned' row with dry_run set.
const (
	PhasePlanned       = "planned"
	PhaseStarted       = "started"
	PhaseSucceeded     = "succeeded"
	PhaseFailed        = "failed"
	PhaseRefused       = "refused"
	PhaseInterrupted   = "interrupted"    // started, outcome unknown (patrol stopped): read back, never retried
	PhaseRevertStarted = "revert_started" // patrol undo began: never run twice
	PhaseReverted      = "reverted"
	PhaseRevertFailed  = "revert_failed"
	// PhaseRevertRefused is an undo refused before it changed anything
	// (dry run, a snapshot that no longer matches): the undo stays available.
	PhaseRevertRefused = "revert_refused"
)

// ActionEvent is one row of the append-only action ledger.
type ActionEvent struct {
	ID        int64
	Attempt   string
	TicketKey string
	Action    string
	Target    string
	Principal string
	Plan      string // JSON of the plan
	DryRun    bool
	Phase     string
	Detail    string
	Snapshot  string
	At        time.Time
}

const actionCols = `id, attempt, ticket_key, action, target, principal, plan, dry_run, phase, detail, snapshot, at`

func scanAction(row interface{ Scan(...any) error }) (*ActionEvent, error) {
	var a ActionEvent
	var at string
	if err := row.Scan(&a.ID, &a.Attempt, &a.TicketKey, &a.Action, &a.Target, &a.Principal, &a.Plan, &a.DryRun,
		&a.Phase, &a.Detail, &a.Snapshot, &at); err != nil {
		return nil, err
	}
	a.At = parseTS(at)
	return &a, nil
}

// AppendAction appends a row to the action ledger and returns its id. A
// "started" row is on disk when this returns: it guards the call that
// follows it.
func (s *DB) AppendAction(ctx context.Context, a ActionEvent) (int64, error) {
	var id int64
	write := func(tx *sql.Tx) error {
		var err error
		id, err = appendAction(ctx, tx, a, s.Now())
		return err
	}
	var err error
	if a.Phase == PhaseStarted || a.Phase == PhaseRevertStarted {
		err = s.durableTx(ctx, write)
	} else {
		err = s.tx(ctx, write)
	}
	return id, err
}

func appendAction(ctx context.Context, tx *sql.Tx, a ActionEvent, now time.Time) (int64, error) {
	if a.At.IsZero() {
		a.At = now
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO actions (attempt, ticket_key, action, target, principal, plan, dry_run, phase, detail, snapshot, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.Attempt, a.TicketKey, a.Action, a.Target, a.Principal, a.Plan, a.DryRun, a.Phase, a.Detail, a.Snapshot, ts(a.At))
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

func (s *DB) queryActions(ctx context.Context, where string, args ...any) ([]ActionEvent, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+actionCols+` FROM actions `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ActionEvent
	for rows.Next() {
		a, err := scanAction(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *a)
	}
	return out, rows.Err()
}

// AttemptEvents returns an attempt's rows in order.
func (s *DB) AttemptEvents(ctx context.Context, attempt string) ([]ActionEvent, error) {
	return s.queryActions(ctx, `WHERE attempt = ? ORDER BY id`, attempt)
}

// TicketActions returns every action row of a ticket in order.
func (s *DB) TicketActions(ctx context.Context, key string) ([]ActionEvent, error) {
	return s.queryActions(ctx, `WHERE ticket_key = ? ORDER BY id`, key)
}

// RecentActions returns the newest rows, newest first.
func (s *DB) RecentActions(ctx context.Context, limit int) ([]ActionEvent, error) {
	return s.queryActions(ctx, `ORDER BY id DESC LIMIT ?`, limit)
}

// Action returns one ledger row by id, or nil.
func (s *DB) Action(ctx context.Context, id int64) (*ActionEvent, error) {
	a, err := scanAction(s.db.QueryRowContext(ctx, `SELECT `+actionCols+` FROM actions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return a, err
}

// StartedSince counts real (not dry-run) action starts at or after t: the
// hourly budget.
func (s *DB) StartedSince(ctx context.Context, t time.Time) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM actions WHERE phase = ? AND dry_run = 0 AND at >= ?`, PhaseStarted, ts(t)).Scan(&n)
	return n, err
}
