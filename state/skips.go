package state

import (
	"context"
	"time"
)

// Skips is how many scheduled runs of one detection were skipped because
// its previous run was still going, and when the latest was.
type Skips struct {
	Count int64
	Last  time.Time
}

// RecordSkip counts one skipped run of detection and returns its total.
func (s *DB) RecordSkip(ctx context.Context, detection string) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `INSERT INTO skipped_runs (detection, count, last_at) VALUES (?, 1, ?)
		ON CONFLICT (detection) DO UPDATE SET count = count + 1, last_at = excluded.last_at
		RETURNING count`, detection, ts(s.Now())).Scan(&n)
	return n, err
}

// SkippedRuns returns every detection's skipped runs.
func (s *DB) SkippedRuns(ctx context.Context) (map[string]Skips, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT detection, count, last_at FROM skipped_runs`)
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
