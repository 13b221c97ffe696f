package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// LocalTicket is a ticket in the local ticket store (tickets.backend = "local").
type LocalTicket struct {
	Num         int64
	Key         string
	Summary     string
	Description string
	Severity    string
	Priority    string
	Status      string
	Labels      []string
	Assignee    string
	Component   string
	Resolution  string
	Created     time.Time
	Updated     time.Time
}

// LocalComment is a comment on a local ticket.
type LocalComment struct {
	Author, Body string
	At           time.Time
}

// LocalEvent is a change to a local ticket: a label added, a transition.
type LocalEvent struct {
	Kind, Value, By string
	At              time.Time
}

// Local event kinds.
const (
	EventLabelAdded   = "label_added"
	EventLabelRemoved = "label_removed"
	EventTransition   = "transition"
	EventResolution   = "resolution"
	EventLink         = "link"
)

// ErrNoTicket is returned for a key the local store does not have.
var ErrNoTicket = errors.New("no such ticket")

const localCols = `num, key, summary, description, severity, priority, status, labels, assignee, component, resolution, created_at, updated_at`

func scanLocal(row interface{ Scan(...any) error }) (*LocalTicket, error) {
	var t LocalTicket
	var labels, created, updated string
	if err := row.Scan(&t.Num, &t.Key, &t.Summary, &t.Description, &t.Severity, &t.Priority, &t.Status, &labels,
		&t.Assignee, &t.Component, &t.Resolution, &created, &updated); err != nil {
		return nil, err
	}
	_ = json.Unmarshal([]byte(labels), &t.Labels)
	t.Created, t.Updated = parseTS(created), parseTS(updated)
	return &t, nil
}

func (s *DB) localQuery(ctx context.Context, where string, args ...any) ([]LocalTicket, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+localCols+` FROM local_tickets `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []LocalTicket
	for rows.Next() {
		t, err := scanLocal(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *t)
	}
	return out, rows.Err()
}

// LocalCreate stores a new local ticket with key prefix-N.
func (s *DB) LocalCreate(ctx context.Context, prefix string, t LocalTicket) (*LocalTicket, error) {
	now := s.Now()
	labels, _ := json.Marshal(nonNil(t.Labels))
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO local_tickets (key, summary, description, severity, priority, status, labels, assignee, component, created_at, updated_at)
			VALUES ('', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, t.Summary, t.Description, t.Severity, t.Priority, t.Status, string(labels),
			t.Assignee, t.Component, ts(now), ts(now))
		if err != nil {
			return err
		}
		t.Num, _ = res.LastInsertId()
		t.Key = fmt.Sprintf("%s-%d", prefix, t.Num)
		_, err = tx.ExecContext(ctx, `UPDATE local_tickets SET key = ? WHERE num = ?`, t.Key, t.Num)
		return err
	})
	if err != nil {
		return nil, err
	}
	t.Created, t.Updated = now, now
	return &t, nil
}

// LocalGet returns a local ticket by key.
func (s *DB) LocalGet(ctx context.Context, key string) (*LocalTicket, error) {
	t, err := scanLocal(s.db.QueryRowContext(ctx, `SELECT `+localCols+` FROM local_tickets WHERE key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrNoTicket, key)
	}
	return t, err
}

// LocalWithLabel returns the local tickets carrying label, oldest first.
func (s *DB) LocalWithLabel(ctx context.Context, label string) ([]LocalTicket, error) {
	return s.localQuery(ctx, `WHERE EXISTS (SELECT 1 FROM json_each(labels) WHERE value = ?) ORDER BY num`, label)
}

// LocalUpdatedSince returns the tickets carrying label updated at or after
// since, oldest update first.
func (s *DB) LocalUpdatedSince(ctx context.Context, label string, since time.Time) ([]LocalTicket, error) {
	return s.localQuery(ctx, `WHERE updated_at >= ? AND EXISTS (SELECT 1 FROM json_each(labels) WHERE value = ?)
		ORDER BY updated_at, num`, ts(since), label)
}

// LocalAll returns every local ticket, oldest first.
func (s *DB) LocalAll(ctx context.Context) ([]LocalTicket, error) {
	return s.localQuery(ctx, `ORDER BY num`)
}

func (s *DB) touch(ctx context.Context, tx *sql.Tx, key string) error {
	res, err := tx.ExecContext(ctx, `UPDATE local_tickets SET updated_at = ? WHERE key = ?`, ts(s.Now()), key)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %s", ErrNoTicket, key)
	}
	return nil
}

// LocalComment adds a comment to a local ticket.
func (s *DB) LocalComment(ctx context.Context, key, author, body string) error {
	_, err := s.LocalCommentAt(ctx, key, author, body)
	return err
}

// LocalCommentAt adds a comment to a local ticket and returns its time.
func (s *DB) LocalCommentAt(ctx context.Context, key, author, body string) (time.Time, error) {
	now := s.Now()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.touch(ctx, tx, key); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO local_comments (ticket_key, author, body, at) VALUES (?, ?, ?, ?)`, key, author, body, ts(now))
		return err
	})
	return now, err
}

