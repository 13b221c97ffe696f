package poller

import (
	"context"
	"fmt"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/state"
)

// A remediation is held while the ticket carries tickets.hold_label, or
// after a hold given in the chat until an approval is given after it: a
// hold cancels an automatic run for good (an approval is needed after it).

// holdFirstLine starts the note of a ticket held by its label.
const holdFirstLine = "Remediation held: the label"

// heldByLabel reports, once, that the ticket's hold label keeps its
// remediation from running.
func (r *Responder) heldByLabel(ctx context.Context, t Ticket, row *state.TicketRow, d *detections.Detection, plan Plan) (bool, error) {
	if r.HoldLabel == "" || !t.HasLabel(r.HoldLabel) {
		return false, nil
	}
	if at, err := r.chatHold(ctx, t.Key); err != nil || !at.IsZero() {
		return true, err // held in the chat, which said so on the ticket
	}
	text := fmt.Sprintf("%s %q is on this ticket, so patrol does not run %s. To let it run, remove the label and approve the plan again.\n\n%s",
		holdFirstLine, r.HoldLabel, plan.Action, planText(plan))
	if row.Stage == state.StageApproval && row.Note == firstLine(text) {
		return true, nil // already said so
	}
	r.observe(plan.Action, "held")
	// Held for good: once the label goes, an approval is still needed.
	seen := change{Change: state.Change{Meta: map[string]string{holdSeenKey + t.Key: r.now().Format(time.RFC3339Nano)}}}
	return true, r.stop(ctx, t, row, d, state.StageApproval, text, seen)
}

// holdSeenKey + a ticket key is the meta key of when its hold label was
// first seen.
const holdSeenKey = "hold_seen:"

// chatHold returns when the remediation was last held (in the chat, or
// by the hold label, first seen then), if no approval was recorded after
// that hold; zero otherwise.
func (r *Responder) chatHold(ctx context.Context, key string) (time.Time, error) {
	actions, err := r.Store.ChatActions(ctx, key)
	if err != nil {
		return time.Time{}, err
	}
	var at time.Time
	for _, a := range actions {
		if a.Kind == ClickHold && a.At.After(at) {
			at = a.At
		}
	}
	seen, err := r.Store.Meta(ctx, holdSeenKey+key)
	if err != nil {
		return time.Time{}, err
	}
	if t, err := time.Parse(time.RFC3339Nano, seen); err == nil && t.After(at) {
		at = t
	}
	if at.IsZero() {
		return at, nil
	}
	approvals, err := r.Store.Approvals(ctx, key)
	if err != nil {
		return time.Time{}, err
	}
	for _, a := range approvals {
		if a.At.After(at) {
			return time.Time{}, nil
		}
	}
	return at, nil
}
