package poller

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/state"
)

// resumeAttempt handles a ticket whose action was already attempted: it is
// never run again.
func (r *Responder) resumeAttempt(ctx context.Context, t Ticket, row *state.TicketRow, d *detections.Detection, act Action, prior []state.ActionEvent) error {
	last := prior[len(prior)-1]
	switch last.Phase {
	case state.PhaseStarted, state.PhaseInterrupted:
		return r.settle(ctx, t, row, d, act, prior)
	case state.PhaseSucceeded, state.PhaseReverted, state.PhaseRevertStarted, state.PhaseRevertFailed, state.PhaseRevertRefused:
		return r.finish(ctx, row, state.StageDone, "remediation "+last.Phase)
	case state.PhasePlanned:
		if last.DryRun {
			return r.finish(ctx, row, state.StageDone, "dry run recorded")
		}
		return r.finish(ctx, row, state.StageFailed, "remediation planned but never started")
	default:
		return r.finish(ctx, row, state.StageFailed, "remediation "+last.Phase+": "+last.Detail)
	}
}

// settleTicket settles the ticket's latest attempt, whose outcome is
// unknown (stage verify), without planning again: the target is the one
// recorded when it started, whatever the detection says now.
func (r *Responder) settleTicket(ctx context.Context, t Ticket, row *state.TicketRow, d *detections.Detection) error {
	evs, err := r.Store.TicketActions(ctx, t.Key)
	if err != nil {
		return err
	}
	if len(evs) == 0 {
		return r.finish(ctx, row, state.StageFailed, "no action recorded")
	}
	attempt := evs[len(evs)-1].Attempt
	var prior []state.ActionEvent
	for _, e := range evs {
		if e.Attempt == attempt {
			prior = append(prior, e)
		}
	}
	act := r.Actions[prior[0].Action]
	return r.resumeAttempt(ctx, t, row, d, act, prior)
}

