package poller

import (
	"context"
	"fmt"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/state"
)

// DefaultHoldLabel is tickets.hold_label's default.
const DefaultHoldLabel = "patrol-hold"

// The hold label stops an automatic remediation for good: a person (or
// the Slack Hold button, which only adds the label) adds it to the ticket
// before the remediation's grace period ends, and patrol then waits for an
// approval instead, as in approve mode. This file holds the whole rule;
// anything that wants to hold a remediation only adds the label.

// grace runs an automatic remediation's grace period. The first time it
// records when the action will run and says so on the ticket; until then
// it reports wait. A hold label seen at any point (at the end read from
// the tracker itself, not a search that may lag) cancels the automatic
// run for good: it is recorded with who added the label, the ticket says
// so, and the caller goes on in approve mode.
func (r *Responder) grace(ctx context.Context, t Ticket, row *state.TicketRow, d *detections.Detection, plan Plan, grace time.Duration) (wait bool, err error) {
	if held, err := r.checkHold(ctx, t, row); held || err != nil {
		return false, err
	}
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
			return false, err
		}
		row.Stage, row.GraceUntil = state.StageGrace, until
		r.logger().Info("remediation in its grace period", "ticket", t.Key, "runs_at", until)
		return true, nil
	}
	if now.Before(row.GraceUntil) {
		return true, nil
	}
	// The grace is over: read the labels from the tracker itself, since
	// a search (the poll) may not show a label added a moment ago.
	fresh, err := r.Tracker.Get(ctx, t.Key)
	if err != nil {
		return true, fmt.Errorf("read %s before its automatic remediation: %w", t.Key, err)
	}
	if held, err := r.checkHold(ctx, fresh, row); held || err != nil {
		return false, err
	}
	return false, nil
}

// checkHold records a hold when the ticket carries the hold label and
// none is recorded yet. It reports whether the ticket is held.
func (r *Responder) checkHold(ctx context.Context, t Ticket, row *state.TicketRow) (bool, error) {
	if !row.HeldAt.IsZero() {
		return true, nil
	}
	if !t.HasLabel(r.holdLabel()) {
		return false, nil
	}
	by, at := "someone", r.now()
	adds, err := r.Tracker.Approvals(ctx, t.Key, r.holdLabel())
	if err != nil {
		return false, fmt.Errorf("read who held %s: %w", t.Key, err)
	}
	if len(adds) > 0 {
		by, at = adds[len(adds)-1].By, adds[len(adds)-1].At
	}
	text := fmt.Sprintf("Held by %s at %s (label %q): the automatic remediation is cancelled for good. It now waits for an approval, as in approve mode.",
		by, at.UTC().Format(time.RFC3339), r.holdLabel())
	m := Message{Sections: []Section{{Heading: "Remediation held", Text: text}}}
	note := "held by " + by
	c := change{Change: state.Change{Update: state.TicketUpdate{HeldBy: &by, HeldAt: &at, Note: &note}},
		deliveries: []Delivery{CommentDelivery(m), r.note(t, row, r.detection(row), "held", m)}}
	if err := r.record(ctx, t.Key, c); err != nil {
		return false, err
	}
	row.HeldBy, row.HeldAt = by, at
	r.logger().Info("automatic remediation held", "ticket", t.Key, "by", by)
	return true, nil
}

func (r *Responder) holdLabel() string {
	if r.HoldLabel != "" {
		return r.HoldLabel
	}
	return DefaultHoldLabel
}
