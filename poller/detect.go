package poller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/state"
)

// Detector is the detect job: it searches a detection's window, groups the
// results into alerts by fingerprint, makes a ticket per new alert, and
// moves the checkpoint only when every result of the window is handled.
type Detector struct {
	Searcher Searcher
	Tracker  Tracker
	Store    Store
	Notifier Notifier // nil: notifications stay queued
	Router   Router
	// Label is the configured ticket label every ticket carries.
	Label string
	// MaxWindow bounds one search: a longer span (after downtime) is searched
	// in chunks, the checkpoint advancing after each.
	MaxWindow time.Duration
	// FirstRunAll makes a detection with no checkpoint search everything
	// (local files with their own timestamps) instead of its lookback.
	FirstRunAll bool
	// Handoff, when set, gets each new ticket at once (the respond job).
	Handoff func(ctx context.Context, t Ticket)
	// Health, when set, checks freshness and raises self-alerts after runs.
	Health *Health
	// Slots, when set, bounds the searches in flight (the daemon): each
	// search waits for a slot, the detection furthest behind first.
	Slots Slots
	// MaxNewAlerts caps the new alerts (tickets) one window may open; a
	// window over it fails without any ticket (0 = no cap).
	MaxNewAlerts int
	// IndexLag is how long the tracker's search may take to show a new
	// ticket (Jira Cloud's is eventually consistent). After a create whose
	// outcome is unknown, the alert's ticket is looked up (never created
	// again) once this long has passed since the outcome became unknown.
	IndexLag time.Duration
	// CreateTimeout is the longest one create request may take: a create
	// cut off by a crash may have made a ticket until then.
	CreateTimeout time.Duration
	// Kinds answer the detections that are not a plain search (a sequence
	// over the alert ledger, a first-seen filter over a search); see Kind.
	Kinds []Kind
	// Tuner mutes results by the detections' exceptions and the silences
	// (nil: nothing is muted).
	Tuner Tuner
	// Actions and DryRun let a shadow detection store the plan it would
	// have run (plans are pure: no AWS call).
	Actions map[string]Action
	DryRun  bool
	// OnRecurrence is what newer results of an alert whose ticket is done
	// do: RecurrenceReopen (default), RecurrenceNew or RecurrenceComment.
	OnRecurrence string
	// ReopenTransition is the transition that reopens a done ticket.
	ReopenTransition string
	// AllLive runs shadow detections as live ones (backtests show what
	// every detection would do).
	AllLive bool
	Now     func() time.Time
	Logger  *slog.Logger
}

// What newer results of an alert whose ticket is done do.
const (
	RecurrenceReopen  = "reopen"  // reopen the ticket, with a comment
	RecurrenceNew     = "new"     // open a new ticket linked to the old one
	RecurrenceComment = "comment" // only comment on the closed ticket
)

// DetectStats is what one run did.
type DetectStats struct {
	Windows, Results, Alerts, Repeats, Tickets int
	// Waiting counts alerts whose ticket is looked up on a later run: a
	// create had an unknown outcome and the tracker's search may lag.
	Waiting int
	// Excepted counts results an exception dropped; Silenced results a
	// silence muted (recorded without a ticket).
	Excepted, Silenced int
	// Shadow says the detection ran in the shadow stage: its alerts got
	// no ticket.
	Shadow     bool
	Start, End time.Time
}

const (
	hitBatch  = 500
	maxStaged = 100_000
)

// Run searches every window from the detection's checkpoint to now − settle,
// then checks the source's freshness and the detection's health. A run
// stopped by ctx's cancellation returns an error wrapping ErrCancelled.
func (j *Detector) Run(ctx context.Context, d *detections.Detection) (DetectStats, error) {
	st, err := j.run(ctx, d)
	if j.Health == nil || ctx.Err() != nil {
		return st, err
	}
	if err == nil {
		err = j.freshness(ctx, d, st)
	}
	if ctx.Err() != nil {
		return st, err
	}
	if herr := j.Health.AfterRun(ctx, d, err); herr != nil {
		j.logger().Error("self-alert", "detection", d.ID, "err", herr)
	}
	if herr := j.Health.ExpiredExceptions(ctx, d); herr != nil {
		j.logger().Error("self-alert", "detection", d.ID, "err", herr)
	}
	if ferr := j.FlushOutbox(ctx); ferr != nil && err == nil {
		err = fmt.Errorf("%s: %w", d.ID, ferr)
	}
	return st, err
}

