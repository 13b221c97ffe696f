package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Ticket stages in the respond job.
const (
	StageNew      = "new"      // not handled yet
	StageEnriched = "enriched" // enrichment comment posted
	StageApproval = "approval" // plan posted, waiting for an approver
	StageDeferred = "deferred" // action held back (hourly budget, circuit breaker): retried each pass
	StageGrace    = "grace"    // automatic action waits for its grace period to end (or a hold)
	// StageVerify: an action started and its outcome is not recorded (patrol
	// stopped, or the run's time ran out, while it ran): each pass reads the
	// resource back until it can say whether the change is in place.
	StageVerify = "verify"
	StageDone   = "done"   // nothing more to do (remediated, dry run recorded, or no action)
	StageFailed = "failed" // the action failed or was refused: a person takes over
)

// TicketRow is a ticket in the ledger.
type TicketRow struct {
	Key, ID     string
	Detection   string
	Fingerprint string
	Summary     string
	Status      string
	Labels      []string
	URL         string
	Stage       string
	UpdatedSeen time.Time // the tracker's `updated` last handled
	EnrichedAt  time.Time
	PlannedAt   time.Time // plan posted for approval
	Thread      string    // notifier thread reference
	Channel     string    // routed notification channel
	Note        string    // why the ticket is in its stage
	// Fields is the JSON of the event fields of a ticket patrol did not
	// make, as first read: written once, when the ticket enters the ledger.
	Fields string
	// FieldsReported is the JSON of the last edited fields reported on the
	// ticket (edits are reported once each, never followed).
	FieldsReported string
	// Done and Resolution are what the tracker last said: the status is
	// a done one (Jira's status category), and how it was resolved.
	Done       bool
	Resolution string
	// ReopenedAt is when patrol queued a reopen for a recurrence.
	ReopenedAt time.Time
	// GraceUntil is when an automatic remediation in its grace period
	// runs; HeldBy and HeldAt say who held it (it then needs approval).
	GraceUntil time.Time
	HeldBy     string
	HeldAt     time.Time
	Created    time.Time
	Updated    time.Time
}

// Closed reports whether the tracker's done status is current: not one
// reported before patrol queued a reopen.
func (t TicketRow) Closed() bool {
	return t.Done && (t.ReopenedAt.IsZero() || t.UpdatedSeen.After(t.ReopenedAt))
}

const ticketCols = `key, id, detection, fingerprint, summary, status, labels, url, stage, updated_seen, enriched_at, planned_at,
	thread, channel, note, fields, fields_reported, done, resolution, reopened_at, grace_until, held_by, held_at, created_at, updated_at`

func scanTicket(row interface{ Scan(...any) error }) (*TicketRow, error) {
	var t TicketRow
	var labels, seen, created, updated string
	var enriched, planned, reopened, grace, held sql.NullString
	err := row.Scan(&t.Key, &t.ID, &t.Detection, &t.Fingerprint, &t.Summary, &t.Status, &labels, &t.URL, &t.Stage, &seen,
		&enriched, &planned, &t.Thread, &t.Channel, &t.Note, &t.Fields, &t.FieldsReported, &t.Done, &t.Resolution,
		&reopened, &grace, &t.HeldBy, &held, &created, &updated)
	if err != nil {
		return nil, err
	}
	_ = json.Unmarshal([]byte(labels), &t.Labels)
	t.UpdatedSeen, t.Created, t.Updated = parseTS(seen), parseTS(created), parseTS(updated)
	t.EnrichedAt, t.PlannedAt = nullTS(enriched), nullTS(planned)
	t.ReopenedAt, t.GraceUntil, t.HeldAt = nullTS(reopened), nullTS(grace), nullTS(held)
	return &t, nil
}

