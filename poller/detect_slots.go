package poller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/state"
)

// Slots hands out the search backend's slots (max_concurrent). Acquire
// waits until key may search or ctx ends; need orders the waiters, oldest
// first: the detection's checkpoint, so the one furthest behind goes first.
// release gives the slot back and may be called more than once.
type Slots interface {
	Acquire(ctx context.Context, key string, need time.Time) (release func(), err error)
}

// acquire waits for a search slot for d (at once without Slots).
func (j *Detector) acquire(ctx context.Context, d *detections.Detection, need time.Time) (func(), error) {
	if j.Slots == nil {
		return func() {}, nil
	}
	return j.Slots.Acquire(ctx, d.ID, need)
}

// firstStart is where a detection without a checkpoint starts searching.
func (j *Detector) firstStart(d *detections.Detection, end time.Time) time.Time {
	if j.FirstRunAll {
		return time.Time{}
	}
	return end.Add(-d.Lookback)
}

// unstarted records a window that never got a search slot: cancelled (a
// clean stop or reload while it waited), or failed (the run timed out
// waiting). Its checkpoint stays; the next run searches the span.
func (j *Detector) unstarted(ctx context.Context, d *detections.Detection, w Window, err error) error {
	run := state.Run{Job: "detect", Detection: d.ID, WindowStart: w.Start, WindowEnd: w.End}
	if Cancelled(ctx) {
		err, run.Cancelled = cancelledError(ctx, d.ID+": before its search"), true
	} else {
		err = fmt.Errorf("%s: waiting for a search slot (max_concurrent): %w", d.ID, err)
	}
	run.Error = err.Error()
	id, serr := j.Store.StartRun(context.WithoutCancel(ctx), run)
	if serr == nil {
		run.ID = id
		serr = j.Store.FinishRun(run)
	}
	if serr != nil {
		return errors.Join(err, fmt.Errorf("%s: record run: %w", d.ID, serr))
	}
	return err
}

// freshness runs the detection's freshness check in a search slot, queued
// with the need the run had, so it does not go to the back of the queue.
func (j *Detector) freshness(ctx context.Context, d *detections.Detection, st DetectStats) error {
	if d.Freshness == 0 || d.FreshnessSearch == "" {
		return nil
	}
	release, err := j.acquire(ctx, d, st.Start)
	if err != nil {
		if Cancelled(ctx) {
			return cancelledError(ctx, d.ID+": freshness check")
		}
		return fmt.Errorf("%s: freshness check: waiting for a search slot: %w", d.ID, err)
	}
	defer release()
	err = j.Health.Freshness(ctx, j.Searcher, d, st.End)
	if err != nil && Cancelled(ctx) {
		return cancelledError(ctx, d.ID+": freshness check")
	}
	return err
}