// settle resolves an attempt that started and whose outcome is unknown:
// patrol stopped (a crash, a signal, the run's time limit) while the
// action ran. The action is never run again. An action that can read its
// target back (Checker) says whether the change is in place: in place, it
// is recorded and commented as done (and can be undone from its
// snapshot); not in place, a person takes over with the true reason.
func (r *Responder) settle(ctx context.Context, t Ticket, row *state.TicketRow, d *detections.Detection, act Action, prior []state.ActionEvent) error {
	var started, last state.ActionEvent
	for _, e := range prior {
		if e.Phase == state.PhaseStarted {
			started = e
		}
		last = e
	}
	ev := last
	ev.ID, ev.At, ev.Detail = 0, time.Time{}, ""
	var c change
	if last.Phase != state.PhaseInterrupted {
		// The run never learnt the outcome (killed): record that first.
		in := ev
		in.Phase, in.Detail = state.PhaseInterrupted, "patrol stopped while the action ran; its outcome is read back"
		c.Actions = append(c.Actions, in)
		r.observe(ev.Action, "interrupted")
	}
	var plan Plan
	if err := json.Unmarshal([]byte(started.Plan), &plan); err != nil {
		return fmt.Errorf("stored plan of %s: %w", started.Attempt, err)
	}
	chk, ok := act.(Checker)
	if !ok {
		ev.Phase, ev.Detail = state.PhaseFailed, "interrupted; this action cannot read its target back"
		c.Actions = append(c.Actions, ev)
		return r.stop(ctx, t, row, d, state.StageFailed, fmt.Sprintf("Remediation %s was started but patrol stopped before it finished. It is not run again: check %s by hand.", ev.Action, ev.Target), c)
	}
	out, err := chk.Check(ctx, plan, started.At)
	if err != nil {
		if !Permanent(err) {
			// Try again on the next pass; keep what is known so far.
			if len(c.Actions) > 0 {
				if rerr := r.record(ctx, t.Key, c); rerr != nil {
					return rerr
				}
			}
			return fmt.Errorf("read back %s after an interruption: %w", ev.Target, err)
		}
		ev.Phase, ev.Detail = state.PhaseFailed, "interrupted; reading the target back failed: "+err.Error()
		c.Actions = append(c.Actions, ev)
		return r.stop(ctx, t, row, d, state.StageFailed, fmt.Sprintf("Remediation %s was started but patrol stopped before it finished, and reading %s back failed: %v. It is not run again: check by hand.", ev.Action, ev.Target, err), c)
	}
	mark, err := r.sentMark(ctx, ev.Attempt)
	if err != nil {
		return err
	}
	ev.Snapshot = last.Snapshot // taken by the interrupted run, if it got that far
	if ev.Snapshot == "" && mark != nil {
		ev.Snapshot = mark.Snapshot // recorded just before the change was sent
	}
	if !out.Verified && mark == nil && marksSends(act) {
		// Stopped before the change was sent (connecting, reading the
		// snapshot): it was never made, so it is made now, once, unless
		// a person or a guardrail has stopped it since.
		why, err := r.unsentBlocked(ctx, t)
		if err != nil {
			return err
		}
		if why != "" {
			ev.Phase, ev.Detail = state.PhaseFailed, "interrupted before the change was sent; not sent now: "+why
			c.Actions = append(c.Actions, ev)
			r.observe(ev.Action, "held")
			return r.stop(ctx, t, row, d, state.StageFailed, fmt.Sprintf("Remediation %s was started but patrol stopped before it sent the change, and reading %s back shows it is not in place: %s. It is not sent now, because %s: respond by hand.\n\n%s", ev.Action, ev.Target, out.Detail, why, planText(plan)), c)
		}
		if len(c.Actions) > 0 {
			c.Actions[0].Detail = "patrol stopped before the change was sent; read back: " + out.Detail + "; it is sent now"
		} else {
			in := ev
			in.Phase, in.Detail = state.PhaseInterrupted, "the change was never sent; read back: "+out.Detail+"; it is sent now"
			c.Actions = append(c.Actions, in)
		}
		if err := r.record(ctx, t.Key, c); err != nil {
			return err
		}
		r.logger().Info("interrupted before its change was sent: applying it now", "ticket", t.Key, "action", ev.Action, "target", ev.Target)
		ev.Snapshot = ""
		return r.run(ctx, t, row, d, act, plan, ev)
	}
	if !out.Verified {
		ev.Phase, ev.Detail = state.PhaseFailed, "interrupted; read back: not in place: "+out.Detail
		c.Actions = append(c.Actions, ev)
		r.observe(ev.Action, "failed")
		return r.stop(ctx, t, row, d, state.StageFailed, fmt.Sprintf("Remediation %s was started but patrol stopped before it finished. Reading %s back shows the change is NOT in place: %s. It is not run again: respond by hand.\n\n%s", ev.Action, ev.Target, out.Detail, planText(plan)), c)
	}
	ev.Phase, ev.Detail = state.PhaseSucceeded, "interrupted, then read back: "+out.Detail
	c.Actions = append(c.Actions, ev)
	r.observe(ev.Action, "succeeded")
	text := fmt.Sprintf("Remediation %s was interrupted (patrol stopped while it ran) and is not run again. Reading %s back shows the change in place: %s", ev.Action, ev.Target, out.Detail)
	if ev.Snapshot == "" {
		text += "\nNo snapshot of the prior state was recorded, so it cannot be undone with patrol undo."
	}
	if r.DoneTransition != "" {
		c.deliveries = append(c.deliveries, TransitionDelivery(r.DoneTransition))
	}
	return r.stop(ctx, t, row, d, state.StageDone, text+"\n\n"+planText(plan), c)
}

// unsentBlocked says why a change that was never sent must not be sent
// now that patrol is back ("" when nothing stops it): dry run turned on, a
// hold put on the ticket (label or chat) or the circuit breaker opened
// while it waited.
func (r *Responder) unsentBlocked(ctx context.Context, t Ticket) (string, error) {
	if r.Guard.DryRun {
		return "aws.dry_run is on", nil
	}
	if t.HasLabel(r.holdLabel()) {
		return fmt.Sprintf("the hold label %q is on the ticket", r.holdLabel()), nil
	}
	if at, err := r.chatHold(ctx, t.Key); err != nil || !at.IsZero() {
		return "it was held in the chat", err
	}
	b, err := Breaker(ctx, r.Store, r.Guard.BreakerFailures)
	if err != nil || !b.Open {
		return "", err
	}
	return fmt.Sprintf("the circuit breaker is open (%d actions failed in a row)", b.Failures), nil
}
