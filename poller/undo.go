package poller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/patrolsec/patrol/state"
)

// Undo results of a queued undo (state.UndoRequest.Result).
const (
	UndoDone    = "undone"
	UndoRefused = "refused" // nothing was changed; it may be asked for again where the refusal says so
	UndoFailed  = "failed"
)

// UndoError is an undo that did not happen, and whether anything was
// changed on the way.
type UndoError struct {
	Err error
	// Refused: refused before anything was changed.
	Refused bool
}

func (e *UndoError) Error() string { return e.Err.Error() }
func (e *UndoError) Unwrap() error { return e.Err }

func refuse(format string, args ...any) error {
	return &UndoError{Err: fmt.Errorf(format, args...), Refused: true}
}

// Undo reverts a succeeded action from the snapshot taken before it ran, at
// most once, and records and comments the outcome. by names who asked. An
// undo refused before it changed anything (dry run, a snapshot that no
// longer matches the resource) is recorded and leaves the undo available.
func (r *Responder) Undo(ctx context.Context, id int64, by string) (Outcome, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev, err := r.Store.Action(ctx, id)
	if err != nil {
		return Outcome{}, err
	}
	if ev == nil {
		return Outcome{}, refuse("no action #%d in the ledger", id)
	}
	if ev.Phase != state.PhaseSucceeded {
		return Outcome{}, refuse("action #%d is a %q row: only a succeeded action (its last row) can be undone; see 'patrol tickets %s'", id, ev.Phase, ev.TicketKey)
	}
	prior, err := r.Store.AttemptEvents(ctx, ev.Attempt)
	if err != nil {
		return Outcome{}, err
	}
	var last *state.ActionEvent
	for i := range prior {
		if p := &prior[i]; p.ID > ev.ID && len(p.Phase) > 6 && p.Phase[:6] == "revert" {
			last = p
		}
	}
	if last != nil && last.Phase != state.PhaseRevertRefused {
		return Outcome{}, refuse("action #%d was already undone or an undo was attempted (#%d, %s): it is not run again", id, last.ID, last.Phase)
	}
	act, ok := r.Actions[ev.Action]
	if !ok {
		return Outcome{}, refuse("action %s is not available in this patrol", ev.Action)
	}
	rev, ok := act.(Reverter)
	if !ok {
		return Outcome{}, refuse("%s cannot be undone", ev.Action)
	}
	if ev.Snapshot == "" {
		return Outcome{}, refuse("action #%d has no snapshot of the prior state (patrol stopped while it ran, and read it back afterwards): undo it by hand", id)
	}
	var plan Plan
	if err := json.Unmarshal([]byte(ev.Plan), &plan); err != nil {
		return Outcome{}, fmt.Errorf("action #%d: stored plan: %w", id, err)
	}
	row := *ev
	row.ID, row.At, row.Detail, row.Snapshot = 0, time.Time{}, "undo requested by "+by, ""
	row.Phase = state.PhaseRevertStarted
	if _, err := r.Store.AppendAction(ctx, row); err != nil { // on disk before the call
		return Outcome{}, err
	}
	out, rerr := rev.Revert(ctx, plan, ev.Snapshot)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	row.Phase, row.Detail = state.PhaseReverted, out.Detail
	text := fmt.Sprintf("Remediation #%d (%s on %s) undone at the request of %s: %s", id, ev.Action, ev.Target, by, out.Detail)
	switch {
	case rerr != nil && Unchanged(rerr):
		row.Phase, row.Detail = state.PhaseRevertRefused, rerr.Error()
		r.observe(ev.Action, row.Phase)
		if _, err := r.Store.AppendAction(rctx, row); err != nil {
			return out, fmt.Errorf("record undo: %w", err)
		}
		return out, &UndoError{Err: fmt.Errorf("undo of #%d refused, nothing changed (it may be asked for again): %w", id, rerr), Refused: true}
	case rerr != nil:
		row.Phase, row.Detail = state.PhaseRevertFailed, rerr.Error()
		text = fmt.Sprintf("Undo of remediation #%d (%s on %s), requested by %s, FAILED: %v. Check the resource by hand.", id, ev.Action, ev.Target, by, rerr)
		rerr = &UndoError{Err: rerr}
	}
	r.observe(ev.Action, row.Phase)
	m := Message{Sections: []Section{{Heading: "Undo", Text: text}}}
	c := change{Change: state.Change{Actions: []state.ActionEvent{row}}, deliveries: []Delivery{CommentDelivery(m)}}
	if tr, _ := r.Store.Ticket(rctx, ev.TicketKey); tr != nil {
		c.deliveries = append(c.deliveries, r.note(ticketFromRow(*tr), tr, nil, row.Phase, m))
	}
	if err := r.record(rctx, ev.TicketKey, c); err != nil {
		return out, fmt.Errorf("record undo: %w", err)
	}
	if err := r.flush(rctx); err != nil {
		r.logger().Warn("undo recorded; its comment is delivered on the next pass", "ticket", ev.TicketKey, "err", err)
	}
	return out, rerr
}

// queuedUndos carries out the undos that `patrol undo` queued while this
// process held the state file.
func (r *Responder) queuedUndos(ctx context.Context) error {
	reqs, err := r.Store.PendingUndos(ctx)
	if err != nil {
		return fmt.Errorf("read queued undos: %w", err)
	}
	for _, q := range reqs {
		out, err := r.Undo(ctx, q.ActionID, q.By)
		result, detail := UndoDone, out.Detail
		var ue *UndoError
		switch {
		case errors.As(err, &ue) && ue.Refused:
			result, detail = UndoRefused, err.Error()
		case err != nil:
			result, detail = UndoFailed, err.Error()
		}
		r.logger().Info("queued undo", "action", q.ActionID, "by", q.By, "result", result, "detail", detail)
		if err := r.Store.UndoDone(context.WithoutCancel(ctx), q.ID, result, detail); err != nil {
			return err
		}
	}
	return nil
}
