// Package sequence evaluates [sequence] detections: "A then B within T" and
// "A not followed by B within T", over the alerts patrol's own ledger holds
// for the steps A and B (so it works the same on Splunk and on local files).
//
// Each run reads the step alerts recorded or updated since the last run,
// keeps what it read in SQLite, and decides every open instance (one per
// first-step alert) on event times, so steps arriving in any order, late,
// or across a restart still join. An instance fires once: it is stored as
// fired with the end of the window it fired in, and that window (or a retry
// of it after a failure) is the only one that emits it.
//
// The absent form needs time to pass, not a new result: an instance whose
// last step did not come fires on the first run after the last step's own
// detection has searched past the instance's deadline.
package sequence

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/state"
)

// Store is the part of the state the engine uses.
type Store interface {
	Checkpoint(ctx context.Context, detection string) (time.Time, bool, error)
	Meta(ctx context.Context, key string) (string, error)
	SetMeta(ctx context.Context, key, value string) error
	MetaTime(ctx context.Context, key string) (time.Time, error)
	SetMetaTime(ctx context.Context, key string, t time.Time) error
	Ticket(ctx context.Context, key string) (*state.TicketRow, error)

	AlertsUpdatedSince(ctx context.Context, detections []string, since time.Time) ([]state.Alert, error)
	PutSeqObservations(ctx context.Context, obs []state.SeqObservation) error
	SeqObservations(ctx context.Context, sequence, key string) ([]state.SeqObservation, error)
	OpenSeqInstance(ctx context.Context, in state.SeqInstance) error
	SetSeqInstance(ctx context.Context, in state.SeqInstance) error
	SeqInstances(ctx context.Context, sequence, st string, after, upTo time.Time) ([]state.SeqInstance, error)
	ResetSequence(ctx context.Context, sequence string) error
}

var _ Store = (*state.DB)(nil)

// Engine answers sequence detections for the detect job (a poller.Kind).
type Engine struct {
	Store  Store
	Logger *slog.Logger
}

// readOverlap is how far before its cursor each run reads the ledger again:
// an alert's updated_at is taken just before its write waits for the
// database lock, so a write may become visible after a later timestamp was
// read. Reading an alert twice is harmless.
const readOverlap = time.Minute

// SearcherFor implements poller.Kind.
func (e *Engine) SearcherFor(d *detections.Detection) poller.Searcher {
	if d.Sequence == nil {
		return nil
	}
	return searcher{e: e, d: d}
}

type searcher struct {
	e *Engine
	d *detections.Detection
}

// Search reads the steps' new alerts, decides the open instances, and emits
// the instances that fired in the window (q.Window's end is the time the
// run is as of).
func (s searcher) Search(ctx context.Context, q poller.Query, emit func(poller.Result) error) error {
	return s.e.evaluate(ctx, s.d, q.Window, emit)
}

func metaKey(kind, id string) string { return "sequence_" + kind + ":" + id }

func (e *Engine) evaluate(ctx context.Context, d *detections.Detection, w poller.Window, emit func(poller.Result) error) error {
	seq := d.Sequence
	cursor, err := e.start(ctx, d, w)
	if err != nil {
		return err
	}
	// The steps' checkpoints are read before their alerts, so an alert
	// written after a checkpoint was read is never missed by a decision
	// that relies on that checkpoint.
	gates := make([]time.Time, len(seq.Steps))
	for i, step := range seq.Steps {
		cp, ok, err := e.Store.Checkpoint(ctx, step)
		if err != nil {
			return fmt.Errorf("sequence %s: read checkpoint of %s: %w", d.ID, step, err)
		}
		if ok {
			gates[i] = cp
		}
	}
	next, read, err := e.ingest(ctx, d, cursor)
	if err != nil {
		return err
	}
	fired, err := e.decide(ctx, d, gates, w.End)
	if err != nil {
		return err
	}
	if next.After(cursor) {
		if err := e.Store.SetMetaTime(ctx, metaKey("cursor", d.ID), next); err != nil {
			return fmt.Errorf("sequence %s: write cursor: %w", d.ID, err)
		}
	}
	out, err := e.Store.SeqInstances(ctx, d.ID, state.SeqFired, w.Start, w.End)
	if err != nil {
		return fmt.Errorf("sequence %s: read instances: %w", d.ID, err)
	}
	e.logger().Debug("sequence evaluated", "detection", d.ID, "step_alerts_read", read, "fired", fired, "emitted", len(out))
	for _, in := range out {
		var r poller.Result
		if err := json.Unmarshal([]byte(in.Result), &r); err != nil {
			return fmt.Errorf("sequence %s: stored instance %d: %w", d.ID, in.AnchorID, err)
		}
		if err := emit(r); err != nil {
			return err
		}
	}
	return nil
}

