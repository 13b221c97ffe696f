package poller

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/patrolsec/patrol/state"
)

// Undo reverts a succeeded action from the snapshot taken before it ran, at
// most once, and records and comments the outcome. by names who asked.
func (r *Responder) Undo(ctx context.Context, id int64, by string) (Outcome, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev, err := r.Store.Action(ctx, id)
	if err != nil {
		return Outcome{}, err
	}
	if ev == nil {
		return Outcome{}, fmt.Errorf("no action #%d in the ledger", id)
	}
	if ev.Phase != state.PhaseSucceeded {
		return Outcome{}, fmt.Errorf("action #%d is a %q row: only a succeeded action (its last row) can be undone; see 'patrol tickets %s'", id, ev.Phase, ev.TicketKey)
	}
	prior, err := r.Store.AttemptEvents(ctx, ev.Attempt)
	if err != nil {
		return Outcome{}, err
	}
	for _, p := range prior {
		if p.ID > ev.ID && strings.HasPrefix(p.Phase, "revert") {
			return Outcome{}, fmt.Errorf("action #%d was already undone or an undo was attempted (#%d, %s): it is not run again", id, p.ID, p.Phase)
		}
	}
	act, ok := r.Actions[ev.Action]
	if !ok {
		return Outcome{}, fmt.Errorf("action %s is not available in this patrol", ev.Action)
	}
	rev, ok := act.(Reverter)
	if !ok {
		return Outcome{}, fmt.Errorf("%s cannot be undone", ev.Action)
	}
	var plan Plan
	if err := json.Unmarshal([]byte(ev.Plan), &plan); err != nil {
		return Outcome{}, fmt.Errorf("action #%d: stored plan: %w", id, err)
	}
	row := *ev
	row.ID, row.At, row.Detail, row.Snapshot = 0, time.Time{}, "undo requested by "+by, ""
	row.Phase = state.PhaseRevertStarted
	if _, err := r.Store.AppendAction(ctx, row); err != nil {
		return Outcome{}, err
	}
	out, rerr := rev.Revert(ctx, plan, ev.Snapshot)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	row.Phase, row.Detail = state.PhaseReverted, out.Detail
	text := fmt.Sprintf("Remediation #%d (%s on %s) undone at the request of %s: %s", id, ev.Action, ev.Target, by, out.Detail)
	if rerr != nil {
		row.Phase, row.Detail = state.PhaseRevertFailed, rerr.Error()
		text = fmt.Sprintf("Undo of remediation #%d (%s on %s), requested by %s, FAILED: %v. Check the resource by hand.", id, ev.Action, ev.Target, by, rerr)
	}
	if _, err := r.Store.AppendAction(rctx, row); err != nil {
		return out, fmt.Errorf("record undo: %w", err)
	}
	r.observe(ev.Action, row.Phase)
	m := Message{Sections: []Section{{Heading: "Undo", Text: text}}}
	if err := r.Tracker.Comment(rctx, ev.TicketKey, m); err != nil {
		return out, fmt.Errorf("comment undo on %s: %w", ev.TicketKey, err)
	}
	if tr, _ := r.Store.Ticket(rctx, ev.TicketKey); tr != nil {
		r.notify(rctx, ticketFromRow(*tr), tr, nil, row.Phase, m)
		flushOutbox(rctx, r.Store, r.Notifier, r.logger())
	}
	return out, rerr
}
