package poller

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/state"
)

// ApprovalVia is how an approval arrived: the tracker's approve label.
const ApprovalVia = "label"

// approval returns the approval the plan runs on, or nil while it waits.
//
// An approval is bound to the plan it approves. The plan comment carries
// the plan's digest; an approval counts only when an approver added the
// approve label after that comment was posted (both times by the
// tracker's clock) and the plan re-derived now has the same digest. A plan
// that changed (its ticket's detection reloaded with other params, say)
// voids the earlier approvals: the new plan is posted, and waits for a
// fresh approval.
//
// An approval given in the chat is in the state already: the approver
// pressed Approve on the message that showed this plan. After a hold in
// the chat (holdAt), only an approval given later counts.
func (r *Responder) approval(ctx context.Context, t Ticket, row *state.TicketRow, d *detections.Detection, plan Plan, autoHeld bool, holdAt time.Time) (*state.Approval, error) {
	digest := PlanDigest(plan)
	cur, err := r.Store.CurrentPlan(ctx, t.Key)
	if err != nil {
		return nil, err
	}
	if cur == nil || cur.Digest != digest {
		return nil, r.postPlan(ctx, t, row, d, plan, digest, cur, autoHeld)
	}
	allowed := map[string]bool{}
	for _, a := range r.Approvers {
		allowed[a] = true
	}
	recorded, err := r.Store.Approvals(ctx, t.Key)
	if err != nil {
		return nil, err
	}
	for _, a := range recorded {
		if a.Digest == digest && allowed[a.By] && a.At.After(holdAt) {
			return &a, nil
		}
	}
	if cur.Posted.IsZero() {
		return nil, nil // the plan comment is not delivered yet: nobody can have seen it
	}
	approvals, err := r.Tracker.Approvals(ctx, t.Key, r.ApproveLabel)
	if err != nil {
		return nil, fmt.Errorf("read approvals: %w", err)
	}
	var ignored, early []string
	for _, a := range approvals {
		switch {
		case allowed[a.By] && a.At.After(cur.Posted) && !a.At.After(holdAt):
			// given before a hold in the chat: the hold comment asked for a new one
		case allowed[a.By] && a.At.After(cur.Posted):
			r.logger().Info("remediation approved", "ticket", t.Key, "by", a.By, "digest", digest)
			return &state.Approval{TicketKey: t.Key, Digest: digest, By: a.By, At: a.At, Via: ApprovalVia}, nil
		case allowed[a.By]:
			early = append(early, a.By)
		default:
			ignored = append(ignored, a.By)
		}
	}
	return nil, r.reportApprovals(ctx, t, digest, ignored, early)
}

// postPlan shows the plan on the ticket (and voids the previous one).
func (r *Responder) postPlan(ctx context.Context, t Ticket, row *state.TicketRow, d *detections.Detection, plan Plan, digest string, prev *state.PlanRow, autoHeld bool) error {
	planJSON, err := json.Marshal(plan)
	if err != nil {
		return err
	}
	var b strings.Builder
	if prev != nil {
		fmt.Fprintf(&b, "The plan changed since it was posted (digest %s, now %s): approvals given for the earlier plan do not count. Below is the new plan; it needs a new approval (remove the label %q and add it again).\n\n",
			prev.Digest, digest, r.ApproveLabel)
	}
	if row.Note == reopenedNote {
		b.WriteString("This ticket was reopened after patrol cancelled its remediation when the ticket was closed: the remediation does not resume by itself, and only an approval given after the reopen counts.\n\n")
	}
	if autoHeld {
		b.WriteString("This ticket was not made by patrol, so its remediation waits for an approver although the detection's mode is auto (tickets.auto_for_external = false).\n\n")
	}
	how := fmt.Sprintf("adds the label %q to this ticket", r.ApproveLabel)
	if r.ChatApprovals {
		how += " or presses Approve on the plan's message in the chat"
	}
	fmt.Fprintf(&b, "Remediation %s waits for approval. To approve it, one of the approvers (%s) %s after reading this plan; an approval counts only for this plan (digest %s).\n\n%s\nPlan digest: %s",
		plan.Action, strings.Join(r.Approvers, ", "), how, digest, planText(plan), digest)
	if len(r.Approvers) == 0 {
		b.WriteString("\nNo approvers are configured (tickets.approvers): nobody can approve it until one is.")
	}
	m := Message{Sections: []Section{{Heading: "Remediation", Text: b.String()}}}
	comment := CommentDelivery(m)
	comment.Plan = digest
	note := r.note(t, row, d, "awaiting approval", m)
	if r.ChatApprovals {
		note.Notification.ApprovalDigest = digest
	}
	now := r.now()
	c := change{Change: state.Change{
		Update:  state.TicketUpdate{PlannedAt: &now, Stage: ptr(state.StageApproval)},
		NewPlan: &state.PlanRow{Digest: digest, Plan: string(planJSON)},
	}, deliveries: []Delivery{comment, note}}
	if prev != nil {
		c.VoidPlans, c.VoidReason = []int64{prev.ID}, "plan changed to "+digest
		r.logger().Warn("plan changed: earlier approvals void", "ticket", t.Key, "was", prev.Digest, "now", digest)
	}
	if err := r.record(ctx, t.Key, c); err != nil {
		return err
	}
	row.PlannedAt, row.Stage = now, state.StageApproval
	return nil
}

// reportApprovals says once on the ticket why approvals did not count: the
// label was added by someone who is not an approver, or before the current
// plan was posted.
func (r *Responder) reportApprovals(ctx context.Context, t Ticket, digest string, ignored, early []string) error {
	meta := map[string]string{}
	var texts []string
	if len(ignored) > 0 {
		sort.Strings(ignored)
		key, list := "ignored_approval:"+t.Key, strings.Join(ignored, ",")
		prev, err := r.Store.Meta(ctx, key)
		if err != nil {
			return err
		}
		if list != prev {
			r.logger().Warn("approval label added by a non-approver: ignored", "ticket", t.Key, "by", list)
			texts = append(texts, fmt.Sprintf("The approval label was added by %s, who is not in tickets.approvers: it does not approve the remediation.", strings.Join(ignored, ", ")))
			meta[key] = list
		}
	}
	if len(early) > 0 {
		sort.Strings(early)
		key, list := "early_approval:"+t.Key, digest+":"+strings.Join(early, ",")
		prev, err := r.Store.Meta(ctx, key)
		if err != nil {
			return err
		}
		if list != prev {
			texts = append(texts, fmt.Sprintf("The approval label was added by %s before the current plan (digest %s) was posted: it does not approve this plan. Remove the label and add it again to approve it.", strings.Join(early, ", "), digest))
			meta[key] = list
		}
	}
	if len(texts) == 0 {
		return nil
	}
	m := Message{Sections: []Section{{Text: strings.Join(texts, "\n")}}}
	return r.record(ctx, t.Key, change{Change: state.Change{Meta: meta}, deliveries: []Delivery{CommentDelivery(m)}})
}
