package state

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// Verdict is how a person resolved one of patrol's tickets.
type Verdict struct {
	TicketKey     string
	Detection     string
	Resolution    string
	FalsePositive bool
	By            string
	At            time.Time // when it was resolved (the tracker's clock, or the poll's)
}

func recordVerdict(ctx context.Context, tx *sql.Tx, v Verdict, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO verdicts (ticket_key, detection, resolution, false_positive, by_user, at, recorded_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ticket_key) DO UPDATE SET resolution = excluded.resolution,
		false_positive = excluded.false_positive, by_user = excluded.by_user, at = excluded.at, recorded_at = excluded.recorded_at`,
		v.TicketKey, v.Detection, v.Resolution, v.FalsePositive, v.By, ts(v.At), ts(now))
	return err
}

// TicketVerdict returns the verdict recorded for a ticket, or nil.
func (s *DB) TicketVerdict(ctx context.Context, key string) (*Verdict, error) {
	v := Verdict{TicketKey: key}
	var at string
	err := s.db.QueryRowContext(ctx, `SELECT detection, resolution, false_positive, by_user, at FROM verdicts WHERE ticket_key = ?`, key).
		Scan(&v.Detection, &v.Resolution, &v.FalsePositive, &v.By, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	v.At = parseTS(at)
	return &v, err
}

// VerdictCounts returns, per detection, the tickets resolved in [from, to)
// as true positives and as false positives (a zero to: up to now).
func (s *DB) VerdictCounts(ctx context.Context, from, to time.Time) (map[string][2]int, error) {
	return s.pairsByDetection(ctx, `SELECT detection, sum(1 - false_positive), sum(false_positive) FROM verdicts
		WHERE at >= ?1 AND (?2 = '' OR at < ?2) GROUP BY detection`, ts(from), ts(to))
}

// pairsByDetection runs query, whose rows are a detection and two counts,
// and returns the counts by detection.
func (s *DB) pairsByDetection(ctx context.Context, query string, args ...any) (map[string][2]int, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][2]int{}
	for rows.Next() {
		var d string
		var a, b int
		if err := rows.Scan(&d, &a, &b); err != nil {
			return nil, err
		}
		out[d] = [2]int{a, b}
	}
	return out, rows.Err()
}

// MuteCount is what one exception or silence muted.
type MuteCount struct {
	Detection string // exceptions: the detection; silences: ""
	Key       string // the exception's key, the silence's id
	Alerts    int    // silences: the alerts recorded as silenced
	Results   int
	First     time.Time
	Last      time.Time
}

// ExceptionCounts returns what each detection's exceptions dropped from
// results first seen in [from, to) (zero bounds: open).
func (s *DB) ExceptionCounts(ctx context.Context, from, to time.Time) ([]MuteCount, error) {
	return s.muteCounts(ctx, `SELECT detection, exception, 0, sum(count), min(first_seen), max(last_seen)
		FROM exception_counts WHERE first_seen >= ?1 AND (?2 = '' OR first_seen < ?2)
		GROUP BY detection, exception ORDER BY detection, exception`, from, to)
}

// SilenceCounts returns what each silence muted of the alerts first seen
// in [from, to) (zero bounds: open): its alerts and their results.
func (s *DB) SilenceCounts(ctx context.Context, from, to time.Time) ([]MuteCount, error) {
	return s.muteCounts(ctx, `SELECT '', silence_id, count(*), sum(count), min(first_seen), max(last_seen)
		FROM alerts WHERE state = 'silenced' AND first_seen >= ?1 AND (?2 = '' OR first_seen < ?2)
		GROUP BY silence_id ORDER BY silence_id`, from, to)
}

func (s *DB) muteCounts(ctx context.Context, q string, from, to time.Time) ([]MuteCount, error) {
	rows, err := s.db.QueryContext(ctx, q, ts(from), ts(to))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []MuteCount
	for rows.Next() {
		var m MuteCount
		var first, last string
		if err := rows.Scan(&m.Detection, &m.Key, &m.Alerts, &m.Results, &first, &last); err != nil {
			return nil, err
		}
		m.First, m.Last = parseTS(first), parseTS(last)
		out = append(out, m)
	}
	return out, rows.Err()
}

// ShadowAlerts returns the shadow alerts of the given detections (all
// when none is given), newest first.
func (s *DB) ShadowAlerts(ctx context.Context, detections ...string) ([]Alert, error) {
	q := `WHERE state = 'shadow'`
	args := []any{}
	if len(detections) > 0 {
		q += ` AND detection IN (?` + strings.Repeat(", ?", len(detections)-1) + `)`
		for _, d := range detections {
			args = append(args, d)
		}
	}
	return s.queryAlerts(ctx, q+` ORDER BY first_seen DESC, id DESC`, args...)
}

// FailuresInARow counts the real (not dry-run) action attempts that
// failed in a row, newest first, among those that ended after since: the
// circuit breaker. Only the last limit attempts are read.
func (s *DB) FailuresInARow(ctx context.Context, since time.Time, limit int) (int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT phase FROM actions WHERE dry_run = 0 AND phase IN (?, ?) AND at > ?
		ORDER BY id DESC LIMIT ?`, PhaseSucceeded, PhaseFailed, ts(since), limit)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var phase string
		if err := rows.Scan(&phase); err != nil {
			return 0, err
		}
		if phase != PhaseFailed {
			break
		}
		n++
	}
	return n, rows.Err()
}
