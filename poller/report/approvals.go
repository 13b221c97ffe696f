package report

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/patrolsec/patrol/state"
)

// Approval states.
const (
	apApproved = "approved"
	apWaiting  = "waiting"
	apNot      = "not approved" // the ticket moved on (closed, failed) without one
	// apClosed is an approve label an approver added while the ticket was
	// closed: the respond job cancels the remediation of a closed ticket
	// instead of running it (poller/closed.go), so it approved nothing.
	apClosed = "ticket closed: not run"
)

// approval is a plan posted for approval and what became of it.
type approval struct {
	Ticket, Detection, Action string
	Posted, At                time.Time
	By, Via, State            string
	Closed                    time.Time // for apClosed: when the ticket was closed
	Ignored                   []string  // added the label without being an approver
}

// trackerApprover stands for an approver the state file does not name.
const trackerApprover = "(recorded in the tracker)"

// Where an approval was read from.
const (
	viaLabel  = "approve label (local tracker)"
	viaLedger = "action ledger"
)

// waited is how long the plan waited: until approved, until its ticket
// was closed, or so far.
func (a *approval) waited(end time.Time) time.Duration {
	if a.State == apClosed {
		return nonNegative(a.Closed.Sub(a.Posted))
	}
	if !a.At.IsZero() {
		return nonNegative(a.At.Sub(a.Posted))
	}
	return nonNegative(end.Sub(a.Posted))
}

// loadApprovals finds the plans posted for approval in the span and their
// approvals. For a local ticket the state file holds who added the approve
// label and when; for a tracker ticket it holds only that the action ran
// after the plan, so the approver is unknown and the approval time is when
// patrol acted on it. A label added while the local ticket was closed
// approved nothing: the first such is shown as apClosed, unless a later
// one (after a reopen) counts.
func (d *data) loadApprovals(ctx context.Context) error {
	labels, err := d.db.LocalEventsByTicket(ctx, state.EventLabelAdded)
	if err != nil {
		return err
	}
	transitions, err := d.db.LocalEventsByTicket(ctx, state.EventTransition)
	if err != nil {
		return err
	}
	for _, t := range d.ticketsBy(func(t state.TicketRow) time.Time { return t.PlannedAt }) {
		a := &approval{Ticket: t.Key, Detection: t.Detection, Action: d.dets[t.Detection].Action, Posted: t.PlannedAt}
		if as := d.byTicket[t.Key]; len(as) > 0 {
			a.Action = as[0].Action
		}
		var whileClosed state.LocalEvent // the first approver's label added while closed
		var closedAt time.Time           // when the ticket was closed then
		if d.local[t.Key] {
			for _, e := range labels[t.Key] {
				if e.Value != d.opt.ApproveLabel || !e.At.Before(d.opt.To) {
					continue
				}
				if !slices.Contains(d.opt.Approvers, e.By) {
					if !slices.Contains(a.Ignored, e.By) {
						a.Ignored = append(a.Ignored, e.By)
					}
					continue
				}
				if at := d.closedWhen(transitions[t.Key], e.At); !at.IsZero() {
					if closedAt.IsZero() {
						whileClosed, closedAt = e, at
					}
					continue
				}
				if a.At.IsZero() {
					a.At, a.By, a.Via = e.At, e.By, viaLabel
				}
			}
		} else {
			for _, at := range d.byTicket[t.Key] {
				if !at.First.Before(t.PlannedAt) {
					a.At, a.Via = at.First, viaLedger
					break
				}
			}
		}
		switch {
		case !a.At.IsZero():
			a.State = apApproved
			d.approved[t.Key] = a
			d.figures.approved++
			d.figures.waits = append(d.figures.waits, a.waited(d.opt.To))
		case !closedAt.IsZero():
			a.State, a.At, a.By, a.Via, a.Closed = apClosed, whileClosed.At, whileClosed.By, viaLabel, closedAt
		case t.Stage == state.StageApproval:
			a.State = apWaiting
			d.figures.waiting++
		default:
			a.State = apNot
		}
		d.approvals = append(d.approvals, a)
	}
	return nil
}

