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
	// AlertDropped is a self-alert whose problem went away before its
	// ticket was made (and none was found): it needs no ticket any more.
	AlertDropped = "dropped"
	// AlertResolved is a self-alert whose problem went away (its ticket
	// got a "Resolved" comment); the next occurrence is a new generation.
	AlertResolved = "resolved"
	// AlertShadow is an alert of a shadow detection: never ticketed; Would
	// holds what patrol would have done.
	AlertShadow = "shadow"
	// AlertSilenced is an alert a silence muted: never ticketed.
	AlertSilenced = "silenced"
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
	// CreateUnknownAt is set while a create of this alert's ticket may have
	// made one that patrol does not know of: from the end of a request
	// that failed ambiguously (a timeout, a 5xx), or, written before the
	// request is sent, its deadline (in case patrol stops while it runs).
	// Zero: no such create; a new one may be sent without a lookup.
	CreateUnknownAt time.Time
	// SilenceID names the silence that muted the alert (AlertSilenced).
	SilenceID string
	// Would is what a shadow alert would have done (JSON).
	Would string
	// RecurrenceOf is the closed ticket this alert recurred on, when it
	// got a ticket of its own.
	RecurrenceOf string
}

// Class is the class of results the alert groups (see Hit.Class).
func (a Alert) Class() string {
	switch a.State {
	case AlertShadow:
		return "shadow"
	case AlertSilenced:
		return "silence:" + a.SilenceID
	}
	return ""
}

const alertCols = `id, detection, fingerprint, generation, state, first_seen, last_seen, count, window_start, window_count,
	coalesce(ticket_key, ''), result, created_at, updated_at, commented_at, create_unknown_at, silence_id, would, recurrence_of`

func scanAlert(row interface{ Scan(...any) error }) (*Alert, error) {
	var a Alert
	var first, last, ws, created, updated string
	var commented, unknown sql.NullString
	err := row.Scan(&a.ID, &a.Detection, &a.Fingerprint, &a.Generation, &a.State, &first, &last, &a.Count, &ws, &a.WindowCount,
		&a.TicketKey, &a.Result, &created, &updated, &commented, &unknown, &a.SilenceID, &a.Would, &a.RecurrenceOf)
	if err != nil {
		return nil, err
	}
	a.FirstSeen, a.LastSeen, a.WindowStart = parseTS(first), parseTS(last), parseTS(ws)
	a.Created, a.Updated, a.Commented = parseTS(created), parseTS(updated), nullTS(commented)
	a.CreateUnknownAt = nullTS(unknown)
	return &a, nil
}

func (s *DB) queryAlerts(ctx context.Context, where string, args ...any) ([]Alert, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+alertCols+` FROM alerts `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *a)
	}
	return out, rows.Err()
}

// Generations returns every generation of fingerprint, oldest first.
func (s *DB) Generations(ctx context.Context, fingerprint string) ([]Alert, error) {
	return s.queryAlerts(ctx, `WHERE fingerprint = ? ORDER BY generation`, fingerprint)
}

