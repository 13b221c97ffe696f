package state

import (
	"context"
	"database/sql"
	"strings"
	"time"
)

// AlertsUpdatedSince returns the alerts of the given detections recorded or
// updated at or after since, oldest update first: what a sequence detection
// reads of its steps.
func (s *DB) AlertsUpdatedSince(ctx context.Context, detections []string, since time.Time) ([]Alert, error) {
	if len(detections) == 0 {
		return nil, nil
	}
	args := []any{}
	for _, d := range detections {
		args = append(args, d)
	}
	args = append(args, ts(since))
	return s.queryAlerts(ctx, `WHERE detection IN (?`+strings.Repeat(", ?", len(detections)-1)+`) AND updated_at >= ?
		ORDER BY updated_at, id`, args...)
}

// SeqObservation is one step alert as a sequence detection read it.
type SeqObservation struct {
	Sequence    string
	Step        int
	AlertID     int64
	Key         string // the values of the step's `by` fields, joined
	First, Last time.Time
	Detection   string
	TicketKey   string
	Result      string // JSON of the step alert's result
}

// PutSeqObservations records observations (replacing earlier reads of the
// same alerts) in one transaction.
func (s *DB) PutSeqObservations(ctx context.Context, obs []SeqObservation) error {
	if len(obs) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO seq_observations
			(sequence, step, alert_id, join_key, first_seen, last_seen, detection, ticket_key, result)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (sequence, step, alert_id) DO UPDATE SET join_key = excluded.join_key,
			  first_seen = excluded.first_seen, last_seen = excluded.last_seen,
			  ticket_key = excluded.ticket_key, result = excluded.result`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, o := range obs {
			if _, err := st.ExecContext(ctx, o.Sequence, o.Step, o.AlertID, o.Key, ts(o.First), ts(o.Last), o.Detection, o.TicketKey, o.Result); err != nil {
				return err
			}
		}
		return nil
	})
}

// SeqObservations returns a sequence's observations with key, by step, then
// first sight.
func (s *DB) SeqObservations(ctx context.Context, sequence, key string) ([]SeqObservation, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT step, alert_id, first_seen, last_seen, detection, ticket_key, result
		FROM seq_observations WHERE sequence = ? AND join_key = ? ORDER BY step, first_seen, alert_id`, sequence, key)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SeqObservation
	for rows.Next() {
		o := SeqObservation{Sequence: sequence, Key: key}
		var first, last string
		if err := rows.Scan(&o.Step, &o.AlertID, &first, &last, &o.Detection, &o.TicketKey, &o.Result); err != nil {
			return nil, err
		}
		o.First, o.Last = parseTS(first), parseTS(last)
		out = append(out, o)
	}
	return out, rows.Err()
}

// Sequence instance states.
const (
	SeqOpen   = "open"   // may still fire
	SeqFired  = "fired"  // fired once; never again
	SeqClosed = "closed" // can no longer fire
)

// SeqInstance is one first-step alert of a sequence and what became of it.
type SeqInstance struct {
	Sequence string
	AnchorID int64 // the first step's alert
	Key      string
	Start    time.Time // event time of the first step
	State    string
	Result   string    // the result it fired with (JSON)
	FiredAt  time.Time // end of the window it fired in
}

// OpenSeqInstance records a first-step alert as an open instance, or moves
// an open one's start (a late event moved the alert's first sight).
// Instances that fired or closed are left alone.
func (s *DB) OpenSeqInstance(ctx context.Context, in SeqInstance) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO seq_instances (sequence, anchor_id, join_key, start_at, state, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (sequence, anchor_id) DO UPDATE SET join_key = excluded.join_key, start_at = excluded.start_at,
		  updated_at = excluded.updated_at WHERE state = 'open'`,
		in.Sequence, in.AnchorID, in.Key, ts(in.Start), SeqOpen, ts(s.Now()))
	return err
}

// SetSeqInstance stores an instance's state, result and firing window end.
func (s *DB) SetSeqInstance(ctx context.Context, in SeqInstance) error {
	_, err := s.db.ExecContext(ctx, `UPDATE seq_instances SET state = ?, result = ?, fired_at = ?, updated_at = ?
		WHERE sequence = ? AND anchor_id = ?`, in.State, in.Result, ts(in.FiredAt), ts(s.Now()), in.Sequence, in.AnchorID)
	return err
}

// SeqInstances returns a sequence's instances in state, oldest start first;
// for fired ones, only those fired in a window ending in (after, upTo].
func (s *DB) SeqInstances(ctx context.Context, sequence, state string, after, upTo time.Time) ([]SeqInstance, error) {
	q := `SELECT anchor_id, join_key, start_at, state, result, fired_at FROM seq_instances WHERE sequence = ? AND state = ?`
	args := []any{sequence, state}
	if state == SeqFired {
		q += ` AND fired_at > ? AND fired_at <= ?`
		args = append(args, ts(after), ts(upTo))
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY start_at, anchor_id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SeqInstance
	for rows.Next() {
		in := SeqInstance{Sequence: sequence}
		var start, fired string
		if err := rows.Scan(&in.AnchorID, &in.Key, &start, &in.State, &in.Result, &fired); err != nil {
			return nil, err
		}
		in.Start, in.FiredAt = parseTS(start), parseTS(fired)
		out = append(out, in)
	}
	return out, rows.Err()
}

// ResetSequence forgets a sequence's observations and open instances (its
// definition changed); instances that fired are kept, so they never fire again.
func (s *DB) ResetSequence(ctx context.Context, sequence string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM seq_observations WHERE sequence = ?`, sequence); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM seq_instances WHERE sequence = ? AND state != ?`, sequence, SeqFired)
		return err
	})
}