func upsertTicket(ctx context.Context, tx *sql.Tx, t TicketRow, now time.Time) error {
	labels, _ := json.Marshal(nonNil(t.Labels))
	if t.Stage == "" {
		t.Stage = StageNew
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO tickets (key, id, detection, fingerprint, summary, status, labels, url, stage, channel, fields,
		  done, resolution, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET id = excluded.id, summary = excluded.summary, status = excluded.status,
		  labels = excluded.labels, url = excluded.url, updated_at = excluded.updated_at,
		  done = excluded.done, resolution = excluded.resolution,
		  detection = CASE WHEN detection = '' THEN excluded.detection ELSE detection END,
		  fingerprint = CASE WHEN fingerprint = '' THEN excluded.fingerprint ELSE fingerprint END,
		  channel = CASE WHEN excluded.channel != '' THEN excluded.channel ELSE channel END`,
		t.Key, t.ID, t.Detection, t.Fingerprint, t.Summary, t.Status, string(labels), t.URL, t.Stage, t.Channel, t.Fields,
		t.Done, t.Resolution, ts(now), ts(now))
	return err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// UpsertTicket adds a ticket to the ledger or refreshes what the tracker
// says of it (summary, status, labels), keeping patrol's own columns. A
// ticket's Fields are written when it is added, never after.
func (s *DB) UpsertTicket(ctx context.Context, t TicketRow) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return upsertTicket(ctx, tx, t, s.Now()) })
}

// Ticket returns a ledger row, or nil.
func (s *DB) Ticket(ctx context.Context, key string) (*TicketRow, error) {
	t, err := scanTicket(s.db.QueryRowContext(ctx, `SELECT `+ticketCols+` FROM tickets WHERE key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return t, err
}

// TicketUpdate changes patrol's columns of a ledger row; nil fields stay.
type TicketUpdate struct {
	Stage       *string
	Note        *string
	UpdatedSeen *time.Time
	EnrichedAt  *time.Time
	PlannedAt   *time.Time
	Thread      *string
	Channel     *string
	// FieldsReported records the edited fields last reported.
	FieldsReported *string
	GraceUntil     *time.Time
	HeldBy         *string
	HeldAt         *time.Time
}

// UpdateTicket applies u to the ledger row key.
func (s *DB) UpdateTicket(ctx context.Context, key string, u TicketUpdate) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return updateTicket(ctx, tx, key, u, s.Now()) })
}

func updateTicket(ctx context.Context, tx *sql.Tx, key string, u TicketUpdate, now time.Time) error {
	var sets []string
	var args []any
	add := func(col string, v any) { sets = append(sets, col+" = ?"); args = append(args, v) }
	if u.Stage != nil {
		add("stage", *u.Stage)
	}
	if u.Note != nil {
		add("note", *u.Note)
	}
	if u.UpdatedSeen != nil {
		add("updated_seen", ts(*u.UpdatedSeen))
	}
	if u.EnrichedAt != nil {
		add("enriched_at", ts(*u.EnrichedAt))
	}
	if u.PlannedAt != nil {
		add("planned_at", ts(*u.PlannedAt))
	}
	if u.Thread != nil {
		add("thread", *u.Thread)
	}
	if u.Channel != nil {
		add("channel", *u.Channel)
	}
	if u.FieldsReported != nil {
		add("fields_reported", *u.FieldsReported)
	}
	if u.GraceUntil != nil {
		add("grace_until", nullable(*u.GraceUntil))
	}
	if u.HeldBy != nil {
		add("held_by", *u.HeldBy)
	}
	if u.HeldAt != nil {
		add("held_at", nullable(*u.HeldAt))
	}
	if len(sets) == 0 {
		return nil
	}
	add("updated_at", ts(now))
	args = append(args, key)
	_, err := tx.ExecContext(ctx, `UPDATE tickets SET `+strings.Join(sets, ", ")+` WHERE key = ?`, args...)
	return err
}

// TicketsInStage lists ledger rows in any of stages, oldest first.
func (s *DB) TicketsInStage(ctx context.Context, stages ...string) ([]TicketRow, error) {
	q := `SELECT ` + ticketCols + ` FROM tickets`
	var args []any
	if len(stages) > 0 {
		q += ` WHERE stage IN (?` + strings.Repeat(", ?", len(stages)-1) + `)`
		for _, st := range stages {
			args = append(args, st)
		}
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY created_at, key`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []TicketRow
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *t)
	}
	return out, rows.Err()
}
