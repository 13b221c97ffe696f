package poller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/state"
)

// Responder is the respond job: for each ticket with the configured label
// it enriches once, then applies the detection's remediation mode under the
// guardrails. Every step is idempotent and recorded, so handling a ticket
// again (a poll after patrol's own comment, a crash, the hand-off and the
// poll both seeing a new ticket) does nothing twice.
type Responder struct {
	Tracker   Tracker
	Store     Store
	Notifier  Notifier // nil: notifications stay queued
	Enrichers []Enricher
	Actions   map[string]Action
	// Detection returns the detection with the id, or nil (reloads swap it).
	Detection func(id string) *detections.Detection
	Guard     Guard

	ApproveLabel   string
	Approvers      []string
	DoneTransition string
	// PollOverlap is subtracted from the watermark so updates that a tracker
	// makes visible late (Jira Cloud's eventually consistent search, clock
	// skew, minute-granular JQL) are still seen; (key, updated) dedupes.
	PollOverlap time.Duration
	// FirstPoll is how far back the first poll looks when there is no
	// watermark yet.
	FirstPoll     time.Duration
	EnrichTimeout time.Duration
	// Retention prunes run history and sent notifications older than this,
	// once a day (0 = keep everything). The audit trail is never pruned.
	Retention time.Duration
	// OnAction, when set, hears each action outcome (metrics).
	OnAction func(action, outcome string)
	Now      func() time.Time
	Logger   *slog.Logger

	mu sync.Mutex // one ticket at a time: the hand-off and the poll may race
}

// RespondStats is what one pass did.
type RespondStats struct {
	Tickets, Handled, Actions int
}

const watermarkKey = "respond_watermark"

// Poll runs one respond pass: tickets updated since the watermark (minus the
// overlap), then tickets held back by the hourly budget, then the outbox.
func (r *Responder) Poll(ctx context.Context) (RespondStats, error) {
	var st RespondStats
	run := state.Run{Job: "respond"}
	id, err := r.Store.StartRun(ctx, run)
	if err != nil {
		return st, fmt.Errorf("respond: record run: %w", err)
	}
	run.ID = id
	err = r.poll(ctx, &st)
	run.Results, run.Tickets, run.Actions = st.Tickets, st.Handled, st.Actions
	if err != nil {
		run.Error = err.Error()
	}
	if ferr := r.Store.FinishRun(run); ferr != nil && err == nil {
		err = fmt.Errorf("respond: record run: %w", ferr)
	}
	return st, err
}