// PendingAlerts returns detection's pending alerts, in the order their
// events happened.
func (s *DB) PendingAlerts(ctx context.Context, detection string) ([]Alert, error) {
	return s.queryAlerts(ctx, `WHERE detection = ? AND state = ? ORDER BY first_seen, id`, detection, AlertPending)
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
// the ticket up instead of creating a second one. It is on disk when this
// returns.
func (s *DB) CreatePendingAlert(ctx context.Context, a Alert) (*Alert, error) {
	out, err := s.RecordWindow(ctx, WindowChange{New: []Alert{a}})
	if err != nil {
		return nil, err
	}
	return &out[0], nil
}

// Repeat is more results of an existing alert in one window.
type Repeat struct {
	AlertID     int64
	WindowStart time.Time
	Count       int
	First, Last time.Time
}

// WindowChange is what one window of a detection did to the alert ledger:
// new alerts (pending ones have their tickets about to be created; shadow
// and silenced ones get none), repeats of existing ones, comments about
// the repeats, and what exceptions dropped.
type WindowChange struct {
	New     []Alert
	Repeats []Repeat
	// Commented marks alerts whose tickets got a repeat comment, queued
	// in Deliveries.
	Commented []int64
	// Reopened are tickets a reopen transition is queued for: a done
	// status the tracker reported before now is stale for them.
	Reopened   []string
	Excepted   []ExceptionCount
	Deliveries []Delivery
}

// ExceptionCount is what one exception dropped in one window.
type ExceptionCount struct {
	Detection   string
	Exception   string // its key
	WindowStart time.Time
	Count       int
	First, Last time.Time
}

// RecordWindow writes a window's alerts in one transaction that is on
// disk when it returns (its new alerts guard the creates that follow).
// New alerts get the next generation of their fingerprint and are
// returned with their ids.
func (s *DB) RecordWindow(ctx context.Context, c WindowChange) ([]Alert, error) {
	now := s.Now()
	out := make([]Alert, len(c.New))
	write := func(tx *sql.Tx) error {
		for i, a := range c.New {
			if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(generation), 0) + 1 FROM alerts WHERE fingerprint = ?`, a.Fingerprint).Scan(&a.Generation); err != nil {
				return err
			}
			if a.State == "" {
				a.State = AlertPending
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO alerts (detection, fingerprint, generation, state, first_seen, last_seen, count,
				window_start, window_count, result, created_at, updated_at, create_unknown_at, silence_id, would, recurrence_of)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				a.Detection, a.Fingerprint, a.Generation, a.State, ts(a.FirstSeen), ts(a.LastSeen), a.Count,
				ts(a.WindowStart), a.WindowCount, a.Result, ts(now), ts(now), nullable(a.CreateUnknownAt), a.SilenceID, a.Would, a.RecurrenceOf)
			if err != nil {
				return err
			}
			if a.ID, err = res.LastInsertId(); err != nil {
				return err
			}
			a.Created, a.Updated = now, now
			out[i] = a
		}
		for _, e := range c.Excepted {
			if _, err := tx.ExecContext(ctx, `INSERT INTO exception_counts (detection, exception, window_start, count, first_seen, last_seen, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (detection, exception, window_start) DO UPDATE SET
				count = excluded.count, first_seen = excluded.first_seen, last_seen = excluded.last_seen, updated_at = excluded.updated_at`,
				e.Detection, e.Exception, ts(e.WindowStart), e.Count, ts(e.First), ts(e.Last), ts(now)); err != nil {
				return err
			}
		}
		for _, key := range c.Reopened {
			if _, err := tx.ExecContext(ctx, `UPDATE tickets SET reopened_at = ?1, updated_at = ?1 WHERE key = ?2`, ts(now), key); err != nil {
				return err
			}
		}
		for _, r := range c.Repeats {
			if err := recordRepeat(ctx, tx, r, now); err != nil {
				return err
			}
		}
		for _, id := range c.Commented {
			if _, err := tx.ExecContext(ctx, `UPDATE alerts SET commented_at = ? WHERE id = ?`, ts(now), id); err != nil {
				return err
			}
		}
		return enqueueDeliveries(ctx, tx, c.Deliveries, now)
	}
	durable := false
	for _, a := range c.New {
		durable = durable || a.State == "" || a.State == AlertPending
	}
	var err error
	if durable {
		err = s.durableTx(ctx, write)
	} else {
		err = s.tx(ctx, write)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// nullable stores a zero time as NULL.
func nullable(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ts(t)
}

// SetCreateUnknown records when the outcome of a create of the alert's
// ticket became unknown; a zero t clears it (the create is known not to
// have made a ticket). Called with a request's deadline just before it is
// sent, it guards that request: see Recover for when it reaches the disk.
func (s *DB) SetCreateUnknown(ctx context.Context, alertID int64, t time.Time) error {
	write := func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE alerts SET create_unknown_at = ?, updated_at = ? WHERE id = ?`, nullable(t), ts(s.Now()), alertID)
		return err
	}
	if s.bootID == "" && !t.IsZero() {
		// Without a boot id a crash of the host cannot be told from one
		// of the process: the mark itself must reach the disk.
		return s.durableTx(ctx, write)
	}
	return s.tx(ctx, write)
}

// Recover prepares the ledger for a process that takes over the state
// file. Marks written just before a ticket create (SetCreateUnknown) or a
// comment (OutboxSending) are committed with synchronous=NORMAL: they
// survive a crash of patrol, but may be lost with the host. So when the
// host has restarted since the state was last used, every pending alert
// without a mark is treated as if its create had been in flight until
// now, and every queued comment as if it had been sent.
func (s *DB) Recover(ctx context.Context) error {
	prev, err := s.Meta(ctx, "boot_id")
	if err != nil {
		return err
	}
	if prev == s.bootID {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if prev != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE alerts SET create_unknown_at = ? WHERE state = ? AND create_unknown_at IS NULL`,
				ts(s.Now()), AlertPending); err != nil {
				return err
			}
			// Likewise a queued comment may have been posted by an
			// attempt whose mark (OutboxSending) the host lost.
			if _, err := tx.ExecContext(ctx, `UPDATE outbox SET sending_at = ? WHERE kind = ? AND sent_at IS NULL AND dead_at IS NULL AND sending_at IS NULL`,
				ts(s.Now()), DeliverComment); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('boot_id', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, s.bootID)
		return err
	})
}

// ResolveAlert marks an open alert resolved and queues what must follow
// (the "Resolved" comment), in one transaction.
func (s *DB) ResolveAlert(ctx context.Context, alertID int64, ds []Delivery) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE alerts SET state = ?, updated_at = ? WHERE id = ?`, AlertResolved, ts(s.Now()), alertID); err != nil {
			return err
		}
		return enqueueDeliveries(ctx, tx, ds, s.Now())
	})
}

