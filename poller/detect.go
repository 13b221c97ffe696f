package poller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
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
	// MaxNewAlerts caps the new alerts (tickets) one window may open; a
	// window over it fails without any ticket (0 = no cap).
	MaxNewAlerts int
	// RecoveryDelay holds back the lookup of a pending alert's ticket until
	// the alert is this old: a tracker whose search lags its writes (Jira
	// Cloud) must have had time to index a ticket created just before a crash.
	RecoveryDelay time.Duration
	Now           func() time.Time
	Logger        *slog.Logger
}

// DetectStats is what one run did.
type DetectStats struct {
	Windows, Results, Alerts, Repeats, Tickets int
	Start, End                                 time.Time
}

const (
	hitBatch  = 500
	maxStaged = 100_000
)

// Run searches every window from the detection's checkpoint to now − settle,
// then checks the source's freshness and the detection's health.
func (j *Detector) Run(ctx context.Context, d *detections.Detection) (DetectStats, error) {
	st, err := j.run(ctx, d)
	if j.Health == nil || ctx.Err() != nil {
		return st, err
	}
	if err == nil {
		err = j.Health.Freshness(ctx, j.Searcher, d, st.End)
	}
	if herr := j.Health.AfterRun(ctx, d, err); herr != nil {
		j.logger().Error("self-alert", "detection", d.ID, "err", herr)
	}
	if ferr := j.FlushOutbox(ctx); ferr != nil && err == nil {
		err = fmt.Errorf("%s: %w", d.ID, ferr)
	}
	return st, err
}

func (j *Detector) run(ctx context.Context, d *detections.Detection) (DetectStats, error) {
	var st DetectStats
	end := j.now().Add(-d.Settle).Truncate(time.Second)
	start, ok, err := j.Store.Checkpoint(ctx, d.ID)
	if err != nil {
		return st, fmt.Errorf("%s: read checkpoint: %w", d.ID, err)
	}
	if !ok {
		start = end.Add(-d.Lookback)
		if j.FirstRunAll {
			start = time.Time{}
		}
	}
	st.Start, st.End = start, end
	maxw := d.MaxWindow
	if maxw == 0 {
		maxw = j.MaxWindow
	}
	for end.After(start) {
		w := Window{Start: start, End: end}
		if !start.IsZero() && maxw > 0 && end.Sub(start) > maxw {
			w.End = start.Add(maxw)
		}
		if err := j.window(ctx, d, w, &st); err != nil {
			return st, err
		}
		start = w.End
		st.Windows++
	}
	if err := j.FlushOutbox(ctx); err != nil {
		return st, fmt.Errorf("%s: %w", d.ID, err)
	}
	return st, nil
}