// closedWhen returns when the local ticket was last closed if it was
// closed at at, by its transitions (oldest first); zero if it was open.
// The closed statuses are the respond job's: state.ClosedStatuses and
// the done transition's name.
func (d *data) closedWhen(transitions []state.LocalEvent, at time.Time) time.Time {
	var closed time.Time
	for _, e := range transitions {
		if e.At.After(at) {
			break
		}
		switch {
		case !state.IsClosed(e.Value, d.opt.DoneStatuses...):
			closed = time.Time{}
		case closed.IsZero():
			closed = e.At
		}
	}
	return closed
}

func approvalsSection(_ context.Context, d *data) (*Section, error) {
	s := &Section{ID: "approvals", Title: "Approvals",
		Intro: fmt.Sprintf("Remediations in approve mode wait for someone in tickets.approvers to add the label %q. Every plan posted for approval in the span, who approved it and how long it waited.", d.opt.ApproveLabel)}
	end := minTime(d.opt.To, d.opt.Now)
	t := &Table{Name: "approvals", Title: "Plans posted for approval", Columns: []Column{
		{Key: "ticket", Title: "Ticket"}, {Key: "detection", Title: "Detection"}, {Key: "action", Title: "Action"},
		{Key: "plan_posted", Title: "Plan posted", Kind: Time}, {Key: "state", Title: "State", Pill: true},
		{Key: "approver", Title: "Approver"}, {Key: "approved_at", Title: "Approved", Kind: Time},
		{Key: "waited_seconds", Title: "Waited", Kind: Seconds}, {Key: "via", Title: "Read from"}},
		Empty: "No plan was posted for approval in the span."}
	type perApprover struct{ waits []time.Duration }
	by := map[string]*perApprover{}
	var ignored, whileClosed []string
	fromLedger := false
	for _, a := range d.approvals {
		who := a.By
		if a.State == apApproved && who == "" {
			who, fromLedger = trackerApprover, true
		}
		var at any
		if !a.At.IsZero() {
			at = a.At
		}
		t.Rows = append(t.Rows, []any{a.Ticket, a.Detection, a.Action, a.Posted, a.State, who, at, a.waited(end), a.Via})
		if a.State == apApproved {
			if by[who] == nil {
				by[who] = &perApprover{}
			}
			by[who].waits = append(by[who].waits, a.waited(end))
		}
		if a.State == apClosed {
			whileClosed = append(whileClosed, a.Ticket)
		}
		for _, i := range a.Ignored {
			ignored = append(ignored, i+" on "+a.Ticket)
		}
	}
	s.Blocks = append(s.Blocks, Block{Table: t})
	pt := &Table{Name: "approvers", Title: "By approver", Columns: []Column{
		{Key: "approver", Title: "Approver"}, {Key: "approvals", Title: "Approvals", Kind: Count},
		{Key: "wait_p50_seconds", Title: "Wait p50", Kind: Seconds}, {Key: "wait_max_seconds", Title: "Longest wait", Kind: Seconds}},
		Empty: "Nobody approved a plan in the span."}
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ws := by[n].waits
		pt.Rows = append(pt.Rows, []any{n, len(ws), pct(ws, 50), pct(ws, 100)})
	}
	s.Blocks = append(s.Blocks, Block{Table: pt, Half: true})
	if len(ignored) > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("The approve label was also added by people who are not approvers, which approved nothing: %s.", strings.Join(ignored, ", ")))
	}
	if len(whileClosed) > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("The approve label was added while the ticket was closed, which approved nothing (patrol cancels the remediation of a closed ticket instead of running it): %s.", strings.Join(whileClosed, ", ")))
	}
	if fromLedger {
		s.Notes = append(s.Notes, "For tracker (Jira) tickets the state file does not record who added the approve label: the approval time shown is when patrol acted on it, so the wait includes up to one poll interval; the approver is in the ticket's history.")
	}
	return s, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
