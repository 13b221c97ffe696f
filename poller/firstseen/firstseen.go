// Package firstseen answers [first_seen] detections: it runs the detection's
// search and keeps only the results whose value combination (of the
// detection's first_seen fields) was not seen within its history. The
// combinations live in SQLite with the event times of their first and last
// sight, so restarts and reloads never make old values look new; a
// combination unseen for longer than the history expires.
//
// A new detection learns silently: every result whose event time falls in
// its learning span (first_seen.learn from its first window's start) is
// recorded and dropped. With first_seen.backfill it instead searches its
// history once, before its first window, and records what it finds, also
// without alerting. A first window that starts at the beginning of the data
// (search.local.first_run = "all", `patrol test`) has no history before it:
// learning then starts at its earliest result, and a backfilling detection
// learns that whole first window instead.
package firstseen

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/state"
)

// Store is the part of the state the filter uses.
type Store interface {
	FirstSeenState(ctx context.Context, detection string) (*state.FirstSeenState, error)
	SetFirstSeenState(ctx context.Context, detection string, st state.FirstSeenState) error
	ResetFirstSeen(ctx context.Context, detection string) error
	SeenValues(ctx context.Context, detection string, keys []string) (map[string]state.SeenValue, error)
	PutSeenValues(ctx context.Context, detection string, vs []state.SeenValue) error
	ExpireSeenValues(ctx context.Context, detection string, before time.Time) (int64, error)
}

var _ Store = (*state.DB)(nil)

// Filter answers first-seen detections for the detect job (a poller.Kind).
type Filter struct {
	Store Store
	// Searcher runs the detections' searches (the configured backend).
	Searcher poller.Searcher
	// BackfillChunk bounds one backfill search (0: one day).
	BackfillChunk time.Duration
	Logger        *slog.Logger
}

// SearcherFor implements poller.Kind.
func (f *Filter) SearcherFor(d *detections.Detection) poller.Searcher {
	if d.FirstSeen == nil {
		return nil
	}
	return searcher{f: f, d: d}
}

type searcher struct {
	f *Filter
	d *detections.Detection
}

// batchSize is how many results are decided per state round trip.
const batchSize = 500

// Search runs the detection's search over q's window and emits only the
// results with a value combination new in it.
func (s searcher) Search(ctx context.Context, q poller.Query, emit func(poller.Result) error) error {
	f, d := s.f, s.d
	learnUntil, ready, err := f.prepare(ctx, d, q)
	if err != nil || !ready {
		return err
	}
	fs := d.FirstSeen
	if !q.Window.Start.IsZero() {
		if _, err := f.Store.ExpireSeenValues(ctx, d.ID, q.Window.Start.Add(-fs.History)); err != nil {
			return fmt.Errorf("first_seen %s: expire values: %w", d.ID, err)
		}
	}
	b := &batch{f: f, d: d, window: q.Window.Start, learnUntil: learnUntil, emit: emit}
	err = f.Searcher.Search(ctx, q, func(r poller.Result) error {
		return b.add(ctx, r, poller.ResultTime(r, q.Window.End))
	})
	if err != nil {
		return err
	}
	return b.flush(ctx)
}

// signature identifies what a detection's values are keyed on.
func signature(fs *detections.FirstSeen) string {
	sum := sha256.Sum256([]byte(strings.Join(fs.Fields, "\x1f")))
	return hex.EncodeToString(sum[:8])
}

// prepare reads (or, on the detection's first window, creates) its state
// and returns the end of its learning span. ready is false when there is
// nothing to learn from yet (a first window from the beginning of the data
// that holds no result).
func (f *Filter) prepare(ctx context.Context, d *detections.Detection, q poller.Query) (time.Time, bool, error) {
	fs := d.FirstSeen
	sig := signature(fs)
	st, err := f.Store.FirstSeenState(ctx, d.ID)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("first_seen %s: read state: %w", d.ID, err)
	}
	whole := false // this window is learned whole, whatever its results' times
	if st != nil && st.Signature != sig {
		f.logger().Info("first_seen fields changed: the detection learns again, silently", "detection", d.ID)
		if err := f.Store.ResetFirstSeen(ctx, d.ID); err != nil {
			return time.Time{}, false, fmt.Errorf("first_seen %s: reset: %w", d.ID, err)
		}
		st = nil
	}
	if st == nil {
		start := q.Window.Start
		switch {
		case start.IsZero() && fs.Backfill:
			// Searching from the beginning of the data: the first window is
			// all the history there is, learned whole, as a backfill would.
			start, whole = q.Window.End.Add(time.Nanosecond), true
		case start.IsZero():
			// Searching from the beginning of the data (search.local.first_run
			// = "all", `patrol test`): learning starts at its earliest result.
			if start, err = f.earliest(ctx, q); err != nil {
				return time.Time{}, false, err
			}
			if start.IsZero() {
				return time.Time{}, false, nil
			}
		case fs.Backfill:
			if err := f.backfill(ctx, d, q, start); err != nil {
				return time.Time{}, false, err
			}
		}
		st = &state.FirstSeenState{Signature: sig, LearnStart: start}
		if err := f.Store.SetFirstSeenState(ctx, d.ID, *st); err != nil {
			return time.Time{}, false, fmt.Errorf("first_seen %s: write state: %w", d.ID, err)
		}
		f.logger().Info("first_seen: learning", "detection", d.ID, "from", start, "until", start.Add(fs.Learn), "backfill", fs.Backfill)
		if whole {
			return time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), true, nil
		}
	}
	return st.LearnStart.Add(fs.Learn), true, nil
}

// earliest returns the event time of q's earliest result (zero if none).
func (f *Filter) earliest(ctx context.Context, q poller.Query) (time.Time, error) {
	var first time.Time
	err := f.Searcher.Search(ctx, q, func(r poller.Result) error {
		if t := poller.ResultTime(r, q.Window.End); first.IsZero() || t.Before(first) {
			first = t
		}
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("first_seen %s: find the start of the data: %w", q.Detection, err)
	}
	return first, nil
}

// backfill searches the history before start once and records every value
// combination it finds as learned.
func (f *Filter) backfill(ctx context.Context, d *detections.Detection, q poller.Query, start time.Time) error {
	chunk := f.BackfillChunk
	if chunk <= 0 {
		chunk = 24 * time.Hour
	}
	from := start.Add(-d.FirstSeen.History)
	b := &batch{f: f, d: d, learnUntil: start, backfill: true}
	for t := from; t.Before(start); t = t.Add(chunk) {
		w := poller.Window{Start: t, End: t.Add(chunk)}
		if w.End.After(start) {
			w.End = start
		}
		bq := q
		bq.Window = w
		err := f.Searcher.Search(ctx, bq, func(r poller.Result) error {
			return b.add(ctx, r, poller.ResultTime(r, w.End))
		})
		if err == nil {
			err = b.flush(ctx)
		}
		if err != nil {
			return fmt.Errorf("first_seen %s: backfill %s to %s: %w", d.ID, w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339), err)
		}
		f.logger().Info("first_seen backfill", "detection", d.ID, "searched_to", w.End, "until", start)
	}
	return nil
}

func (f *Filter) logger() *slog.Logger {
	if f.Logger != nil {
		return f.Logger
	}
	return slog.Default()
}