func (j *Detector) window(ctx context.Context, d *detections.Detection, w Window, st *DetectStats) (err error) {
	run := state.Run{Job: "detect", Detection: d.ID, WindowStart: w.Start, WindowEnd: w.End}
	if run.ID, err = j.Store.StartRun(ctx, run); err != nil {
		return fmt.Errorf("%s: record run: %w", d.ID, err)
	}
	defer func() {
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
	// Only a fingerprint's first result is kept (as JSON): repeats within the
	// window skip the encoding. The set is bounded; past it, encoding is
	// merely repeated, never wrong.
	staged := map[string]bool{}
	err = j.Searcher.Search(ctx, q, func(r Result) error {
		run.Results++
		t := ResultTime(r, w.End)
		fp := Fingerprint(d.ID, d.GroupBy, r)
		hit := state.Hit{Fingerprint: fp, Count: 1, First: t, Last: t}
		if !staged[fp] {
			raw, err := json.Marshal(r)
			if err != nil {
				return err
			}
			hit.Result = string(raw)
			if len(staged) < maxStaged {
				staged[fp] = true
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
	st.Results += run.Results
	if err != nil {
		return fmt.Errorf("%s: search %s: %w", d.ID, windowString(w), err)
	}
	if j.MaxNewAlerts > 0 {
		n, err := j.countNew(ctx, d)
		if err != nil {
			return fmt.Errorf("%s: read window: %w", d.ID, err)
		}
		if n > j.MaxNewAlerts {
			return j.flood(ctx, d, w, n)
		}
	}
	err = j.eachHit(ctx, d, func(h state.Hit) error {
		created, err := j.handleHit(ctx, d, w, h)
		if err != nil {
			return fmt.Errorf("%s: alert %s: %w", d.ID, h.Fingerprint, err)
		}
		if created {
			run.Alerts++
			run.Tickets++
		} else {
			st.Repeats++
		}
		return nil
	})
	if err != nil {
		return err
	}
	st.Alerts += run.Alerts
	st.Tickets += run.Tickets
	if err := j.Store.CompleteWindow(ctx, d.ID, w.End); err != nil {
		return fmt.Errorf("%s: write checkpoint: %w", d.ID, err)
	}
	return nil
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

// countNew counts the window's hits that would open a new alert (and ticket).
func (j *Detector) countNew(ctx context.Context, d *detections.Detection) (int, error) {
	n := 0
	err := j.eachHit(ctx, d, func(h state.Hit) error {
		a, err := j.Store.LatestAlert(ctx, h.Fingerprint)
		if err != nil {
			return err
		}
		if a == nil || (a.State != state.AlertPending && h.First.Sub(a.FirstSeen) >= d.Suppress) {
			n++
		}
		return nil
	})
	return n, err
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

// handleHit turns one fingerprint's results in a window into a new alert and
// ticket, or a repeat of an existing alert. It reports whether it made a ticket.
func (j *Detector) handleHit(ctx context.Context, d *detections.Detection, w Window, h state.Hit) (bool, error) {
	a, err := j.Store.LatestAlert(ctx, h.Fingerprint)
	if err != nil {
		return false, err
	}
	if a != nil && a.State == state.AlertPending {
		// A previous run recorded the alert and may have created its ticket
		// before it stopped: find that ticket before making one.
		if age := j.now().Sub(a.Created); age < j.RecoveryDelay {
			return false, fmt.Errorf("pending alert is %s old: its ticket is looked up once it is %s old (tracker search lag); retrying next run", age.Round(time.Second), j.RecoveryDelay)
		}
		return true, j.ensureTicket(ctx, d, a, true)
	}
	if a != nil && h.First.Sub(a.FirstSeen) < d.Suppress {
		return false, j.repeat(ctx, d, a, w, h)
	}
	a, err = j.Store.CreatePendingAlert(ctx, state.Alert{
		Detection: d.ID, Fingerprint: h.Fingerprint, FirstSeen: h.First, LastSeen: h.Last,
		Count: h.Count, WindowStart: w.Start, WindowCount: h.Count, Result: h.Result,
	})
	if err != nil {
		return false, err
	}
	return true, j.ensureTicket(ctx, d, a, false)
}

func (j *Detector) repeat(ctx context.Context, d *detections.Detection, a *state.Alert, w Window, h state.Hit) error {
	newer := h.Last.After(a.LastSeen) // a replayed window brings nothing newer: no comment
	if err := j.Store.RecordRepeat(ctx, a.ID, w.Start, h.Count, h.First, h.Last); err != nil {
		return err
	}
	now := j.now()
	if !newer || a.TicketKey == "" || (!a.Commented.IsZero() && now.Sub(a.Commented) < d.Suppress) {
		return nil
	}
	m := Message{Sections: []Section{{
		Heading: "Seen again",
		Text:    fmt.Sprintf("%d more result(s) of this alert between %s and %s. Repeats inside %s update this ticket instead of opening a new one; this comment is posted at most once per that span.", h.Count, h.First.Format(time.RFC3339), h.Last.Format(time.RFC3339), d.Suppress),
	}}}
	if err := j.Tracker.Comment(ctx, a.TicketKey, m); err != nil {
		return fmt.Errorf("comment repeat on %s: %w", a.TicketKey, err)
	}
	return j.Store.MarkCommented(ctx, a.ID, now)
}

// ensureTicket gives a pending alert its ticket: found by its fingerprint
// label when recovering, otherwise created.
func (j *Detector) ensureTicket(ctx context.Context, d *detections.Detection, a *state.Alert, recovering bool) error {
	var r Result
	if err := json.Unmarshal([]byte(a.Result), &r); err != nil {
		return fmt.Errorf("stored result: %w", err)
	}
	route := j.Router.Route(r)
	if recovering {
		found, err := j.Tracker.Find(ctx, FingerprintLabel(a.Fingerprint))
		if err != nil {
			return fmt.Errorf("look up ticket of pending alert (not creating one while the tracker cannot say): %w", err)
		}
		known, err := j.Store.KnownTicketKeys(ctx, a.Fingerprint)
		if err != nil {
			return err
		}
		for _, t := range found {
			if !known[t.Key] {
				j.logger().Info("found ticket of pending alert", "detection", d.ID, "ticket", t.Key)
				return j.open(ctx, d, a, t, route, r)
			}
		}
	}
	t, err := j.Tracker.Create(ctx, NewTicket{
		Detection: d.ID, Fingerprint: a.Fingerprint, Severity: d.Severity, Priority: d.Ticket.Priority,
		Summary:     d.Ticket.Summary.Render(r.Lookup),
		Labels:      ticketLabels(j.Label, d, a.Fingerprint),
		Description: TicketDescription(d, r, a),
		Route:       route,
	})
	if err != nil {
		return fmt.Errorf("create ticket: %w", err)
	}
	return j.open(ctx, d, a, t, route, r)
}

func (j *Detector) open(ctx context.Context, d *detections.Detection, a *state.Alert, t Ticket, route Route, r Result) error {
	note, err := json.Marshal(Notification{
		Ticket: t, Detection: d.ID, Severity: d.Severity, Channel: route.SlackChannel, Status: "open",
		Message: NotificationMessage(d, t, r, route),
	})
	if err != nil {
		return err
	}
	row := state.TicketRow{
		Key: t.Key, ID: t.ID, Detection: d.ID, Fingerprint: a.Fingerprint, Summary: t.Summary, Status: t.Status,
		Labels: t.Labels, URL: t.URL, Stage: state.StageNew, Channel: route.SlackChannel,
	}
	if err := j.Store.OpenAlert(ctx, a.ID, row, []string{string(note)}); err != nil {
		return fmt.Errorf("record ticket %s: %w", t.Key, err)
	}
	j.logger().Info("ticket created", "detection", d.ID, "ticket", t.Key, "fingerprint", a.Fingerprint)
	if j.Handoff != nil {
		j.Handoff(ctx, t)
	}
	return nil
}

func ticketLabels(label string, d *detections.Detection, fp string) []string {
	out := []string{label, FingerprintLabel(fp), d.Label()}
	seen := map[string]bool{}
	for _, l := range out {
		seen[l] = true
	}
	for _, l := range d.Ticket.Labels {
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}

// FlushOutbox sends queued notifications in order. A failed one stays
// queued, and later ones about the same ticket wait behind it.
func (j *Detector) FlushOutbox(ctx context.Context) error {
	return flushOutbox(ctx, j.Store, j.Notifier, j.logger())
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

// outboxMu serialises flushes: detect runs, hand-offs and respond passes
// all flush, and two flushes reading the same queue would send twice.
var outboxMu sync.Mutex

func flushOutbox(ctx context.Context, store Store, n Notifier, log *slog.Logger) error {
	if n == nil {
		return nil
	}
	outboxMu.Lock()
	defer outboxMu.Unlock()
	items, err := store.PendingOutbox(ctx, 500)
	if err != nil {
		return fmt.Errorf("read outbox: %w", err)
	}
	blocked := map[string]bool{}
	var errs []error
	for _, it := range items {
		if blocked[it.TicketKey] {
			continue
		}
		var note Notification
		if err := json.Unmarshal([]byte(it.Payload), &note); err != nil {
			errs = append(errs, fmt.Errorf("outbox item %d: %w", it.ID, err))
			store.OutboxFailed(ctx, it.ID, err.Error())
			continue
		}
		row, err := store.Ticket(ctx, it.TicketKey)
		if err != nil {
			return err
		}
		if row != nil {
			note.Thread = row.Thread
			if note.Channel == "" {
				note.Channel = row.Channel
			}
		}
		thread, err := n.Notify(ctx, note)
		if thread != "" && row != nil && row.Thread == "" {
			// Kept even when the notifier also reports an error: the first
			// message went out, so a retry must go to its thread.
			if uerr := store.UpdateTicket(ctx, it.TicketKey, state.TicketUpdate{Thread: &thread}); uerr != nil {
				return uerr
			}
		}
		if err != nil {
			blocked[it.TicketKey] = true
			errs = append(errs, fmt.Errorf("notify %s: %w", it.TicketKey, err))
			if ferr := store.OutboxFailed(ctx, it.ID, err.Error()); ferr != nil {
				return ferr
			}
			continue
		}
		if err := store.OutboxSent(ctx, it.ID); err != nil {
			return err
		}
	}
	if len(errs) > 0 {
		log.Warn("notifications left queued", "count", len(errs), "err", errors.Join(errs...))
	}
	return errors.Join(errs...)
}
