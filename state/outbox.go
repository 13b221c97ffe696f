package state

import (
	"context"
	"database/sql"
	"time"
)

// Delivery kinds: what a queued delivery writes, and where.
const (
	DeliverNotify     = "notify"     // a chat message (the notifier)
	DeliverComment    = "comment"    // a ticket comment
	DeliverTransition = "transition" // a ticket transition
	DeliverLabels     = "labels"     // labels added to a ticket
	DeliverRoute      = "route"      // a ticket's assignee and component
	DeliverLink       = "link"       // a link from a ticket to another
)

// Delivery is a write to the tracker or the notifier that must follow a
// change recorded in the state: queued in the same transaction as the
// change, sent afterwards until it succeeds or fails for good. Payload is
// opaque to state (the poller's JSON).
type Delivery struct {
	TicketKey string
	Kind      string
	Payload   string
}

// OutboxItem is a queued delivery.
type OutboxItem struct {
	ID        int64
	TicketKey string
	Kind      string
	Payload   string
	Attempts  int
	LastError string
	Created   time.Time
	Dead      time.Time // set aside after a permanent failure
	// Sending is when the latest attempt started (zero: none yet). Set
	// and not followed by sent, the attempt's outcome is unknown.
	Sending time.Time
}

func enqueue(ctx context.Context, tx *sql.Tx, key string, payloads []string, now time.Time) error {
	ds := make([]Delivery, len(payloads))
	for i, p := range payloads {
		ds[i] = Delivery{TicketKey: key, Kind: DeliverNotify, Payload: p}
	}
	return enqueueDeliveries(ctx, tx, ds, now)
}

func enqueueDeliveries(ctx context.Context, tx *sql.Tx, ds []Delivery, now time.Time) error {
	for _, d := range ds {
		kind := d.Kind
		if kind == "" {
			kind = DeliverNotify
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (ticket_key, kind, payload, created_at) VALUES (?, ?, ?, ?)`,
			d.TicketKey, kind, d.Payload, ts(now)); err != nil {
			return err
		}
	}
	return nil
}

// Enqueue queues notifications about a ticket.
func (s *DB) Enqueue(ctx context.Context, key string, payloads ...string) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return enqueue(ctx, tx, key, payloads, s.Now()) })
}

// EnqueueDeliveries queues deliveries in one transaction.
func (s *DB) EnqueueDeliveries(ctx context.Context, ds ...Delivery) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return enqueueDeliveries(ctx, tx, ds, s.Now()) })
}

const outboxCols = `id, ticket_key, kind, payload, attempts, last_error, created_at, coalesce(dead_at, ''), coalesce(sending_at, '')`

func (s *DB) queryOutbox(ctx context.Context, where string, args ...any) ([]OutboxItem, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+outboxCols+` FROM outbox `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []OutboxItem
	for rows.Next() {
		var o OutboxItem
		var created, dead, sending string
		if err := rows.Scan(&o.ID, &o.TicketKey, &o.Kind, &o.Payload, &o.Attempts, &o.LastError, &created, &dead, &sending); err != nil {
			return nil, err
		}
		o.Created, o.Dead, o.Sending = parseTS(created), parseTS(dead), parseTS(sending)
		out = append(out, o)
	}
	return out, rows.Err()
}

// PendingOutbox returns deliveries still to be sent, oldest first.
func (s *DB) PendingOutbox(ctx context.Context, limit int) ([]OutboxItem, error) {
	return s.queryOutbox(ctx, `WHERE sent_at IS NULL AND dead_at IS NULL ORDER BY id LIMIT ?`, limit)
}

// DeadLetters returns the deliveries set aside after a permanent failure,
// newest first.
func (s *DB) DeadLetters(ctx context.Context, limit int) ([]OutboxItem, error) {
	return s.queryOutbox(ctx, `WHERE dead_at IS NOT NULL ORDER BY id DESC LIMIT ?`, limit)
}

// DeadLettersBetween returns the deliveries set aside in [from, to), oldest
// first. Dead letters older than state.retention are pruned.
func (s *DB) DeadLettersBetween(ctx context.Context, from, to time.Time) ([]OutboxItem, error) {
	return s.queryOutbox(ctx, `WHERE dead_at >= ? AND dead_at < ? ORDER BY dead_at, id`, ts(from), ts(to))
}

// OutboxSending records that an attempt of a delivery starts now. It is a
// NORMAL commit: it survives patrol being killed during the attempt; after
// a host restart Recover treats every queued comment as attempted.
func (s *DB) OutboxSending(ctx context.Context, id int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE outbox SET sending_at = ? WHERE id = ?`, ts(s.Now()), id)
	return err
}

// OutboxSent marks a delivery sent.
func (s *DB) OutboxSent(ctx context.Context, id int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE outbox SET sent_at = ?, attempts = attempts + 1, last_error = '' WHERE id = ?`, ts(s.Now()), id)
	return err
}

// OutboxFailed records a failed attempt; the delivery stays queued.
func (s *DB) OutboxFailed(ctx context.Context, id int64, msg string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?`, msg, id)
	return err
}

// OutboxDead sets a delivery aside after a permanent failure: it is never
// sent, and no longer holds back the deliveries queued after it.
func (s *DB) OutboxDead(ctx context.Context, id int64, msg string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = ?, dead_at = ? WHERE id = ?`, msg, ts(s.Now()), id)
	return err
}
