package report

import "context"

func auditSection(_ context.Context, d *data) (*Section, error) {
	s := &Section{ID: "audit", Title: "Audit trail",
		Intro: "Every remediation attempt that began in the span, oldest first, as the action ledger records it: one row per ticket, action and target, with where it ended by the span's end. The id is the one 'patrol undo' takes."}
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
