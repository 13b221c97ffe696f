package poller

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/state"
)

// The hold label (tickets.hold_label) is the one way to stop a
// remediation: a person adds it to the ticket, or the Slack Hold button
// does (it only adds the label; a click is also recorded in the chat
// actions). While a ticket carries it, its remediation does not run, in
// any mode. A hold is for good: once it has been seen (or clicked), an
// automatic remediation is cancelled and waits, as in approve mode, for
// an approval given after the hold. An automatic remediation with a grace
// period (remediation.grace) says on its ticket when it will run and how
// to hold it, and reads the ticket itself just before it runs, so that a
// hold added a moment ago is not missed by a search that lags.

// DefaultHoldLabel is tickets.hold_label's default.
const DefaultHoldLabel = "patrol-hold"

// holdFirstLine starts the note of a ticket held by its label.
const holdFirstLine = "Remediation held: the label"

// A deferred ticket's note (state.StageDeferred) starts with what holds its
// action back: the hourly budget (aws.max_actions_per_hour) or the circuit
// breaker (aws.breaker_failures). The respond job reads it to say so once;
// the report, to name the reason.
const (
	NoteBudget  = "Remediation held back: the hourly budget"
	NoteBreaker = "Remediation held: the circuit breaker is open"
)

func (r *Responder) holdLabel() string {
	if r.HoldLabel != "" {
		return r.HoldLabel
	}
	return DefaultHoldLabel
}

// heldByLabel reports, once, that the ticket's hold label keeps its
// remediation from running, naming who added it and when.
func (r *Responder) heldByLabel(ctx context.Context, t Ticket, row *state.TicketRow, d *detections.Detection, plan Plan) (bool, error) {
	if !t.HasLabel(r.holdLabel()) {
		return false, nil
	}
	if at, err := r.chatHold(ctx, t.Key); err != nil || !at.IsZero() {
		return true, err // held in the chat, which said so on the ticket
	}
	if row.Stage == state.StageApproval && strings.HasPrefix(row.Note, holdFirstLine) {
		return true, nil // already said so
	}
	return true, r.sayHeld(ctx, t, row, d, plan)
}

// sayHeld records a hold seen on the ticket (when first seen, and who
// added the label, from the tracker's history of it) and says so.
func (r *Responder) sayHeld(ctx context.Context, t Ticket, row *state.TicketRow, d *detections.Detection, plan Plan) error {
	by, at := "", r.now()
	adds, err := r.Tracker.Approvals(ctx, t.Key, r.holdLabel()) // who added the label, and when
	if err != nil {
		return fmt.Errorf("read who held %s: %w", t.Key, err)
	}
	if len(adds) > 0 {
		by, at = adds[len(adds)-1].By, adds[len(adds)-1].At
	}
	who := ""
	if by != "" {
		who = fmt.Sprintf(" (added by %s at %s)", by, at.UTC().Format(time.RFC3339))
	}
	text := fmt.Sprintf("%s %q is on this ticket%s, so patrol does not run %s. The hold is for good: to let it run, remove the label and approve the plan again.\n\n%s",
		holdFirstLine, r.holdLabel(), who, plan.Action, planText(plan))
	r.observe(plan.Action, "held")
	// Held for good: once the label goes, an approval is still needed.
	seen := change{Change: state.Change{Meta: map[string]string{holdSeenKey + t.Key: r.now().Format(time.RFC3339Nano)}}}
	if row.HeldAt.IsZero() {
		seen.Update.HeldBy, seen.Update.HeldAt = &by, &at
		row.HeldBy, row.HeldAt = by, at
	}
	r.logger().Info("remediation held", "ticket", t.Key, "by", by)
	return r.stop(ctx, t, row, d, state.StageApproval, text, seen)
}

// holdSeenKey + a ticket key is the meta key of when its hold label was
// first seen.
const holdSeenKey = "hold_seen:"

// chatHold returns when the remediation was last held (in the chat, or
// by the hold label, first seen then), if no approval was recorded after
// that hold; zero otherwise.
func (r *Responder) chatHold(ctx context.Context, key string) (time.Time, error) {
	h, err := LastHold(ctx, r.Store, key)
	return h.At, err
}