// DropAlert gives up a pending alert that needs no ticket any more.
func (s *DB) DropAlert(ctx context.Context, alertID int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE alerts SET state = ?, updated_at = ? WHERE id = ? AND state = ?`, AlertDropped, ts(s.Now()), alertID, AlertPending)
	return err
}

// OpenAlert stores the ticket of a pending alert, adds the ticket to the
// ledger and queues what must follow (its notification), in one
// transaction.
func (s *DB) OpenAlert(ctx context.Context, alertID int64, t TicketRow, ds []Delivery) error {
	now := s.Now()
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE alerts SET state = ?, ticket_key = ?, updated_at = ?, create_unknown_at = NULL WHERE id = ?`,
			AlertOpen, t.Key, ts(now), alertID); err != nil {
			return err
		}
		if err := upsertTicket(ctx, tx, t, now); err != nil {
			return err
		}
		return enqueueDeliveries(ctx, tx, ds, now)
	})
}

// RecordRepeat counts a window's results for an existing alert. When the
// window starts where the alert's last counted window started (a window
// retried after a failure), its count replaces that window's instead of
// adding to it.
func (s *DB) RecordRepeat(ctx context.Context, id int64, windowStart time.Time, n int, first, last time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		return recordRepeat(ctx, tx, Repeat{AlertID: id, WindowStart: windowStart, Count: n, First: first, Last: last}, s.Now())
	})
}

func recordRepeat(ctx context.Context, tx *sql.Tx, r Repeat, now time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE alerts SET
		count = CASE WHEN window_start = ?1 THEN count - window_count + ?2 ELSE count + ?2 END,
		window_count = ?2, window_start = ?1,
		first_seen = min(first_seen, ?3), last_seen = max(last_seen, ?4), updated_at = ?5
		WHERE id = ?6`, ts(r.WindowStart), r.Count, ts(r.First), ts(r.Last), ts(now), r.AlertID)
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

// closedStatuses is ClosedStatuses as an SQL list.
var closedStatuses = func() string {
	q := make([]string, len(ClosedStatuses))
	for i, c := range ClosedStatuses {
		q[i] = "'" + strings.ReplaceAll(c, "'", "''") + "'"
	}
	return "(" + strings.Join(q, ", ") + ")"
}()

// OpenAlerts returns the open alerts whose ticket is not closed in the
// tracker (as last polled), oldest first.
func (s *DB) OpenAlerts(ctx context.Context) ([]Alert, error) {
	return s.queryAlerts(ctx, `WHERE state = ? AND lower(coalesce((SELECT t.status FROM tickets t WHERE t.key = alerts.ticket_key), ''))
		NOT IN `+closedStatuses+` ORDER BY first_seen, id`, AlertOpen)
}

// AlertCounts returns, per detection, the alerts whose ticket is not closed
// in the tracker (as last polled) and the pending ones (ticket not confirmed).
func (s *DB) AlertCounts(ctx context.Context) (map[string][2]int, error) {
	return s.pairsByDetection(ctx, `SELECT a.detection,
		  sum(CASE WHEN a.state = 'open' AND lower(coalesce(t.status, '')) NOT IN `+closedStatuses+` THEN 1 ELSE 0 END),
		  sum(CASE WHEN a.state = 'pending' THEN 1 ELSE 0 END)
		FROM alerts a LEFT JOIN tickets t ON t.key = a.ticket_key GROUP BY a.detection`)
}
