package poller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/state"
)

// remediate applies the detection's remediation to a ticket: at most once
// per ticket, action and target, recorded before and after.
func (r *Responder) remediate(ctx context.Context, t Ticket, row *state.TicketRow, d *detections.Detection, fields Result, external bool) (int, error) {
	rem := d.Remediation
	act, ok := r.Actions[rem.Action]
	if !ok {
		r.observe(rem.Action, "refused") // nothing was attempted
		return 0, r.stop(ctx, t, row, d, state.StageFailed, fmt.Sprintf("Remediation %s is not available in this patrol (no implementation is configured): respond by hand.", rem.Action), change{})
	}
	params := map[string]string{}
	for name, tmpl := range rem.Params {
		params[name] = tmpl.Render(fields.Lookup)
	}
	plan, err := act.Plan(ctx, ActionRequest{Action: rem.Action, Params: params, TicketKey: t.Key})
	if err != nil {
		r.observe(rem.Action, "refused") // nothing was attempted
		return 0, r.stop(ctx, t, row, d, state.StageFailed, fmt.Sprintf("Remediation %s cannot be planned: %v. Respond by hand.", rem.Action, err), change{})
	}
	plan.Action = rem.Action
	attempt := t.Key + "|" + plan.Action + "|" + plan.Target
	planJSON, _ := json.Marshal(plan)
	ev := state.ActionEvent{Attempt: attempt, TicketKey: t.Key, Action: plan.Action, Target: plan.Target,
		Principal: plan.Principal, Plan: string(planJSON), DryRun: r.Guard.DryRun}

	prior, err := r.Store.AttemptEvents(ctx, attempt)
	if err != nil {
		return 0, err
	}
	if len(prior) > 0 {
		return 0, r.resumeAttempt(ctx, t, row, d, act, prior)
	}
	if why := r.Guard.refusal(ctx, plan, fields); why != "" {
		ev.Phase, ev.Detail = state.PhaseRefused, why
		r.observe(plan.Action, "refused")
		return 0, r.stop(ctx, t, row, d, state.StageFailed, fmt.Sprintf("Remediation refused: %s. Nothing was changed; respond by hand.\n\n%s", why, planText(plan)),
			change{Change: state.Change{Actions: []state.ActionEvent{ev}}})
	}
	if held, err := r.heldByLabel(ctx, t, row, d, plan); held || err != nil {
		return 0, err
	}
	holdAt, err := r.chatHold(ctx, t.Key)
	if err != nil {
		return 0, err
	}
	// Cancelled when its ticket was closed, then reopened: like a hold,
	// only an approval given after that counts.
	closedAt, err := r.closedAt(ctx, t.Key)
	if err != nil {
		return 0, err
	}
	if closedAt.After(holdAt) {
		holdAt = closedAt
	}
	mode := rem.Mode
	if mode == detections.ModeAuto && external && !r.AutoForExternal {
		mode = detections.ModeApprove // tickets.auto_for_external is off
	}
	if mode == detections.ModeAuto && !holdAt.IsZero() {
		mode = detections.ModeApprove // held: an approval is needed after the hold
	}
	if mode == detections.ModeAuto && rem.Grace > 0 {
		if stop, err := r.grace(ctx, t, row, d, plan, rem.Grace); stop || err != nil {
			return 0, err
		}
	}
	var approval *state.Approval
	if mode == detections.ModeApprove {
		if approval, err = r.approval(ctx, t, row, d, plan, external && rem.Mode == detections.ModeAuto, holdAt); err != nil || approval == nil {
			return 0, err
		}
	}
	if !r.Guard.DryRun && r.Guard.MaxPerHour > 0 {
		n, err := r.Store.StartedSince(ctx, r.now().Add(-time.Hour))
		if err != nil {
			return 0, err
		}
		if n >= r.Guard.MaxPerHour {
			if row.Stage == state.StageDeferred && strings.HasPrefix(row.Note, NoteBudget) {
				return 0, nil // already said so
			}
			r.observe(plan.Action, "deferred")
			return 0, r.stop(ctx, t, row, d, state.StageDeferred, fmt.Sprintf("%s of %d actions is used up. patrol runs it when the budget allows.\n\n%s", NoteBudget, r.Guard.MaxPerHour, planText(plan)), change{})
		}
	}
	if held, err := r.breakerHolds(ctx, t, row, plan); held || err != nil {
		return 0, err
	}
	if row.Stage == state.StageDeferred {
		// Held back until now: read the ticket itself, as a grace period
		// does, since the search may not show a close made a moment ago.
		fresh, err := r.Tracker.Get(ctx, t.Key)
		if err != nil {
			return 0, fmt.Errorf("read %s before its held-back remediation: %w", t.Key, err)
		}
		if r.closed(fresh, row) {
			return 0, r.cancelClosed(ctx, fresh, row, d)
		}
	}
	if r.Guard.DryRun {
		ev.Phase, ev.Detail = state.PhasePlanned, "dry run: nothing changed"
		r.observe(plan.Action, "dry_run")
		return 0, r.stop(ctx, t, row, d, state.StageDone, "Dry run (aws.dry_run = true): patrol would do the following and changed nothing.\n\n"+planText(plan),
			change{Change: state.Change{Actions: []state.ActionEvent{ev}, Approval: approval}})
	}
	return 1, r.apply(ctx, t, row, d, act, plan, ev, approval)
}

