package state

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Checkpoint returns the end of the last fully handled window of detection.
func (s *DB) Checkpoint(ctx context.Context, detection string) (time.Time, bool, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT window_end FROM checkpoints WHERE detection = ?`, detection).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	return parseTS(v), true, nil
}

// Checkpoints returns every detection's checkpoint.
func (s *DB) Checkpoints(ctx context.Context) (map[string]time.Time, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT detection, window_end FROM checkpoints`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var d, v string
		if err := rows.Scan(&d, &v); err != nil {
			return nil, err
		}
		out[d] = parseTS(v)
	}
	return out, rows.Err()
}

// Hit is the search results of one fingerprint within one second of one
// window, aggregated.
type Hit struct {
	Fingerprint string
	// Class keeps apart results that must not share an alert: "" (live),
	// "shadow", or "silence:ID" (muted by that silence).
	Class       string
	At          time.Time // the results' time, truncated to the second
	Count       int
	First, Last time.Time
	Result      string // JSON of the first result seen
}

// ClearHits empties detection's window staging (a window is starting): its
// results, and the remote objects it had read but not completed.
func (s *DB) ClearHits(ctx context.Context, detection string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM window_hits WHERE detection = ?`, detection); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM window_objects WHERE detection = ? AND committed = 0`, detection)
		return err
	})
}

// AddHits adds results to the window staging in one transaction.
func (s *DB) AddHits(ctx context.Context, detection string, hits []Hit) error {
	if len(hits) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO window_hits (detection, fingerprint, class, at, count, first_seen, last_seen, result)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (detection, fingerprint, class, at) DO UPDATE SET
			  count = count + excluded.count,
			  first_seen = min(first_seen, excluded.first_seen),
			  last_seen = max(last_seen, excluded.last_seen)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, h := range hits {
			at := h.At
			if at.IsZero() {
				at = h.First.Truncate(time.Second)
			}
			if _, err := st.ExecContext(ctx, detection, h.Fingerprint, h.Class, ts(at), h.Count, ts(h.First), ts(h.Last), h.Result); err != nil {
				return err
			}
		}
		return nil
	})
}

// Hits returns up to limit staged hits after the given one, in order of
// first sight (then fingerprint and class): callers page through a window
// without holding it all, and alerts open in the order their events
// happened.
func (s *DB) Hits(ctx context.Context, detection string, after *Hit, limit int) ([]Hit, error) {
	var afterTS, afterFP, afterClass string
	if after != nil {
		afterTS, afterFP, afterClass = ts(after.First), after.Fingerprint, after.Class
	}
	rows, err := s.db.QueryContext(ctx, `SELECT fingerprint, class, at, count, first_seen, last_seen, result FROM window_hits
		WHERE detection = ?1 AND (first_seen > ?2 OR (first_seen = ?2 AND (fingerprint > ?3 OR (fingerprint = ?3 AND class > ?4))))
		ORDER BY first_seen, fingerprint, class LIMIT ?5`, detection, afterTS, afterFP, afterClass, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Hit
	for rows.Next() {
		var h Hit
		var at, first, last string
		if err := rows.Scan(&h.Fingerprint, &h.Class, &at, &h.Count, &first, &last, &h.Result); err != nil {
			return nil, err
		}
		h.At, h.First, h.Last = parseTS(at), parseTS(first), parseTS(last)
		out = append(out, h)
	}
	return out, rows.Err()
}

// CompleteWindow advances detection's checkpoint to end, clears its staged
// results and commits the remote objects it read (pruning those no later
// window can reach back to), in one transaction.
func (s *DB) CompleteWindow(ctx context.Context, detection string, end time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO checkpoints (detection, window_end, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (detection) DO UPDATE SET window_end = excluded.window_end, updated_at = excluded.updated_at`,
			detection, ts(end), ts(s.Now())); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM window_hits WHERE detection = ?`, detection); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE window_objects SET committed = 1 WHERE detection = ? AND committed = 0`, detection); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM window_objects WHERE detection = ? AND keep_until < ?`, detection, ts(end))
		return err
	})
}

// Run is one job run in the history.
type Run struct {
	ID                                int64
	Job, Detection                    string
	WindowStart, WindowEnd            time.Time
	Started, Finished                 time.Time
	Results, Alerts, Tickets, Actions int
	Error                             string
	// Cancelled marks a run stopped by a clean shutdown or a reload: not a
	// success, not a failure (Error says why it stopped).
	Cancelled bool
}