func (r *Responder) poll(ctx context.Context, st *RespondStats) error {
	wm, err := r.Store.MetaTime(ctx, watermarkKey)
	if err != nil {
		return fmt.Errorf("respond: read watermark: %w", err)
	}
	since := wm.Add(-r.PollOverlap)
	if wm.IsZero() {
		since = r.now().Add(-r.FirstPoll)
	}
	tickets, err := r.Tracker.Poll(ctx, since)
	if err != nil {
		return fmt.Errorf("respond: poll tickets: %w", err)
	}
	st.Tickets = len(tickets)
	var errs []error
	next := wm
	var failedAt time.Time
	for _, t := range tickets {
		handled, n, err := r.handle(ctx, t, true)
		st.Actions += n
		if handled {
			st.Handled++
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.Key, err))
			if failedAt.IsZero() || t.Updated.Before(failedAt) {
				failedAt = t.Updated
			}
			continue
		}
		if t.Updated.After(next) {
			next = t.Updated
		}
	}
	// Never move the watermark past a ticket that failed: it is polled again.
	if !failedAt.IsZero() && next.After(failedAt) {
		next = failedAt
	}
	if next.After(wm) {
		if err := r.Store.SetMetaTime(ctx, watermarkKey, next); err != nil {
			return fmt.Errorf("respond: write watermark: %w", err)
		}
	}
	// Tickets waiting for the hourly budget are not updated by anyone: retry them here.
	deferred, err := r.Store.TicketsInStage(ctx, state.StageDeferred, state.StageNew)
	if err != nil {
		return fmt.Errorf("respond: read ledger: %w", err)
	}
	for _, row := range deferred {
		if row.Stage == state.StageNew && !row.UpdatedSeen.IsZero() {
			continue
		}
		_, n, err := r.handle(ctx, ticketFromRow(row), false)
		st.Actions += n
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", row.Key, err))
		}
	}
	if err := flushOutbox(ctx, r.Store, r.Notifier, r.logger()); err != nil {
		errs = append(errs, err)
	}
	if err := r.prune(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

const pruneKey = "last_prune"

func (r *Responder) prune(ctx context.Context) error {
	if r.Retention <= 0 {
		return nil
	}
	last, err := r.Store.MetaTime(ctx, pruneKey)
	if err != nil || r.now().Sub(last) < 24*time.Hour {
		return err
	}
	n, err := r.Store.Prune(ctx, r.now().Add(-r.Retention))
	if err != nil {
		return fmt.Errorf("prune state: %w", err)
	}
	r.logger().Info("pruned old run history and notifications", "rows", n, "retention", r.Retention.String())
	return r.Store.SetMetaTime(ctx, pruneKey, r.now())
}

// Handoff handles a ticket the detect job just created, without waiting for
// the next poll. Errors are logged: the poll retries.
func (r *Responder) Handoff(ctx context.Context, t Ticket) {
	if _, _, err := r.handle(ctx, t, false); err != nil {
		r.logger().Warn("respond to new ticket (the next poll retries)", "ticket", t.Key, "err", err)
	}
	if err := flushOutbox(ctx, r.Store, r.Notifier, r.logger()); err != nil {
		r.logger().Warn("notify (queued for the next pass)", "ticket", t.Key, "err", err)
	}
}

func ticketFromRow(row state.TicketRow) Ticket {
	return Ticket{ID: row.ID, Key: row.Key, URL: row.URL, Summary: row.Summary, Status: row.Status, Labels: row.Labels}
}

// handle runs a ticket through its stages. It reports whether it did
// anything and how many actions it started.
func (r *Responder) handle(ctx context.Context, t Ticket, fromPoll bool) (bool, int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	row, err := r.Store.Ticket(ctx, t.Key)
	if err != nil {
		return false, 0, err
	}
	if row != nil && fromPoll && !t.Updated.IsZero() && !t.Updated.After(row.UpdatedSeen) {
		return false, 0, nil // this (ticket, updated) was handled
	}
	if row == nil || fromPoll {
		nr := state.TicketRow{Key: t.Key, ID: t.ID, Summary: t.Summary, Status: t.Status, Labels: t.Labels, URL: t.URL}
		for _, l := range t.Labels {
			if v, ok := strings.CutPrefix(l, detections.DetectionLabelPrefix); ok {
				nr.Detection = v
			}
			if v, ok := strings.CutPrefix(l, detections.FingerprintLabelPrefix); ok {
				nr.Fingerprint = v
			}
		}
		if err := r.Store.UpsertTicket(ctx, nr); err != nil {
			return false, 0, err
		}
		if row, err = r.Store.Ticket(ctx, t.Key); err != nil {
			return false, 0, err
		}
	}
	n, err := r.stages(ctx, t, row)
	if err != nil {
		return true, n, err
	}
	if fromPoll && t.Updated.After(row.UpdatedSeen) {
		seen := t.Updated
		if err := r.Store.UpdateTicket(ctx, t.Key, state.TicketUpdate{UpdatedSeen: &seen}); err != nil {
			return true, n, err
		}
	}
	return true, n, nil
}

func (r *Responder) stages(ctx context.Context, t Ticket, row *state.TicketRow) (int, error) {
	if row.Stage == state.StageDone || row.Stage == state.StageFailed {
		return 0, nil
	}
	fields, err := r.fields(ctx, t, row)
	if err != nil {
		return 0, err
	}
	var d *detections.Detection
	if r.Detection != nil && row.Detection != "" {
		d = r.Detection(row.Detection)
	}
	if row.EnrichedAt.IsZero() && len(r.Enrichers) > 0 {
		if err := r.enrich(ctx, t, row, d, fields); err != nil {
			return 0, err
		}
	}
	switch {
	case d == nil:
		return 0, r.finish(ctx, row, state.StageDone, "no detection "+row.Detection+" is loaded: nothing to remediate")
	case d.Remediation == nil:
		return 0, r.finish(ctx, row, state.StageDone, "the detection has no remediation")
	case d.Remediation.Mode == detections.ModeOff:
		return 0, r.finish(ctx, row, state.StageDone, "remediation is off for this detection")
	}
	return r.remediate(ctx, t, row, d, fields)
}

// fields returns the event fields a ticket was made from: patrol's own
// alert's result, or what the tracker recovered from the ticket.
func (r *Responder) fields(ctx context.Context, t Ticket, row *state.TicketRow) (Result, error) {
	a, err := r.Store.AlertByTicket(ctx, t.Key)
	if err != nil {
		return nil, err
	}
	if a != nil {
		var res Result
		if err := json.Unmarshal([]byte(a.Result), &res); err != nil {
			return nil, fmt.Errorf("stored result: %w", err)
		}
		return res, nil
	}
	if t.Fields != nil {
		return t.Fields, nil
	}
	return Result{}, nil
}

func (r *Responder) enrich(ctx context.Context, t Ticket, row *state.TicketRow, d *detections.Detection, fields Result) error {
	in := NewEnrichInput(t, d, fields)
	in.Detection = row.Detection
	sec := Section{Heading: "Enrichment"}
	var notes []string
	var route Route
	for _, e := range r.Enrichers {
		ectx, cancel := context.WithTimeout(ctx, r.enrichTimeout())
		res, err := e.Enrich(ectx, in)
		cancel()
		if err != nil {
			notes = append(notes, fmt.Sprintf("%s: not available (%v)", e.Name(), err))
			continue
		}
		sec.Fields = append(sec.Fields, res.Facts...)
		if res.Note != "" {
			notes = append(notes, e.Name()+": "+res.Note)
		}
		route = mergeRoute(route, res.Route)
	}
	sec.Text = strings.Join(notes, "\n")
	m := Message{Sections: []Section{sec}}
	if err := r.Tracker.Comment(ctx, t.Key, m); err != nil {
		return fmt.Errorf("comment enrichment: %w", err)
	}
	if route.Assignee != "" || route.Component != "" {
		if err := r.Tracker.SetRoute(ctx, t.Key, route); err != nil {
			return fmt.Errorf("route: %w", err)
		}
	}
	now := r.now()
	u := state.TicketUpdate{EnrichedAt: &now, Stage: ptr(state.StageEnriched)}
	if route.SlackChannel != "" && row.Channel == "" {
		u.Channel = &route.SlackChannel
	}
	if err := r.Store.UpdateTicket(ctx, t.Key, u); err != nil {
		return err
	}
	row.EnrichedAt, row.Stage = now, state.StageEnriched
	return r.notify(ctx, t, row, d, "enriched", m)
}

func mergeRoute(a, b Route) Route {
	if a.Team == "" {
		a.Team = b.Team
	}
	if a.Assignee == "" {
		a.Assignee = b.Assignee
	}
	if a.Component == "" {
		a.Component = b.Component
	}
	if a.SlackChannel == "" {
		a.SlackChannel = b.SlackChannel
	}
	return a
}

func (r *Responder) finish(ctx context.Context, row *state.TicketRow, stage, note string) error {
	row.Stage = stage
	return r.Store.UpdateTicket(ctx, row.Key, state.TicketUpdate{Stage: &stage, Note: &note})
}

// notify queues a chat update about a ticket in its thread.
func (r *Responder) notify(ctx context.Context, t Ticket, row *state.TicketRow, d *detections.Detection, status string, m Message) error {
	n := Notification{Ticket: t, Detection: row.Detection, Status: status, Channel: row.Channel, Message: m}
	if d != nil {
		n.Severity = d.Severity
	}
	b, err := json.Marshal(n)
	if err != nil {
		return err
	}
	return r.Store.Enqueue(ctx, t.Key, string(b))
}

func (r *Responder) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

func (r *Responder) enrichTimeout() time.Duration {
	if r.EnrichTimeout > 0 {
		return r.EnrichTimeout
	}
	return 10 * time.Second
}

func (r *Responder) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

func ptr[T any](v T) *T { return &v }