// start returns where this run reads the ledger from. A new sequence starts
// at its first window (its lookback, like a search); a sequence whose
// definition changed forgets what it had read and open instances (instances
// that fired stay fired) and goes on from its cursor.
func (e *Engine) start(ctx context.Context, d *detections.Detection, w poller.Window) (time.Time, error) {
	sig := signature(d.Sequence)
	old, err := e.Store.Meta(ctx, metaKey("definition", d.ID))
	if err != nil {
		return time.Time{}, fmt.Errorf("sequence %s: read state: %w", d.ID, err)
	}
	cursor, err := e.Store.MetaTime(ctx, metaKey("cursor", d.ID))
	if err != nil {
		return time.Time{}, fmt.Errorf("sequence %s: read cursor: %w", d.ID, err)
	}
	if old == sig {
		return cursor, nil
	}
	if old != "" {
		e.logger().Info("sequence changed: its open instances start over", "detection", d.ID)
		if err := e.Store.ResetSequence(ctx, d.ID); err != nil {
			return time.Time{}, fmt.Errorf("sequence %s: reset: %w", d.ID, err)
		}
	} else {
		cursor = w.Start
		if err := e.Store.SetMetaTime(ctx, metaKey("cursor", d.ID), cursor); err != nil {
			return time.Time{}, fmt.Errorf("sequence %s: write cursor: %w", d.ID, err)
		}
	}
	if err := e.Store.SetMeta(ctx, metaKey("definition", d.ID), sig); err != nil {
		return time.Time{}, fmt.Errorf("sequence %s: write state: %w", d.ID, err)
	}
	return cursor, nil
}

// signature identifies what a sequence joins on.
func signature(s *detections.Sequence) string {
	b, _ := json.Marshal(struct {
		Steps  []string
		By     map[string][]string
		Within time.Duration
		Absent bool
	}{s.Steps, s.By, s.Within, s.Absent})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// ingest records the steps' alerts changed since cursor and opens an
// instance for each first-step alert. It returns the newest change read.
func (e *Engine) ingest(ctx context.Context, d *detections.Detection, cursor time.Time) (time.Time, int, error) {
	seq := d.Sequence
	since := cursor
	if !since.IsZero() {
		since = since.Add(-readOverlap)
	}
	alerts, err := e.Store.AlertsUpdatedSince(ctx, seq.Steps, since)
	if err != nil {
		return cursor, 0, fmt.Errorf("sequence %s: read step alerts: %w", d.ID, err)
	}
	next := cursor
	var obs []state.SeqObservation
	for _, a := range alerts {
		if a.Updated.After(next) {
			next = a.Updated
		}
		step := indexOf(seq.Steps, a.Detection)
		var r poller.Result
		if err := json.Unmarshal([]byte(a.Result), &r); err != nil {
			e.logger().Warn("sequence: step alert with an unreadable result is skipped", "detection", d.ID, "alert", a.ID, "err", err)
			continue
		}
		key, ok := joinKey(r, seq.By[a.Detection])
		if !ok {
			continue // a step alert without the join fields cannot join anything
		}
		obs = append(obs, state.SeqObservation{Sequence: d.ID, Step: step, AlertID: a.ID, Key: key, First: a.FirstSeen,
			Last: a.LastSeen, Detection: a.Detection, TicketKey: a.TicketKey, Result: a.Result})
	}
	if err := e.Store.PutSeqObservations(ctx, obs); err != nil {
		return cursor, 0, fmt.Errorf("sequence %s: record step alerts: %w", d.ID, err)
	}
	for _, o := range obs {
		if o.Step != 0 {
			continue
		}
		if err := e.Store.OpenSeqInstance(ctx, state.SeqInstance{Sequence: d.ID, AnchorID: o.AlertID, Key: o.Key, Start: o.First}); err != nil {
			return cursor, 0, fmt.Errorf("sequence %s: record instance: %w", d.ID, err)
		}
	}
	return next, len(alerts), nil
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// joinKey is the values of fields in r, in order (multivalues sorted), as
// one string; false when a field is absent or empty.
func joinKey(r poller.Result, fields []string) (string, bool) {
	parts := make([]string, len(fields))
	for i, f := range fields {
		var vals []string
		for _, v := range r[f] {
			if v = strings.TrimSpace(v); v != "" {
				vals = append(vals, v)
			}
		}
		if len(vals) == 0 {
			return "", false
		}
		parts[i] = strings.Join(sortedCopy(vals), "\x1d")
	}
	return strings.Join(parts, "\x1f"), true
}

func (e *Engine) logger() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.Default()
}