func (j *Detector) run(ctx context.Context, d *detections.Detection) (DetectStats, error) {
	var st DetectStats
	start, ok, err := j.Store.Checkpoint(ctx, d.ID)
	if err != nil {
		return st, fmt.Errorf("%s: read checkpoint: %w", d.ID, err)
	}
	need := start
	if !ok {
		need = j.firstStart(d, j.now().Add(-d.Settle))
	} else if end := j.now().Add(-d.Settle).Truncate(time.Second); !end.After(start) {
		// Nothing new to search, so no slot is needed; alerts still
		// pending from an earlier run get their tickets.
		st.Start, st.End = start, end
		if err := j.sweep(ctx, d, &st); err != nil {
			return st, err
		}
		if err := j.FlushOutbox(ctx); err != nil {
			return st, fmt.Errorf("%s: %w", d.ID, err)
		}
		return st, nil
	}
	// The window ends where the first search slot is granted, not where the
	// schedule fired: a run that waited for a slot still searches up to
	// now − settle.
	release, err := j.acquire(ctx, d, need)
	if err != nil {
		return st, j.unstarted(ctx, d, Window{Start: start}, err)
	}
	end := j.now().Add(-d.Settle).Truncate(time.Second)
	if !ok {
		start = j.firstStart(d, end)
	}
	st.Start, st.End = start, end
	st.Shadow = j.shadow(d)
	maxw := d.MaxWindow
	if maxw == 0 {
		maxw = j.MaxWindow
	}
	for end.After(start) {
		w := Window{Start: start, End: end}
		if !start.IsZero() && maxw > 0 && end.Sub(start) > maxw {
			w.End = start.Add(maxw)
		}
		if release == nil { // a later chunk queues again, by the same rule
			if release, err = j.acquire(ctx, d, start); err != nil {
				return st, j.unstarted(ctx, d, w, err)
			}
		}
		err := j.window(ctx, d, w, &st, release)
		release = nil
		if err != nil {
			return st, err
		}
		start = w.End
		st.Windows++
	}
	if release != nil {
		release()
	}
	if st.Windows == 0 {
		if err := j.sweep(ctx, d, &st); err != nil {
			return st, err
		}
	}
	if err := j.FlushOutbox(ctx); err != nil {
		return st, fmt.Errorf("%s: %w", d.ID, err)
	}
	return st, nil
}

