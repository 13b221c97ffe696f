package state

import (
	"context"
	"strings"
	"time"
)

// ClosedStatuses are the tracker statuses (compared case-insensitively)
// that mean a ticket is closed.
var ClosedStatuses = []string{"done", "closed", "resolved", "won't do", "cancelled"}

// IsClosed reports whether a tracker status is one of ClosedStatuses or
// one of extra (say, the configured done transition's name).
func IsClosed(status string, extra ...string) bool {
	s := strings.TrimSpace(status)
	for _, list := range [][]string{ClosedStatuses, extra} {
		for _, c := range list {
			if strings.EqualFold(s, c) {
				return true
			}
		}
	}
	return false
}

// Migrated reports whether migration version has been applied to the state
// file: readers use it to find the ledgers that later versions add.
func (s *DB) Migrated(ctx context.Context, version int) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n)
	return n > 0, err
}

// EachAlert calls fn with every alert generation recorded in [from, to),
// oldest first. It streams: a quarter of alerts is never held at once.
func (s *DB) EachAlert(ctx context.Context, from, to time.Time, fn func(Alert) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT `+alertCols+` FROM alerts WHERE created_at >= ? AND created_at < ? ORDER BY created_at, id`, ts(from), ts(to))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return err
		}
		if err := fn(*a); err != nil {
			return err
		}
	}
	return rows.Err()
}

// AttemptsBetween returns the ledger rows, in order, of every action
// attempt whose first row falls in [from, to), up to to: the attempt as it
// stood at the end of the span.
func (s *DB) AttemptsBetween(ctx context.Context, from, to time.Time) ([]ActionEvent, error) {
	return s.queryActions(ctx, `WHERE at < ?3 AND attempt IN (SELECT attempt FROM actions GROUP BY attempt HAVING min(at) >= ?1 AND min(at) < ?2)
		ORDER BY id`, ts(from), ts(to), ts(to))
}

// EachRun calls fn with every run started in [from, to), oldest first.
func (s *DB) EachRun(ctx context.Context, from, to time.Time, fn func(Run) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT id, job, detection, window_start, window_end, started_at, coalesce(finished_at, ''),
		results, alerts, tickets, actions, error, cancelled FROM runs WHERE started_at >= ? AND started_at < ? ORDER BY id`, ts(from), ts(to))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r Run
		var ws, we, started, finished string
		if err := rows.Scan(&r.ID, &r.Job, &r.Detection, &ws, &we, &started, &finished, &r.Results, &r.Alerts, &r.Tickets, &r.Actions, &r.Error, &r.Cancelled); err != nil {
			return err
		}
		r.WindowStart, r.WindowEnd, r.Started, r.Finished = parseTS(ws), parseTS(we), parseTS(started), parseTS(finished)
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// OldestRun returns when the oldest run in the history started (zero when
// there is none): history before it was pruned (state.retention).
func (s *DB) OldestRun(ctx context.Context) (time.Time, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT coalesce(min(started_at), '') FROM runs`).Scan(&v)
	return parseTS(v), err
}

// LocalKeys returns the keys of the local ticket store.
func (s *DB) LocalKeys(ctx context.Context) (map[string]bool, error) {
	return s.stringSet(ctx, `SELECT key FROM local_tickets`)
}

// stringSet runs a query of one text column and returns its values as a set.
func (s *DB) stringSet(ctx context.Context, query string, args ...any) (map[string]bool, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		out[k] = true
	}
	return out, rows.Err()
}

// LocalEventsByTicket returns every local ticket's events of kind, in
// order, by ticket key: one query for a whole report.
func (s *DB) LocalEventsByTicket(ctx context.Context, kind string) (map[string][]LocalEvent, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT ticket_key, kind, value, by_user, at FROM local_events WHERE kind = ? ORDER BY id`, kind)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]LocalEvent{}
	for rows.Next() {
		var key, at string
		var e LocalEvent
		if err := rows.Scan(&key, &e.Kind, &e.Value, &e.By, &at); err != nil {
			return nil, err
		}
		e.At = parseTS(at)
		out[key] = append(out[key], e)
	}
	return out, rows.Err()
}

// OldestRecord returns the time of the oldest alert, ticket, action or run
// (zero for an empty state file): where a report of "all" starts.
func (s *DB) OldestRecord(ctx context.Context) (time.Time, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT coalesce(min(t), '') FROM (
		SELECT min(created_at) AS t FROM alerts UNION ALL SELECT min(created_at) FROM tickets
		UNION ALL SELECT min(at) FROM actions UNION ALL SELECT min(started_at) FROM runs) WHERE t IS NOT NULL AND t != ''`).Scan(&v)
	return parseTS(v), err
}
