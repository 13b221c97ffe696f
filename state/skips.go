package state

import (
	"context"
	"database/sql"
	"time"
)

// Skips is how many scheduled runs of one detection were skipped because
// its previous run was still going, and when the latest was.
type Skips struct {
	Count int64
	Last  time.Time
}

// RecordSkip counts one skipped run of detection, logs when it was, and
// returns the detection's total.
func (s *DB) RecordSkip(ctx context.Context, detection string) (int64, error) {
	var n int64
	now := ts(s.Now())
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO skip_log (detection, at) VALUES (?, ?)`, detection, now); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `INSERT INTO skipped_runs (detection, count, last_at) VALUES (?, 1, ?)
			ON CONFLICT (detection) DO UPDATE SET count = count + 1, last_at = excluded.last_at
			RETURNING count`, detection, now).Scan(&n)
	})
	return n, err
}

// SkippedRuns returns every detection's skipped runs.
func (s *DB) SkippedRuns(ctx context.Context) (map[string]Skips, error) {
	return s.skips(ctx, `SELECT detection, count, last_at FROM skipped_runs`)
}

// SkippedBetween returns, per detection, the runs skipped in [from, to)
// and the latest of them. Skips older than state.retention are pruned, and
// skips from before the log existed are only in SkippedRuns' totals.
func (s *DB) SkippedBetween(ctx context.Context, from, to time.Time) (map[string]Skips, error) {
	return s.skips(ctx, `SELECT detection, count(*), max(at) FROM skip_log WHERE at >= ? AND at < ? GROUP BY detection`, ts(from), ts(to))
}

func (s *DB) skips(ctx context.Context, query string, args ...any) (map[string]Skips, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]Skips{}
	for rows.Next() {
		var d, last string
		var sk Skips
		if err := rows.Scan(&d, &sk.Count, &last); err != nil {
			return nil, err
		}
		sk.Last = parseTS(last)
		out[d] = sk
	}
	return out, rows.Err()
}
