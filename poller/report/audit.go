package report

import "context"

func auditSection(_ context.Context, d *data) (*Section, error) {
	s := &Section{ID: "audit", Title: "Audit trail",
		Intro: "Every remediation attempt that began in the span, oldest first, as the action ledger records it: one row per ticket, action and target, with where it ended by the span's end (and, for one patrol was stopped in the middle of, how reading its target back resolved it). The id is the one 'patrol undo' takes."}
	t := &Table{Name: "audit_trail", Title: "Actions", Columns: []Column{
		{Key: "time", Title: "Time", Kind: Time}, {Key: "ticket", Title: "Ticket"}, {Key: "detection", Title: "Detection"},
		{Key: "action", Title: "Action"}, {Key: "target", Title: "Target"}, {Key: "outcome", Title: "Outcome"},
		{Key: "approver", Title: "Approver"}, {Key: "finished", Title: "Last recorded", Kind: Time},
		{Key: "id", Title: "Id", Kind: Count}, {Key: "detail", Title: "Detail"}},
		Empty: "No remediation was attempted in the span."}
	for _, a := range d.attempts {
		approver := ""
		switch ap := d.approved[a.Ticket]; {
		case ap != nil && ap.By != "":
			approver = ap.By
		case ap != nil:
			approver = trackerApprover
		case d.tickets[a.Ticket].PlannedAt.IsZero() && a.Outcome() != outRefused:
			approver = "auto mode"
		}
		t.Rows = append(t.Rows, []any{a.First, a.Ticket, d.tickets[a.Ticket].Detection, a.Action, a.Target, a.outcomeText(), approver, a.Last, int(a.LastID), a.Detail})
	}
	s.Blocks = append(s.Blocks, Block{Table: t})
	return s, nil
}

// interruptedTable lists the attempts patrol was stopped in the middle of
// (a crash, a kill, the run's time limit) and how each was resolved by
// reading its target back.
func interruptedTable(d *data) *Table {
	t := &Table{Name: "interrupted_actions", Title: "Interrupted actions", Columns: []Column{
		{Key: "started", Title: "Started", Kind: Time}, {Key: "ticket", Title: "Ticket"}, {Key: "action", Title: "Action"},
		{Key: "target", Title: "Target"}, {Key: "interrupted", Title: "Interrupted", Kind: Time, Hint: "when patrol, back, recorded that it had stopped while the action ran"},
		{Key: "resolution", Title: "Resolution", Hint: resVerified + ": read back, the change is there; " + resResent + ": read back, it had never been sent, so it was sent then; " +
			resPerson + ": not in place, or it cannot be read back: the ticket went to a person; " + resPending + ": not settled by the span's end"},
		{Key: "settled", Title: "Settled", Kind: Time}, {Key: "outcome", Title: "Outcome"}, {Key: "detail", Title: "Detail"}},
		Empty: "No action was interrupted in the span."}
	for _, a := range d.attempts {
		if a.Interrupted.IsZero() {
			continue
		}
		var settled any
		detail := a.Detail
		if !a.Settled.IsZero() {
			settled, detail = a.Settled, a.SettleDetail
		}
		t.Rows = append(t.Rows, []any{a.First, a.Ticket, a.Action, a.Target, a.Interrupted, a.resolution(), settled, a.Outcome(), detail})
	}
	return t
}
