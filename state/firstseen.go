package state

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// FirstSeenState is what a first-seen detection keys its values on and when
// its learning started (event time).
type FirstSeenState struct {
	Signature  string
	LearnStart time.Time
}

// FirstSeenState returns detection's state, or nil before its first run.
func (s *DB) FirstSeenState(ctx context.Context, detection string) (*FirstSeenState, error) {
	var st FirstSeenState
	var start string
	err := s.db.QueryRowContext(ctx, `SELECT signature, learn_start FROM first_seen_state WHERE detection = ?`, detection).Scan(&st.Signature, &start)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	st.LearnStart = parseTS(start)
	return &st, nil
}

// SetFirstSeenState records detection's state.
func (s *DB) SetFirstSeenState(ctx context.Context, detection string, st FirstSeenState) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO first_seen_state (detection, signature, learn_start, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (detection) DO UPDATE SET signature = excluded.signature, learn_start = excluded.learn_start`,
		detection, st.Signature, ts(st.LearnStart), ts(s.Now()))
	return err
}

// ResetFirstSeen forgets detection's values and state: it learns again.
func (s *DB) ResetFirstSeen(ctx context.Context, detection string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM first_seen_values WHERE detection = ?`, detection); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM first_seen_state WHERE detection = ?`, detection)
		return err
	})
}

// SeenValue is one value combination a first-seen detection has seen.
type SeenValue struct {
	Key         string // hash of the values
	Value       string // the values, for people
	First, Last time.Time
	// Window is the start of the window that found it new (zero: the first
	// window of a detection that searched from the beginning).
	Window  time.Time
	Learned bool // recorded silently (learning or backfill)
}

// SeenValues returns the recorded values of detection among keys.
func (s *DB) SeenValues(ctx context.Context, detection string, keys []string) (map[string]SeenValue, error) {
	out := map[string]SeenValue{}
	const page = 400
	for i := 0; i < len(keys); i += page {
		chunk := keys[i:min(i+page, len(keys))]
		args := []any{detection}
		for _, k := range chunk {
			args = append(args, k)
		}
		rows, err := s.db.QueryContext(ctx, `SELECT value_key, value, first_seen, last_seen, window, learned FROM first_seen_values
			WHERE detection = ? AND value_key IN (?`+strings.Repeat(", ?", len(chunk)-1)+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var v SeenValue
			var first, last, window string
			if err := rows.Scan(&v.Key, &v.Value, &first, &last, &window, &v.Learned); err != nil {
				rows.Close()
				return nil, err
			}
			v.First, v.Last, v.Window = parseTS(first), parseTS(last), parseTS(window)
			out[v.Key] = v
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// PutSeenValues records values (replacing the rows of the same keys) in one
// transaction.
func (s *DB) PutSeenValues(ctx context.Context, detection string, vs []SeenValue) error {
	if len(vs) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO first_seen_values (detection, value_key, value, first_seen, last_seen, window, learned)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (detection, value_key) DO UPDATE SET value = excluded.value, first_seen = excluded.first_seen,
			  last_seen = excluded.last_seen, window = excluded.window, learned = excluded.learned`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, v := range vs {
			if _, err := st.ExecContext(ctx, detection, v.Key, v.Value, ts(v.First), ts(v.Last), ts(v.Window), v.Learned); err != nil {
				return err
			}
		}
		return nil
	})
}

// ExpireSeenValues forgets detection's values last seen before t.
func (s *DB) ExpireSeenValues(ctx context.Context, detection string, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM first_seen_values WHERE detection = ? AND last_seen < ?`, detection, ts(before))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// SeenValueCount returns how many values detection holds.
func (s *DB) SeenValueCount(ctx context.Context, detection string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM first_seen_values WHERE detection = ?`, detection).Scan(&n)
	return n, err
}
