package report

import (
	"context"

	"github.com/patrolsec/patrol/state"
)

// deliveryKinds says what each kind of queued delivery writes.
var deliveryKinds = map[string]string{
	state.DeliverNotify:     "chat message",
	state.DeliverComment:    "ticket comment",
	state.DeliverTransition: "ticket transition",
	state.DeliverLabels:     "ticket labels",
	state.DeliverRoute:      "ticket assignee and component",
	state.DeliverLink:       "ticket link",
}

// deadLettersTable lists the deliveries to the tracker or the chat that
// failed for good in the span (a permanent error, a 4xx): they were set
// aside and never sent, so a ticket or a channel lacks what they said.
func deadLettersTable(ctx context.Context, d *data) (*Table, error) {
	dead, err := d.db.DeadLettersBetween(ctx, d.opt.From, d.opt.To)
	if err != nil {
		return nil, err
	}
	t := &Table{Name: "dead_letters", Title: "Deliveries that failed for good", Columns: []Column{
		{Key: "failed_at", Title: "Set aside", Kind: Time}, {Key: "ticket", Title: "Ticket"},
		{Key: "kind", Title: "Kind", Hint: "what the delivery would have written: notify is a chat message, the others write to the ticket"},
		{Key: "writes", Title: "Would have written"},
		{Key: "error", Title: "Error"}, {Key: "attempts", Title: "Attempts", Kind: Count},
		{Key: "queued", Title: "Queued", Kind: Time}},
		Empty: "No delivery to the tracker or the chat failed for good in the span."}
	for _, o := range dead {
		t.Rows = append(t.Rows, []any{o.Dead, o.TicketKey, o.Kind, deliveryKinds[o.Kind], o.LastError, o.Attempts, o.Created})
	}
	return t, nil
}