// HoldReader is what LastHold reads of the state.
type HoldReader interface {
	ChatActions(ctx context.Context, key string) ([]state.ChatAction, error)
	Meta(ctx context.Context, key string) (string, error)
	Approvals(ctx context.Context, key string) ([]state.Approval, error)
}

// Hold is the hold in force on a ticket's remediation.
type Hold struct {
	At  time.Time // zero: none
	By  string    // the approver who clicked Hold; "" for the label (TicketRow.HeldBy names who added it)
	Via string    // HoldViaChat or HoldViaLabel
}

// Where a hold was given.
const (
	HoldViaChat  = "chat"
	HoldViaLabel = "label"
)

// LastHold returns the latest hold of a ticket's remediation (a Hold click
// in the chat, or the hold label, when patrol first saw it) when no
// approval was recorded after it: the remediation then does not run, and
// waits for an approval given after the hold. The zero Hold when none.
func LastHold(ctx context.Context, s HoldReader, key string) (Hold, error) {
	actions, err := s.ChatActions(ctx, key)
	if err != nil {
		return Hold{}, err
	}
	var h Hold
	for _, a := range actions {
		if a.Kind == ClickHold && a.At.After(h.At) {
			h = Hold{At: a.At, By: a.By, Via: HoldViaChat}
		}
	}
	seen, err := s.Meta(ctx, holdSeenKey+key)
	if err != nil {
		return Hold{}, err
	}
	if t, err := time.Parse(time.RFC3339Nano, seen); err == nil && t.After(h.At) {
		h = Hold{At: t, Via: HoldViaLabel}
	}
	if h.At.IsZero() {
		return h, nil
	}
	approvals, err := s.Approvals(ctx, key)
	if err != nil {
		return Hold{}, err
	}
	for _, a := range approvals {
		if a.At.After(h.At) {
			return Hold{}, nil
		}
	}
	return h, nil
}

// grace runs an automatic remediation's grace period. The first time it
// records when the action will run and says so on the ticket, with how to
// hold it; until then it reports stop. When the time has come it reads the
// ticket from the tracker itself (the poll's search may not show a label
// added or a close made a moment ago): a hold label there stops it for
// good, and so does a close.
func (r *Responder) grace(ctx context.Context, t Ticket, row *state.TicketRow, d *detections.Detection, plan Plan, grace time.Duration) (stop bool, err error) {
	now := r.now()
	if row.GraceUntil.IsZero() {
		until := now.Add(grace).Truncate(time.Second)
		dry := ""
		if r.Guard.DryRun {
			dry = " (aws.dry_run is on: it will only be planned, nothing changed)"
		}
		text := fmt.Sprintf("Remediation %s runs automatically at %s (grace period %s)%s. To stop it, add the label %q to this ticket before then: the automatic run is then cancelled for good and the plan waits for an approver.\n\n%s",
			plan.Action, until.Format(time.RFC3339), grace, dry, r.holdLabel(), planText(plan))
		m := Message{Sections: []Section{{Heading: "Remediation", Text: text}}}
		note := "automatic remediation runs at " + until.Format(time.RFC3339) + " unless held"
		c := change{Change: state.Change{Update: state.TicketUpdate{Stage: ptr(state.StageGrace), Note: &note, GraceUntil: &until}},
			deliveries: []Delivery{CommentDelivery(m), r.note(t, row, d, "remediation in "+grace.String(), m)}}
		if err := r.record(ctx, t.Key, c); err != nil {
			return true, err
		}
		row.Stage, row.GraceUntil = state.StageGrace, until
		r.logger().Info("remediation in its grace period", "ticket", t.Key, "runs_at", until)
		return true, nil
	}
	if now.Before(row.GraceUntil) {
		return true, nil
	}
	fresh, err := r.Tracker.Get(ctx, t.Key)
	if err != nil {
		return true, fmt.Errorf("read %s before its automatic remediation: %w", t.Key, err)
	}
	if r.closed(fresh, row) { // closed a moment ago: the search may not show it yet
		return true, r.cancelClosed(ctx, fresh, row, d)
	}
	return r.heldByLabel(ctx, fresh, row, d, plan)
}
