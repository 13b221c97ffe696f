package poller

import (
	"context"
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
// poll both seeing a new ticket) does nothing twice. What must follow a
// step (comments, chat updates, transitions) is queued with it in one state
// transaction and delivered until it arrives.
type Responder struct {
	Tracker   Tracker
	Store     Store
	Notifier  Notifier // nil: notifications stay queued
	Enrichers []Enricher
	Actions   map[string]Action
	// Detection returns the detection with the id, or nil (reloads swap it).
	Detection func(id string) *detections.Detection
	Guard     Guard
	// Health, when set, raises a self-alert for deliveries that fail for good.
	Health *Health
	// Router routes the ticket of a pending alert the respond job adopts
	// (see claim), as the detect job would have.
	Router Router

	ApproveLabel   string
	Approvers      []string
	DoneTransition string
	// HoldLabel on a ticket keeps its remediation from running.
	HoldLabel string
	// ChatApprovers maps chat user ids (Slack U0123ABCD) to approver
	// identities in Approvers: their clicks on a plan's Approve and Hold
	// buttons count.
	ChatApprovers map[string]string
	// ChatApprovals puts Approve and Hold buttons on the chat message of a
	// plan waiting for approval (a Listener takes the clicks).
	ChatApprovals bool
	// ClickTimeout bounds the handling of one click, the action it starts
	// included (0: no bound but the listener's).
	ClickTimeout time.Duration
	// FalsePositives are the resolutions that mean "false positive": such
	// a ticket gets a ready [[exception]] snippet and is counted.
	FalsePositives []string
	// AutoForExternal lets auto-mode remediation run on tickets patrol did
	// not make; off, they wait for an approver like approve mode.
	AutoForExternal bool
	// PollOverlap is subtracted from the watermark so updates that a tracker
	// makes visible late (Jira Cloud's eventually consistent search, clock
	// skew, minute-granular JQL) are still seen; (key, updated) dedupes.
	PollOverlap time.Duration
	// FirstPoll is how far back the first poll looks when there is no
	// watermark yet.
	FirstPoll     time.Duration
	EnrichTimeout time.Duration
	// Retention prunes run history and sent deliveries older than this,
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
// overlap), then tickets held back by the hourly budget or whose action's
// outcome is being read back, then queued undos, then the deliveries.
func (r *Responder) Poll(ctx context.Context) (RespondStats, error) {
	var st RespondStats
	run := state.Run{Job: "respond"}
	id, err := r.Store.StartRun(ctx, run)
	if err != nil && Cancelled(ctx) {
		return st, cancelledError(ctx, "respond")
	}
	if err != nil {
		return st, fmt.Errorf("respond: record run: %w", err)
	}
	run.ID = id
	err = r.poll(ctx, &st)
	run.Results, run.Tickets, run.Actions = st.Tickets, st.Handled, st.Actions
	if err != nil && Cancelled(ctx) {
		err, run.Cancelled = cancelledError(ctx, "respond"), true
	}
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
	// Tickets waiting for the hourly budget, or for an interrupted action
	// to be read back, are not updated by anyone: retry them here. So are
	// tickets waiting for approval that the ledger knows are closed (left
	// so by a patrol that did not yet cancel their remediation).
	parked, err := r.Store.TicketsInStage(ctx, state.StageDeferred, state.StageVerify, state.StageNew, state.StageGrace, state.StageApproval)
	if err != nil {
		return fmt.Errorf("respond: read ledger: %w", err)
	}
	for _, row := range parked {
		if row.Stage == state.StageNew && !row.UpdatedSeen.IsZero() {
			continue
		}
		if row.Stage == state.StageApproval && !r.closed(Ticket{}, &row) {
			continue
		}
		_, n, err := r.handle(ctx, ticketFromRow(row), false)
		st.Actions += n
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", row.Key, err))
		}
	}
	if err := r.queuedUndos(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := r.breaker(ctx); err != nil {
		errs = append(errs, fmt.Errorf("circuit breaker: %w", err))
	}
	if err := r.flush(ctx); err != nil {
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
	r.logger().Info("pruned old run history and deliveries", "rows", n, "retention", r.Retention.String())
	return r.Store.SetMetaTime(ctx, pruneKey, r.now())
}

// Handoff handles a ticket the detect job just created, without waiting for
// the next poll. Errors are logged: the poll retries.
func (r *Responder) Handoff(ctx context.Context, t Ticket) {
	if _, _, err := r.handle(ctx, t, false); err != nil {
		r.logger().Warn("respond to new ticket (the next poll retries)", "ticket", t.Key, "err", err)
	}
	if err := r.flush(ctx); err != nil {
		r.logger().Warn("deliveries queued for the next pass", "ticket", t.Key, "err", err)
	}
}

// Flush sends the queued deliveries (the digests' too).
func (r *Responder) Flush(ctx context.Context) error { return r.flush(ctx) }

// flush sends the queued deliveries.
func (r *Responder) flush(ctx context.Context) error {
	return courier{store: r.Store, tracker: r.Tracker, notifier: r.Notifier, health: r.Health, log: r.logger(), now: r.now}.flush(ctx)
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
		nr := state.TicketRow{Key: t.Key, ID: t.ID, Summary: t.Summary, Status: t.Status, Labels: t.Labels, URL: t.URL,
			Done: t.Done, Resolution: t.Resolution}
		for _, l := range t.Labels {
			if v, ok := strings.CutPrefix(l, detections.DetectionLabelPrefix); ok {
				nr.Detection = v
			}
			if v, ok := strings.CutPrefix(l, detections.FingerprintLabelPrefix); ok {
				nr.Fingerprint = v
			}
		}
		// The fields a ticket carries when patrol first sees it are the
		// ones it acts on (kept only when the row is new).
		if nr.Fields, err = fieldsJSON(t.Fields); err != nil {
			return false, 0, err
		}
		if err := r.Store.UpsertTicket(ctx, nr); err != nil {
			return false, 0, err
		}
		if row, err = r.Store.Ticket(ctx, t.Key); err != nil {
			return false, 0, err
		}
	}
	if fromPoll {
		if err := r.reportEdits(ctx, t, row); err != nil {
			return true, 0, err
		}
		if err := r.verdict(ctx, t, row); err != nil {
			return true, 0, err
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
	switch {
	case cancelledByClose(row) && !r.closed(t, row):
		if err := r.reopened(ctx, t, row); err != nil {
			return 0, err
		}
	case row.Stage == state.StageDone || row.Stage == state.StageFailed:
		return 0, nil
	}
	if ok, err := r.claim(ctx, t, row); err != nil || !ok {
		return 0, err
	}
	fields, external, err := r.fields(ctx, t, row)
	if err != nil {
		return 0, err
	}
	var d *detections.Detection
	if r.Detection != nil && row.Detection != "" {
		d = r.Detection(row.Detection)
	}
	if row.Stage == state.StageVerify {
		return 0, r.settleTicket(ctx, t, row, d)
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
	case r.closed(t, row):
		// Closed by a person before the action started: it never does.
		return 0, r.cancelClosed(ctx, t, row, d)
	}
	return r.remediate(ctx, t, row, d, fields, external)
}

func (r *Responder) finish(ctx context.Context, row *state.TicketRow, stage, note string) error {
	row.Stage = stage
	return r.Store.UpdateTicket(ctx, row.Key, state.TicketUpdate{Stage: &stage, Note: &note})
}

// change is a state.Change with its deliveries not yet encoded.
type change struct {
	state.Change
	deliveries []Delivery
}

// record applies c to ticket key in one state transaction.
func (r *Responder) record(ctx context.Context, key string, c change) error {
	_, err := r.recordIDs(ctx, key, c)
	return err
}

func (r *Responder) recordIDs(ctx context.Context, key string, c change) ([]int64, error) {
	ds, err := encodeAll(key, c.deliveries)
	if err != nil {
		return nil, err
	}
	c.Change.Ticket, c.Change.Deliveries = key, ds
	return r.Store.Record(ctx, c.Change)
}

// detection returns the loaded detection of a ledger row, or nil.
func (r *Responder) detection(row *state.TicketRow) *detections.Detection {
	if r.Detection == nil || row.Detection == "" {
		return nil
	}
	return r.Detection(row.Detection)
}

// note is a chat update about a ticket, in its thread.
func (r *Responder) note(t Ticket, row *state.TicketRow, d *detections.Detection, status string, m Message) Delivery {
	n := Notification{Ticket: t, Detection: row.Detection, Status: status, Message: m}
	if d != nil {
		n.Severity = d.Severity
	}
	return NotifyDelivery(n)
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