// LocalComments returns a local ticket's comments in order.
func (s *DB) LocalComments(ctx context.Context, key string) ([]LocalComment, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT author, body, at FROM local_comments WHERE ticket_key = ? ORDER BY id`, key)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []LocalComment
	for rows.Next() {
		var c LocalComment
		var at string
		if err := rows.Scan(&c.Author, &c.Body, &at); err != nil {
			return nil, err
		}
		c.At = parseTS(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

// LocalAddLabel adds label to a local ticket (if absent) and records who did.
func (s *DB) LocalAddLabel(ctx context.Context, key, label, by string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.touch(ctx, tx, key); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE local_tickets SET labels = json_insert(labels, '$[#]', ?)
			WHERE key = ? AND NOT EXISTS (SELECT 1 FROM json_each(labels) WHERE value = ?)`, label, key, label); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO local_events (ticket_key, kind, value, by_user, at) VALUES (?, ?, ?, ?, ?)`,
			key, EventLabelAdded, label, by, ts(s.Now()))
		return err
	})
}

// LocalRemoveLabel removes label from a local ticket and records who did.
func (s *DB) LocalRemoveLabel(ctx context.Context, key, label, by string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.touch(ctx, tx, key); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE local_tickets SET labels = (SELECT json_group_array(value) FROM json_each(labels) WHERE value != ?)
			WHERE key = ?`, label, key); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO local_events (ticket_key, kind, value, by_user, at) VALUES (?, ?, ?, ?, ?)`,
			key, EventLabelRemoved, label, by, ts(s.Now()))
		return err
	})
}

// LocalTransition sets a local ticket's status.
func (s *DB) LocalTransition(ctx context.Context, key, status, by string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.touch(ctx, tx, key); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE local_tickets SET status = ? WHERE key = ?`, status, key); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO local_events (ticket_key, kind, value, by_user, at) VALUES (?, ?, ?, ?, ?)`,
			key, EventTransition, status, by, ts(s.Now()))
		return err
	})
}

// LocalResolve moves a local ticket to status with a resolution, as by:
// what a person does when they close a ticket. A status that is not a done
// one clears the resolution, as Jira's workflows do when reopening.
func (s *DB) LocalResolve(ctx context.Context, key, status, resolution, by string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.touch(ctx, tx, key); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE local_tickets SET status = ?, resolution = ? WHERE key = ?`, status, resolution, key); err != nil {
			return err
		}
		for _, ev := range [][2]string{{EventTransition, status}, {EventResolution, resolution}} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO local_events (ticket_key, kind, value, by_user, at) VALUES (?, ?, ?, ?, ?)`,
				key, ev[0], ev[1], by, ts(s.Now())); err != nil {
				return err
			}
		}
		return nil
	})
}

// LocalLink records that a local ticket relates to another.
func (s *DB) LocalLink(ctx context.Context, key, other, by string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.touch(ctx, tx, key); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO local_events (ticket_key, kind, value, by_user, at) VALUES (?, ?, ?, ?, ?)`,
			key, EventLink, other, by, ts(s.Now()))
		return err
	})
}

// LocalSetRoute sets a local ticket's assignee and component where given.
func (s *DB) LocalSetRoute(ctx context.Context, key, assignee, component string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.touch(ctx, tx, key); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE local_tickets SET
			assignee = CASE WHEN ? != '' THEN ? ELSE assignee END,
			component = CASE WHEN ? != '' THEN ? ELSE component END WHERE key = ?`, assignee, assignee, component, component, key)
		return err
	})
}

// LocalEvents returns a local ticket's events of kind in order.
func (s *DB) LocalEvents(ctx context.Context, key, kind string) ([]LocalEvent, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT kind, value, by_user, at FROM local_events WHERE ticket_key = ? AND kind = ? ORDER BY id`, key, kind)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []LocalEvent
	for rows.Next() {
		var e LocalEvent
		var at string
		if err := rows.Scan(&e.Kind, &e.Value, &e.By, &at); err != nil {
			return nil, err
		}
		e.At = parseTS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}
