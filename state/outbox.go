package state

import (
	"context"
	"database/sql"
	"time"
)

// OutboxItem is a notification waiting to be sent. Payload is opaque to
// state (the poller's JSON).
type OutboxItem struct {
	ID        int64
	TicketKey string
	Payload   string
	Attempts  int
	LastError string
	Created   time.Time
}

func enqueue(ctx context.Context, tx *sql.Tx, key string, payloads []string, now time.Time) error {
	for _, p := range payloads {
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (ticket_key, payload, created_at) VALUES (?, ?, ?)`, key, p, ts(now)); err != nil {
			return err
		}
	}
	return nil
}

// Enqueue queues notifications about a ticket.
func (s *DB) Enqueue(ctx context.Context, key string, payloads ...string) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return enqueue(ctx, tx, key, payloads, s.Now()) })
}

// PendingOutbox returns unsent notifications, oldest first.
func (s *DB) PendingOutbox(ctx context.Context, limit int) ([]OutboxItem, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, ticket_key, payload, attempts, last_error, created_at FROM outbox
		WHERE sent_at IS NULL ORDER BY id LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []OutboxItem
	for rows.Next() {
		var o OutboxItem
		var created string
		if err := rows.Scan(&o.ID, &o.TicketKey, &o.Payload, &o.Attempts, &o.LastError, &created); err != nil {
			return nil, err
		}
		o.Created = parseTS(created)
		out = append(out, o)
	}
	return out, rows.Err()
}

// OutboxSent marks a notification sent.
func (s *DB) OutboxSent(ctx context.Context, id int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE outbox SET sent_at = ?, attempts = attempts + 1, last_error = '' WHERE id = ?`, ts(s.Now()), id)
	return err
}

// OutboxFailed records a failed send; the item stays queued.
func (s *DB) OutboxFailed(ctx context.Context, id int64, msg string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?`, msg, id)
	return err
}