// window searches w holding the search slot that release returns (given
// back as soon as the results are staged), then handles the results.
func (j *Detector) window(ctx context.Context, d *detections.Detection, w Window, st *DetectStats, release func()) (err error) {
	defer release()
	run := state.Run{Job: "detect", Detection: d.ID, WindowStart: w.Start, WindowEnd: w.End}
	if run.ID, err = j.Store.StartRun(ctx, run); err != nil {
		if Cancelled(ctx) {
			return j.unstarted(ctx, d, w, err)
		}
		return fmt.Errorf("%s: record run: %w", d.ID, err)
	}
	defer func() {
		if err != nil && Cancelled(ctx) {
			err, run.Cancelled = cancelledError(ctx, d.ID), true
		}
		if err != nil {
			run.Error = err.Error()
		}
		if ferr := j.Store.FinishRun(run); ferr != nil && err == nil {
			err = fmt.Errorf("%s: record run: %w", d.ID, ferr)
		}
	}()
	if err := j.Store.ClearHits(ctx, d.ID); err != nil {
		return fmt.Errorf("%s: clear window: %w", d.ID, err)
	}
	q := Query{Detection: d.ID, SPL: d.Expanded, Window: w, TimeMode: TimeMode(d.TimeMode), Remember: true}
	batch := make([]state.Hit, 0, hitBatch)
	flush := func() error {
		err := j.Store.AddHits(ctx, d.ID, batch)
		batch = batch[:0]
		return err
	}
	// Only the first result of a fingerprint, class and second is kept (as
	// JSON): repeats skip the encoding. The set is bounded; past it,
	// encoding is merely repeated, never wrong.
	staged := map[string]bool{}
	excepted := map[string]*state.ExceptionCount{}
	err = j.searcher(d).Search(ctx, q, func(r Result) error {
		run.Results++
		t := ResultTime(r, w.End)
		class, exception := j.classify(d, r, t)
		if exception != "" {
			countException(excepted, d, w, exception, t)
			return nil
		}
		fp := Fingerprint(d.ID, d.GroupBy, r)
		at := t.Truncate(time.Second)
		hit := state.Hit{Fingerprint: fp, Class: class, At: at, Count: 1, First: t, Last: t}
		key := fp + "\x00" + class + "\x00" + at.Format(time.RFC3339)
		if !staged[key] {
			raw, err := json.Marshal(r)
			if err != nil {
				return err
			}
			hit.Result = string(raw)
			if len(staged) < maxStaged {
				staged[key] = true
			}
		}
		batch = append(batch, hit)
		if len(batch) == hitBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	release()
	st.Results += run.Results
	if err != nil {
		return fmt.Errorf("%s: search %s: %w", d.ID, windowString(w), err)
	}
	plan, err := j.planWindow(ctx, d)
	if err != nil {
		return fmt.Errorf("%s: read window: %w", d.ID, err)
	}
	if n := plan.ticketing(); j.MaxNewAlerts > 0 && n > j.MaxNewAlerts {
		return j.flood(ctx, d, w, n)
	}
	change, err := j.change(ctx, plan, d, w)
	if err != nil {
		return err
	}
	for _, e := range excepted {
		change.Excepted = append(change.Excepted, *e)
		st.Excepted += e.Count
	}
	for _, g := range plan.opened {
		if g.class != classLive && g.class != classShadow {
			st.Silenced += g.n
		}
	}
	for _, g := range plan.touched {
		if g.class != classLive && g.class != classShadow {
			st.Silenced += g.n
		}
	}
	// The window's new alerts are on disk before any of their tickets is
	// created: one sync for the window, not one per ticket.
	if _, err := j.Store.RecordWindow(ctx, change); err != nil {
		return fmt.Errorf("%s: record alerts: %w", d.ID, err)
	}
	run.Alerts = len(change.New) - countState(change.New, state.AlertSilenced)
	st.Alerts += run.Alerts
	st.Repeats += len(change.Repeats)
	tickets := st.Tickets
	err = j.sweep(ctx, d, st)
	run.Tickets = st.Tickets - tickets
	// The checkpoint moves even when a ticket could not be made: every
	// result of the window is in the ledger, and each run makes the
	// tickets of the pending alerts first.
	if cerr := j.Store.CompleteWindow(ctx, d.ID, w.End); cerr != nil {
		return fmt.Errorf("%s: write checkpoint: %w", d.ID, cerr)
	}
	return err
}

// sweep makes the tickets of the detection's pending alerts, oldest event
// first: the ones this window opened, and those a previous run left (a
// crash, a create that failed). An alert whose create had an unknown
// outcome waits for the tracker's index without holding the others back.
func (j *Detector) sweep(ctx context.Context, d *detections.Detection, st *DetectStats) error {
	pending, err := j.Store.PendingAlerts(ctx, d.ID)
	if err != nil {
		return fmt.Errorf("%s: read pending alerts: %w", d.ID, err)
	}
	var errs []error
	failed := 0 // failures in a row: two mean the tracker is down, not one alert's create
	for i := range pending {
		a := &pending[i]
		err := j.ensureTicket(ctx, d, a)
		var wait *WaitingError
		switch {
		case errors.Is(err, errTicketed):
			continue
		case errors.As(err, &wait):
			st.Waiting++
			j.logger().Info("alert waits for the tracker's index", "detection", d.ID, "fingerprint", a.Fingerprint, "until", wait.Until)
			continue
		case err == nil:
			st.Tickets++
			failed = 0
			continue
		}
		errs = append(errs, fmt.Errorf("%s: alert %s: %w", d.ID, a.Fingerprint, err))
		if failed++; failed >= 2 || ctx.Err() != nil {
			break // the next run goes on from here
		}
	}
	return errors.Join(errs...)
}

// eachHit calls fn for every staged hit of the window, in order, a page at
// a time.
func (j *Detector) eachHit(ctx context.Context, d *detections.Detection, fn func(state.Hit) error) error {
	var after *state.Hit
	for {
		hits, err := j.Store.Hits(ctx, d.ID, after, 200)
		if err != nil {
			return fmt.Errorf("%s: read window: %w", d.ID, err)
		}
		if len(hits) == 0 {
			return nil
		}
		for _, h := range hits {
			if err := fn(h); err != nil {
				return err
			}
		}
		after = &hits[len(hits)-1]
	}
}

// flood refuses a window that would open more tickets than MaxNewAlerts: a
// detection gone wrong must not bury the tracker. Nothing is lost: the
// checkpoint stays, and the window is searched again once the detection or
// the limit is changed.
func (j *Detector) flood(ctx context.Context, d *detections.Detection, w Window, n int) error {
	err := fmt.Errorf("%s: window %s would open %d new alerts, more than detections.max_new_alerts (%d): no ticket was made and the window will be searched again; fix the detection's search or group_by, or raise the limit",
		d.ID, windowString(w), n, j.MaxNewAlerts)
	if j.Health != nil {
		if herr := j.Health.Raise(ctx, "flood:"+d.ID, fmt.Sprintf("patrol: detection %s matched %d new alerts in one window", d.ID, n), Message{Sections: []Section{{
			Text:   "patrol made no ticket for this window, so the tracker is not flooded, and holds the detection's checkpoint: nothing is lost. Fix the detection's search or group_by (or raise detections.max_new_alerts), then the window is searched again.",
			Fields: []Field{{Name: "Detection", Value: d.ID}, {Name: "New alerts", Value: fmt.Sprint(n)}, {Name: "Limit", Value: fmt.Sprint(j.MaxNewAlerts)}},
		}}}); herr != nil {
			j.logger().Error("self-alert", "detection", d.ID, "err", herr)
		}
	}
	return err
}

// FlushOutbox sends queued deliveries in order. A failed one stays
// queued, and later ones about the same ticket and destination wait
// behind it; one that fails for good is set aside.
func (j *Detector) FlushOutbox(ctx context.Context) error {
	return courier{store: j.Store, tracker: j.Tracker, notifier: j.Notifier, health: j.Health, log: j.logger(), now: j.now}.flush(ctx)
}

func (j *Detector) now() time.Time {
	if j.Now != nil {
		return j.Now().UTC()
	}
	return time.Now().UTC()
}

func (j *Detector) logger() *slog.Logger {
	if j.Logger != nil {
		return j.Logger
	}
	return slog.Default()
}

func windowString(w Window) string {
	start := "beginning"
	if !w.Start.IsZero() {
		start = w.Start.Format(time.RFC3339)
	}
	return "(" + start + ", " + w.End.Format(time.RFC3339) + "]"
}
