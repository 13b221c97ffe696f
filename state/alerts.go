package state

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// Alert states.
const (
	AlertPending = "pending" // recorded; its ticket may or may not exist yet
	AlertOpen    = "open"    // its ticket exists and its key is stored
)

// Alert is one generation of a fingerprint in the alert ledger.
type Alert struct {
	ID          int64
	Detection   string
	Fingerprint string
	Generation  int
	State       string
	FirstSeen   time.Time
	LastSeen    time.Time
	Count       int
	WindowStart time.Time // the window whose results last counted
	WindowCount int       // how many they were (a replayed window replaces them)
	TicketKey   string
	Result      string // JSON of the result that opened the alert
	Created     time.Time
	Updated     time.Time
	Commented   time.Time // last repeat comment on the ticket
}

const alertCols = `id, detection, fingerprint, generation, state, first_seen, last_seen, count, window_start, window_count,
	coalesce(ticket_key, ''), result, created_at, updated_at, commented_at`

func scanAlert(row interface{ Scan(...any) error }) (*Alert, error) {
	var a Alert
	var first, last, ws, created, updated string
	var commented sql.NullString
	err := row.Scan(&a.ID, &a.Detection, &a.Fingerprint, &a.Generation, &a.State, &first, &last, &a.Count, &ws, &a.WindowCount,
		&a.TicketKey, &a.Result, &created, &updated, &commented)
	if err != nil {
		return nil, err
	}
	a.FirstSeen, a.LastSeen, a.WindowStart = parseTS(first), parseTS(last), parseTS(ws)
	a.Created, a.Updated, a.Commented = parseTS(created), parseTS(updated), nullTS(commented)
	return &a, nil
}

// LatestAlert returns the newest generation of fingerprint, or nil.
func (s *DB) LatestAlert(ctx context.Context, fingerprint string) (*Alert, error) {
	a, err := scanAlert(s.db.QueryRowContext(ctx, `SELECT `+alertCols+` FROM alerts WHERE fingerprint = ? ORDER BY generation DESC LIMIT 1`, fingerprint))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return a, err
}

// AlertByTicket returns the alert whose ticket is key, or nil.
func (s *DB) AlertByTicket(ctx context.Context, key string) (*Alert, error) {
	a, err := scanAlert(s.db.QueryRowContext(ctx, `SELECT `+alertCols+` FROM alerts WHERE ticket_key = ? ORDER BY generation DESC LIMIT 1`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return a, err
}

// CreatePendingAlert records a new generation of a fingerprint as pending,
// before its ticket is created: after a crash the rerun finds it and looks
// the ticket up instead of creating a second one.
func (s *DB) CreatePendingAlert(ctx context.Context, a Alert) (*Alert, error) {
	now := s.Now()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(generation), 0) + 1 FROM alerts WHERE fingerprint = ?`, a.Fingerprint).Scan(&a.Generation); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO alerts (detection, fingerprint, generation, state, first_seen, last_seen, count,
			window_start, window_count, result, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.Detection, a.Fingerprint, a.Generation, AlertPending, ts(a.FirstSeen), ts(a.LastSeen), a.Count,
			ts(a.WindowStart), a.WindowCount, a.Result, ts(now), ts(now))
		if err != nil {
			return err
		}
		a.ID, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return nil, err
	}
	a.State, a.Created, a.Updated = AlertPending, now, now
	return &a, nil
}

// OpenAlert stores the ticket of a pending alert, adds the ticket to the
// ledger and queues its notifications, in one transaction.
func (s *DB) OpenAlert(ctx context.Context, alertID int64, t TicketRow, notes []string) error {
	now := s.Now()
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE alerts SET state = ?, ticket_key = ?, updated_at = ? WHERE id = ?`,
			AlertOpen, t.Key, ts(now), alertID); err != nil {
			return err
		}
		if err := upsertTicket(ctx, tx, t, now); err != nil {
			return err
		}
		return enqueue(ctx, tx, t.Key, notes, now)
	})
}

// RecordRepeat counts a window's results for an existing alert. When the
// window starts where the alert's last counted window started (a window
// retried after a failure), its count replaces that window's instead of
// adding to it.
func (s *DB) RecordRepeat(ctx context.Context, id int64, windowStart time.Time, n int, first, last time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE alerts SET
		count = CASE WHEN window_start = ?1 THEN count - window_count + ?2 ELSE count + ?2 END,
		window_count = ?2, window_start = ?1,
		first_seen = min(first_seen, ?3), last_seen = max(last_seen, ?4), updated_at = ?5
		WHERE id = ?6`, ts(windowStart), n, ts(first), ts(last), ts(s.Now()), id)
	return err
}

// MarkCommented records when the alert's ticket last got a repeat comment.
func (s *DB) MarkCommented(ctx context.Context, id int64, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE alerts SET commented_at = ? WHERE id = ?`, ts(at), id)
	return err
}

// KnownTicketKeys lists the ticket keys recorded for a fingerprint's
// generations: crash recovery ignores those when it looks a ticket up.
func (s *DB) KnownTicketKeys(ctx context.Context, fingerprint string) (map[string]bool, error) {
	return s.stringSet(ctx, `SELECT ticket_key FROM alerts WHERE fingerprint = ? AND ticket_key IS NOT NULL`, fingerprint)
}

// AlertCounts returns, per detection, the alerts whose ticket is not closed
// in the tracker (as last polled) and the pending ones (ticket not confirmed).
func (s *DB) AlertCounts(ctx context.Context) (map[string][2]int, error) {
	closed := make([]any, len(ClosedStatuses))
	for i, c := range ClosedStatuses {
		closed[i] = c
	}
	rows, err := s.db.QueryContext(ctx, `SELECT a.detection,
		  sum(CASE WHEN a.state = 'open' AND lower(coalesce(t.status, '')) NOT IN (?`+strings.Repeat(", ?", len(closed)-1)+`) THEN 1 ELSE 0 END),
		  sum(CASE WHEN a.state = 'pending' THEN 1 ELSE 0 END)
		FROM alerts a LEFT JOIN tickets t ON t.key = a.ticket_key GROUP BY a.detection`, closed...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][2]int{}
	for rows.Next() {
		var d string
		var open, pending int
		if err := rows.Scan(&d, &open, &pending); err != nil {
			return nil, err
		}
		out[d] = [2]int{open, pending}
	}
	return out, rows.Err()
}
