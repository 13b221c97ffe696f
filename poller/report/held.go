package report

import (
	"context"
	"fmt"
	"strings"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/state"
)

// heldTable lists the tickets whose action is held back when the report is
// made: by a hold (the hold label, or Hold clicked in the chat), a grace
// period (remediation.grace), the hourly budget (aws.max_actions_per_hour)
// or the circuit breaker (aws.breaker_failures).
func heldTable(ctx context.Context, d *data) (*Table, error) {
	t := &Table{Name: "held_actions", Title: "Actions held back", Columns: []Column{
		{Key: "ticket", Title: "Ticket"}, {Key: "detection", Title: "Detection"}, {Key: "action", Title: "Action"},
		{Key: "reason", Title: "Held by"}, {Key: "ticket_created", Title: "Ticket created", Kind: Time}, {Key: "note", Title: "Note"}},
		Empty: fmt.Sprintf("No action was held back when the report was made (%s).", d.opt.Now.Format(timeLayout))}
	for _, tk := range d.spanTickets() {
		why, err := heldReason(ctx, d.db, tk)
		if err != nil {
			return nil, err
		}
		if why == "" {
			continue
		}
		t.Rows = append(t.Rows, []any{tk.Key, tk.Detection, d.dets[tk.Detection].Action, why, tk.Created, tk.Note})
	}
	return t, nil
}

// heldReason says what holds a ticket's action back, or "" when nothing
// does. A hold comes first: it outlasts the others, and the action then
// needs an approval given after it. It is read as the respond job reads it
// (poller.LastHold). A grace period has its own stage; the two limits that
// defer an action share one, and the note the respond job wrote names which.
func heldReason(ctx context.Context, db *state.DB, t state.TicketRow) (string, error) {
	switch t.Stage {
	case state.StageApproval, state.StageDeferred, state.StageGrace:
	default:
		return "", nil
	}
	h, err := poller.LastHold(ctx, db, t.Key)
	if err != nil {
		return "", err
	}
	switch {
	case h.Via == poller.HoldViaChat && h.By != "":
		return "hold, clicked in the chat by " + h.By, nil
	case h.Via == poller.HoldViaChat:
		return "hold, clicked in the chat", nil
	case h.Via == poller.HoldViaLabel && t.HeldBy != "":
		return "hold label, added by " + t.HeldBy, nil
	case h.Via == poller.HoldViaLabel:
		return "hold label", nil
	case t.Stage == state.StageGrace:
		return "grace period, runs at " + t.GraceUntil.Format(timeLayout), nil
	case t.Stage == state.StageDeferred && strings.HasPrefix(t.Note, poller.NoteBreaker):
		return "circuit breaker", nil
	case t.Stage == state.StageDeferred && strings.HasPrefix(t.Note, poller.NoteBudget):
		return "hourly budget", nil
	case t.Stage == state.StageDeferred:
		return "deferred", nil // by a limit this build does not know: the note says which
	}
	return "", nil
}
