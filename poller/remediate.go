package poller

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/state"
)

// Guard holds the guardrails checked before any Action runs.
type Guard struct {
	DryRun bool
	// ProtectedPrincipals are ARN patterns (* matches anything): an action
	// that would change a matching principal, or one about an event made by
	// a matching principal, is refused.
	ProtectedPrincipals []string
	ProtectedAccounts   []string
	// MaxPerHour caps real (not dry-run) action starts per rolling hour; 0 = no cap.
	MaxPerHour int
}

// EventPrincipalFields name the principal that made an event.
var EventPrincipalFields = []string{"userIdentity.arn", "user_arn"}

// refusal returns why the guardrails forbid plan for an event, or "".
func (g Guard) refusal(p Plan, fields Result) string {
	for _, pat := range g.ProtectedPrincipals {
		re := arnPattern(pat)
		for _, v := range principalForms(p.Principal) {
			if re.MatchString(v) {
				return fmt.Sprintf("the principal it would change, %s, is protected (matches %s)", p.Principal, pat)
			}
		}
		for _, f := range EventPrincipalFields {
			for _, arn := range fields[f] {
				for _, v := range principalForms(arn) {
					if re.MatchString(v) {
						return fmt.Sprintf("the event was made by protected principal %s (matches %s)", arn, pat)
					}
				}
			}
		}
	}
	for _, a := range g.ProtectedAccounts {
		if p.Account == a {
			return fmt.Sprintf("account %s is protected", a)
		}
	}
	return ""
}

// principalForms lists the ARNs a principal is matched as: itself, without
// its IAM path (user/admins/break-glass is user/break-glass), and an assumed
// role session as the role it assumed.
func principalForms(arn string) []string {
	if arn == "" {
		return nil
	}
	out := []string{arn}
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 {
		return out
	}
	res := strings.Split(parts[5], "/")
	switch {
	case parts[2] == "iam" && len(res) > 2 && (res[0] == "user" || res[0] == "role"):
		out = append(out, strings.Join(parts[:5], ":")+":"+res[0]+"/"+res[len(res)-1])
	case parts[2] == "sts" && len(res) >= 2 && res[0] == "assumed-role":
		out = append(out, parts[0]+":"+parts[1]+":iam::"+parts[4]+":role/"+res[1])
	}
	return out
}

