package state

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// QueueDigest records that digest name's schedule tick is queued, with its
// delivery, in one transaction. It reports false, and queues nothing, when
// that tick was queued before: a tick is sent once, across restarts.
func (s *DB) QueueDigest(ctx context.Context, name string, tick, since time.Time, d Delivery) (bool, error) {
	queued := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := s.Now()
		res, err := tx.ExecContext(ctx, `INSERT INTO digests (name, tick, since, queued_at) VALUES (?, ?, ?, ?) ON CONFLICT (name, tick) DO NOTHING`,
			name, ts(tick), ts(since), ts(now))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		queued = true
		return enqueueDeliveries(ctx, tx, []Delivery{d}, now)
	})
	return queued, err
}

// LastDigest returns the latest tick queued for digest name, or zero.
func (s *DB) LastDigest(ctx context.Context, name string) (time.Time, error) {
	var tick string
	err := s.db.QueryRowContext(ctx, `SELECT tick FROM digests WHERE name = ? ORDER BY tick DESC LIMIT 1`, name).Scan(&tick)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	return parseTS(tick), err
}

// outcomePhases are the action phases that say how an attempt ended (or
// that a dry run was recorded).
var outcomePhases = map[string]bool{PhaseSucceeded: true, PhaseFailed: true, PhaseRefused: true, PhaseInterrupted: true,
	PhaseReverted: true, PhaseRevertFailed: true, PhaseRevertRefused: true}

// ActionOutcomes returns the action rows in (since, until] that say how an
// attempt ended, dry runs included, oldest first.
func (s *DB) ActionOutcomes(ctx context.Context, since, until time.Time) ([]ActionEvent, error) {
	all, err := s.queryActions(ctx, `WHERE at > ? AND at <= ? ORDER BY at, id`, ts(since), ts(until))
	if err != nil {
		return nil, err
	}
	var out []ActionEvent
	for _, a := range all {
		if outcomePhases[a.Phase] || (a.Phase == PhasePlanned && a.DryRun) {
			out = append(out, a)
		}
	}
	return out, nil
}