// apply runs the action. Its start (with the approval it runs on) is on
// disk before the call; its outcome and everything that must follow it
// are recorded in one transaction after.
func (r *Responder) apply(ctx context.Context, t Ticket, row *state.TicketRow, d *detections.Detection, act Action, plan Plan, ev state.ActionEvent, approval *state.Approval) error {
	planned, started := ev, ev
	planned.Phase, started.Phase = state.PhasePlanned, state.PhaseStarted
	if approval != nil {
		planned.Detail = fmt.Sprintf("approved by %s at %s via %s (plan digest %s)", approval.By, approval.At.UTC().Format(time.RFC3339), approval.Via, approval.Digest)
	}
	start := change{Change: state.Change{Update: state.TicketUpdate{Stage: ptr(state.StageVerify)},
		Actions: []state.ActionEvent{planned, started}, Approval: approval, Durable: true}}
	if err := r.record(ctx, t.Key, start); err != nil {
		return fmt.Errorf("record action start: %w", err)
	}
	row.Stage = state.StageVerify
	return r.run(ctx, t, row, d, act, plan, ev)
}

// run calls Apply for a started attempt and records its outcome and what
// must follow it in one transaction.
func (r *Responder) run(ctx context.Context, t Ticket, row *state.TicketRow, d *detections.Detection, act Action, plan Plan, ev state.ActionEvent) error {
	out, err := act.Apply(r.withSending(ctx, t.Key, ev.Attempt), plan)
	// Record the outcome even if the run's context is ending: the change is done.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	ev.Snapshot = out.Snapshot
	switch {
	case err != nil && ctx.Err() != nil:
		// Stopped (a signal, the run's time limit) while AWS may have
		// applied the change: say so, and read it back on the next pass.
		ev.Phase, ev.Detail = state.PhaseInterrupted, fmt.Sprintf("patrol stopped while the action ran (%v): its outcome is read back on the next pass", err)
		r.observe(plan.Action, "interrupted")
		return r.record(rctx, t.Key, change{Change: state.Change{Actions: []state.ActionEvent{ev}}})
	case err != nil:
		ev.Phase, ev.Detail = state.PhaseFailed, err.Error()
		r.observe(plan.Action, "failed")
		return r.stop(rctx, t, row, d, state.StageFailed, fmt.Sprintf("Remediation %s FAILED: %v\nIt is not retried automatically; check the resource and respond by hand.\n\n%s", plan.Action, err, planText(plan)),
			change{Change: state.Change{Actions: []state.ActionEvent{ev}}})
	case !out.Verified:
		ev.Phase, ev.Detail = state.PhaseFailed, "applied but not verified: "+out.Detail
		r.observe(plan.Action, "unverified")
		return r.stop(rctx, t, row, d, state.StageFailed, fmt.Sprintf("Remediation %s was applied but its verification did not confirm it: %s. Check by hand.", plan.Action, out.Detail),
			change{Change: state.Change{Actions: []state.ActionEvent{ev}}})
	}
	ev.Phase, ev.Detail = state.PhaseSucceeded, out.Detail
	r.observe(plan.Action, "succeeded")
	return r.done(rctx, t, row, d, fmt.Sprintf("Remediation %s done and verified.\n%s\n\n%s", plan.Action, out.Detail, planText(plan)), ev)
}

// done records a succeeded action with its comment, chat update and the
// done transition.
func (r *Responder) done(ctx context.Context, t Ticket, row *state.TicketRow, d *detections.Detection, text string, ev state.ActionEvent) error {
	c := change{Change: state.Change{Actions: []state.ActionEvent{ev}}}
	if r.DoneTransition != "" {
		c.deliveries = append(c.deliveries, TransitionDelivery(r.DoneTransition))
	}
	return r.stop(ctx, t, row, d, state.StageDone, text, c)
}

func (r *Responder) observe(action, outcome string) {
	if r.OnAction != nil {
		r.OnAction(action, outcome)
	}
}

// stop records c with the ticket's new stage, a comment with text and a
// chat update, in one transaction. Deliveries already in c follow them.
func (r *Responder) stop(ctx context.Context, t Ticket, row *state.TicketRow, d *detections.Detection, stage, text string, c change) error {
	m := Message{Sections: []Section{{Heading: "Remediation", Text: text}}}
	note := firstLine(text)
	c.Update.Stage, c.Update.Note = &stage, &note
	c.deliveries = append([]Delivery{CommentDelivery(m), r.note(t, row, d, stage, m)}, c.deliveries...)
	upd, err := r.outcomeUpdate(ctx, t, row, text)
	if err != nil {
		return err
	}
	if upd != nil {
		c.deliveries = append(c.deliveries, *upd)
	}
	if err := r.record(ctx, t.Key, c); err != nil {
		return err
	}
	row.Stage = stage
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// planText renders a plan for a ticket.
func planText(p Plan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Plan: %s on %s", p.Action, p.Target)
	if p.Account != "" {
		fmt.Fprintf(&b, " (account %s", p.Account)
		if p.Region != "" {
			fmt.Fprintf(&b, ", %s", p.Region)
		}
		b.WriteString(")")
	}
	b.WriteString("\n")
	for i, s := range p.Steps {
		fmt.Fprintf(&b, "%d. %s\n", i+1, s)
	}
	return strings.TrimRight(b.String(), "\n")
}

// PlanDigest is a short digest of what a plan would do: its action,
// target, principal, account, region and resolved params (not its wording).
// An approval is bound to it: a plan re-derived with another digest needs a
// new approval.
func PlanDigest(p Plan) string {
	h := sha256.New()
	for _, v := range []string{p.Action, p.Target, p.Principal, p.Account, p.Region} {
		h.Write([]byte(v))
		h.Write([]byte{0x1f})
	}
	keys := make([]string, 0, len(p.Params))
	for k := range p.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0x1e})
		h.Write([]byte(p.Params[k]))
		h.Write([]byte{0x1f})
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}