// arnPattern compiles a protected-principal pattern: * matches any run of
// characters and ? one character (as the AWS actions match them), and ARNs
// compare case-insensitively (IAM names are unique regardless of case).
func arnPattern(p string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("(?i)^")
	for _, r := range p {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// remediate applies the detection's remediation to a ticket: at most once
// per ticket, action and target, recorded before and after.
func (r *Responder) remediate(ctx context.Context, t Ticket, row *state.TicketRow, d *detections.Detection, fields Result) (int, error) {
	rem := d.Remediation
	act, ok := r.Actions[rem.Action]
	if !ok {
		r.observe(rem.Action, "refused") // nothing was attempted
		return 0, r.stop(ctx, t, row, d, state.StageFailed, fmt.Sprintf("Remediation %s is not available in this patrol (no implementation is configured): respond by hand.", rem.Action))
	}
	params := map[string]string{}
	for name, tmpl := range rem.Params {
		params[name] = tmpl.Render(fields.Lookup)
	}
	plan, err := act.Plan(ctx, ActionRequest{Action: rem.Action, Params: params, TicketKey: t.Key})
	if err != nil {
		r.observe(rem.Action, "refused") // nothing was attempted
		return 0, r.stop(ctx, t, row, d, state.StageFailed, fmt.Sprintf("Remediation %s cannot be planned: %v. Respond by hand.", rem.Action, err))
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
		return 0, r.resumeAttempt(ctx, t, row, d, ev, prior)
	}
	if why := r.Guard.refusal(plan, fields); why != "" {
		ev.Phase, ev.Detail = state.PhaseRefused, why
		if _, err := r.Store.AppendAction(ctx, ev); err != nil {
			return 0, err
		}
		r.observe(plan.Action, "refused")
		return 0, r.stop(ctx, t, row, d, state.StageFailed, fmt.Sprintf("Remediation refused: %s. Nothing was changed; respond by hand.\n\n%s", why, planText(plan)))
	}
	if rem.Mode == detections.ModeApprove {
		approved, err := r.approved(ctx, t, row, d, plan)
		if err != nil || !approved {
			return 0, err
		}
	}
	if !r.Guard.DryRun && r.Guard.MaxPerHour > 0 {
		n, err := r.Store.StartedSince(ctx, r.now().Add(-time.Hour))
		if err != nil {
			return 0, err
		}
		if n >= r.Guard.MaxPerHour {
			if row.Stage == state.StageDeferred {
				return 0, nil // already said so
			}
			r.observe(plan.Action, "deferred")
			return 0, r.stop(ctx, t, row, d, state.StageDeferred, fmt.Sprintf("Remediation held back: the hourly budget of %d actions is used up. patrol runs it when the budget allows.\n\n%s", r.Guard.MaxPerHour, planText(plan)))
		}
	}
	if r.Guard.DryRun {
		ev.Phase, ev.Detail = state.PhasePlanned, "dry run: nothing changed"
		if _, err := r.Store.AppendAction(ctx, ev); err != nil {
			return 0, err
		}
		r.observe(plan.Action, "dry_run")
		return 0, r.stop(ctx, t, row, d, state.StageDone, "Dry run (aws.dry_run = true): patrol would do the following and changed nothing.\n\n"+planText(plan))
	}
	return 1, r.apply(ctx, t, row, d, act, plan, ev)
}

func (r *Responder) apply(ctx context.Context, t Ticket, row *state.TicketRow, d *detections.Detection, act Action, plan Plan, ev state.ActionEvent) error {
	for _, phase := range []string{state.PhasePlanned, state.PhaseStarted} {
		ev.Phase = phase
		if _, err := r.Store.AppendAction(ctx, ev); err != nil {
			return fmt.Errorf("record action %s: %w", phase, err)
		}
	}
	out, err := act.Apply(ctx, plan)
	// Record the outcome even if the run's context is ending: the change is done.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err != nil {
		ev.Phase, ev.Detail, ev.Snapshot = state.PhaseFailed, err.Error(), out.Snapshot
		if _, rerr := r.Store.AppendAction(rctx, ev); rerr != nil {
			return fmt.Errorf("record action failure (%v): %w", err, rerr)
		}
		r.observe(plan.Action, "failed")
		return r.stop(rctx, t, row, d, state.StageFailed, fmt.Sprintf("Remediation %s FAILED: %v\nIt is not retried automatically; check the resource and respond by hand.\n\n%s", plan.Action, err, planText(plan)))
	}
	ev.Phase, ev.Detail, ev.Snapshot = state.PhaseSucceeded, out.Detail, out.Snapshot
	if !out.Verified {
		ev.Phase = state.PhaseFailed
		ev.Detail = "applied but not verified: " + out.Detail
	}
	if _, err := r.Store.AppendAction(rctx, ev); err != nil {
		return fmt.Errorf("record action result: %w", err)
	}
	r.observe(plan.Action, map[string]string{state.PhaseSucceeded: "succeeded", state.PhaseFailed: "unverified"}[ev.Phase])
	if ev.Phase == state.PhaseFailed {
		return r.stop(rctx, t, row, d, state.StageFailed, fmt.Sprintf("Remediation %s was applied but its verification did not confirm it: %s. Check by hand.", plan.Action, out.Detail))
	}
	text := fmt.Sprintf("Remediation %s done and verified.\n%s\n\n%s", plan.Action, out.Detail, planText(plan))
	if err := r.stop(rctx, t, row, d, state.StageDone, text); err != nil {
		return err
	}
	if r.DoneTransition != "" {
		if err := r.Tracker.Transition(rctx, t.Key, r.DoneTransition); err != nil {
			return fmt.Errorf("transition %s to %q: %w", t.Key, r.DoneTransition, err)
		}
	}
	return nil
}

func (r *Responder) observe(action, outcome string) {
	if r.OnAction != nil {
		r.OnAction(action, outcome)
	}
}

// resumeAttempt handles a ticket whose action was already attempted: it is
// never run again.
func (r *Responder) resumeAttempt(ctx context.Context, t Ticket, row *state.TicketRow, d *detections.Detection, ev state.ActionEvent, prior []state.ActionEvent) error {
	last := prior[len(prior)-1]
	switch last.Phase {
	case state.PhaseStarted:
		ev.Phase, ev.Detail = state.PhaseInterrupted, "patrol stopped while the action ran; its outcome is unknown"
		if _, err := r.Store.AppendAction(ctx, ev); err != nil {
			return err
		}
		r.observe(ev.Action, "interrupted")
		return r.stop(ctx, t, row, d, state.StageFailed, fmt.Sprintf("Remediation %s was started but patrol stopped before it finished. It is not run again: check %s by hand.", ev.Action, ev.Target))
	case state.PhaseSucceeded, state.PhaseReverted:
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

// approved reports whether an approver added the approve label. The first
// time it is not, it posts the plan and how to approve it.
func (r *Responder) approved(ctx context.Context, t Ticket, row *state.TicketRow, d *detections.Detection, plan Plan) (bool, error) {
	approvals, err := r.Tracker.Approvals(ctx, t.Key, r.ApproveLabel)
	if err != nil {
		return false, fmt.Errorf("read approvals: %w", err)
	}
	allowed := map[string]bool{}
	for _, a := range r.Approvers {
		allowed[a] = true
	}
	var ignored []string
	for _, a := range approvals {
		if allowed[a.By] {
			r.logger().Info("remediation approved", "ticket", t.Key, "by", a.By)
			return true, nil
		}
		ignored = append(ignored, a.By)
	}
	if row.PlannedAt.IsZero() {
		text := fmt.Sprintf("Remediation %s waits for approval. To approve it, one of the approvers (%s) adds the label %q to this ticket.\n\n%s",
			plan.Action, strings.Join(r.Approvers, ", "), r.ApproveLabel, planText(plan))
		if len(r.Approvers) == 0 {
			text += "\nNo approvers are configured (tickets.approvers): nobody can approve it until one is."
		}
		now := r.now()
		if err := r.comment(ctx, t, row, d, "awaiting approval", text); err != nil {
			return false, err
		}
		stage := state.StageApproval
		if err := r.Store.UpdateTicket(ctx, t.Key, state.TicketUpdate{PlannedAt: &now, Stage: &stage}); err != nil {
			return false, err
		}
		row.PlannedAt, row.Stage = now, stage
	}
	if len(ignored) > 0 {
		sort.Strings(ignored)
		key := "ignored_approval:" + t.Key
		prev, err := r.Store.Meta(ctx, key)
		if err != nil {
			return false, err
		}
		if list := strings.Join(ignored, ","); list != prev {
			r.logger().Warn("approval label added by a non-approver: ignored", "ticket", t.Key, "by", list)
			text := fmt.Sprintf("The approval label was added by %s, who is not in tickets.approvers: it does not approve the remediation.", strings.Join(ignored, ", "))
			if err := r.Tracker.Comment(ctx, t.Key, Message{Sections: []Section{{Text: text}}}); err != nil {
				return false, err
			}
			if err := r.Store.SetMeta(ctx, key, list); err != nil {
				return false, err
			}
		}
	}
	return false, nil
}

// stop comments text on the ticket, notifies, and sets the stage.
func (r *Responder) stop(ctx context.Context, t Ticket, row *state.TicketRow, d *detections.Detection, stage, text string) error {
	if err := r.comment(ctx, t, row, d, stage, text); err != nil {
		return err
	}
	return r.finish(ctx, row, stage, firstLine(text))
}

func (r *Responder) comment(ctx context.Context, t Ticket, row *state.TicketRow, d *detections.Detection, status, text string) error {
	m := Message{Sections: []Section{{Heading: "Remediation", Text: text}}}
	if err := r.Tracker.Comment(ctx, t.Key, m); err != nil {
		return fmt.Errorf("comment: %w", err)
	}
	return r.notify(ctx, t, row, d, status, m)
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