// StartRun records that a run began and returns its id.
func (s *DB) StartRun(ctx context.Context, r Run) (int64, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO runs (job, detection, window_start, window_end, started_at) VALUES (?, ?, ?, ?, ?)`,
		r.Job, r.Detection, ts(r.WindowStart), ts(r.WindowEnd), ts(s.Now()))
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// FinishRun records a run's outcome. It uses a fresh context so that a run
// cancelled at shutdown is still recorded.
func (s *DB) FinishRun(r Run) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := s.db.ExecContext(ctx, `UPDATE runs SET window_start = ?, window_end = ?, finished_at = ?, results = ?, alerts = ?, tickets = ?, actions = ?, error = ?, cancelled = ? WHERE id = ?`,
		ts(r.WindowStart), ts(r.WindowEnd), ts(s.Now()), r.Results, r.Alerts, r.Tickets, r.Actions, r.Error, r.Cancelled, r.ID)
	return err
}

// LastRuns returns, per detection (and job), the latest finished run, the
// latest successful one's finish time and the failures since, and when a
// newer run is still unfinished (running, or stopped by a crash), when it
// started. An unfinished run is neither a success nor a failure.
func (s *DB) LastRuns(ctx context.Context) ([]RunSummary, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT k.job, k.detection,
		  coalesce(r.started_at, ''), coalesce(r.finished_at, ''), coalesce(r.error, ''), coalesce(r.cancelled, 0),
		  (SELECT coalesce(max(finished_at), '') FROM runs s WHERE s.job = k.job AND s.detection = k.detection AND s.error = '' AND s.finished_at IS NOT NULL),
		  (SELECT count(*) FROM runs f WHERE f.job = k.job AND f.detection = k.detection AND f.error != '' AND f.cancelled = 0 AND f.finished_at IS NOT NULL
		     AND f.id > coalesce((SELECT max(id) FROM runs g WHERE g.job = k.job AND g.detection = k.detection AND g.error = '' AND g.finished_at IS NOT NULL), 0)),
		  (SELECT coalesce(max(started_at), '') FROM runs u WHERE u.job = k.job AND u.detection = k.detection AND u.finished_at IS NULL
		     AND u.id > coalesce(r.id, 0))
		FROM (SELECT job, detection, max(CASE WHEN finished_at IS NOT NULL THEN id END) AS last FROM runs GROUP BY job, detection) k
		LEFT JOIN runs r ON r.id = k.last
		ORDER BY k.job, k.detection`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RunSummary
	for rows.Next() {
		var rs RunSummary
		var started, finished, ok, unfinished string
		if err := rows.Scan(&rs.Job, &rs.Detection, &started, &finished, &rs.LastError, &rs.LastCancelled, &ok, &rs.FailuresInRow, &unfinished); err != nil {
			return nil, err
		}
		rs.LastStart, rs.LastFinish, rs.LastSuccess = parseTS(started), parseTS(finished), parseTS(ok)
		rs.Unfinished = parseTS(unfinished)
		out = append(out, rs)
	}
	return out, rows.Err()
}

// RunSummary is the latest state of one job (or one detection's job).
type RunSummary struct {
	Job, Detection        string
	LastStart, LastFinish time.Time // of the latest finished run
	LastSuccess           time.Time
	LastError             string
	LastCancelled         bool // the latest run was cancelled (LastError says why)
	FailuresInRow         int
	// Unfinished is the start of a run newer than the latest finished one
	// that has not finished: running now, or stopped by a crash.
	Unfinished time.Time
}

// Meta reads a small named value (the respond watermark, say).
func (s *DB) Meta(ctx context.Context, key string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// SetMeta writes a small named value.
func (s *DB) SetMeta(ctx context.Context, key, value string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}

// MetaTime and SetMetaTime store a time under key.
func (s *DB) MetaTime(ctx context.Context, key string) (time.Time, error) {
	v, err := s.Meta(ctx, key)
	return parseTS(v), err
}

// SetMetaTime stores a time under key.
func (s *DB) SetMetaTime(ctx context.Context, key string, t time.Time) error {
	return s.SetMeta(ctx, key, ts(t))
}

// FailuresInRow counts a job's failed runs since its last success; for the
// detect job, of one detection ("" for the respond job). Cancelled runs are
// not failures.
func (s *DB) FailuresInRow(ctx context.Context, job, detection string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM runs WHERE job = ?1 AND detection = ?2 AND error != '' AND cancelled = 0 AND finished_at IS NOT NULL
		AND id > coalesce((SELECT max(id) FROM runs WHERE job = ?1 AND detection = ?2 AND error = '' AND finished_at IS NOT NULL), 0)`, job, detection).Scan(&n)
	return n, err
}

// Prune deletes run history (runs and the skip log), sent deliveries and
// dead letters older than before. The latest finished run and the latest
// successful run of each job are kept, and the audit trail (alerts,
// tickets, actions, plans, approvals) is never pruned.
func (s *DB) Prune(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM runs WHERE finished_at IS NOT NULL AND finished_at < ?
			AND id NOT IN (SELECT max(id) FROM runs WHERE finished_at IS NOT NULL GROUP BY job, detection)
			AND id NOT IN (SELECT max(id) FROM runs WHERE error = '' AND finished_at IS NOT NULL GROUP BY job, detection)`, ts(before))
		if err != nil {
			return err
		}
		a, _ := res.RowsAffected()
		if res, err = tx.ExecContext(ctx, `DELETE FROM outbox WHERE (sent_at IS NOT NULL AND sent_at < ?1) OR (dead_at IS NOT NULL AND dead_at < ?1)`, ts(before)); err != nil {
			return err
		}
		b, _ := res.RowsAffected()
		if res, err = tx.ExecContext(ctx, `DELETE FROM skip_log WHERE at < ?`, ts(before)); err != nil {
			return err
		}
		c, _ := res.RowsAffected()
		n = a + b + c
		return nil
	})
	return n, err
}
