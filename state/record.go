package state

import (
	"context"
	"database/sql"
	"fmt"
)

// Change is what the respond job decided about one ticket. Record applies
// it in one transaction, so that nothing that must follow a decision (a
// comment, a chat update, a transition) can be lost between writing the
// decision and making the calls.
type Change struct {
	Ticket string
	Update TicketUpdate
	// Actions are appended to the action ledger, in order.
	Actions []ActionEvent
	// NewPlan is added as the ticket's current plan; VoidPlans (ids) are
	// superseded first, with VoidReason.
	NewPlan    *PlanRow
	VoidPlans  []int64
	VoidReason string
	// Approval is recorded as counted (unless it has an ID: recorded
	// already, by a chat click say).
	Approval *Approval
	// ChatAction records an approval or hold given in the chat.
	ChatAction *ChatAction
	// Meta sets small named values.
	Meta map[string]string
	// Verdict records how a person resolved the ticket.
	Verdict *Verdict
	// Deliveries are queued, in order, after everything above.
	Deliveries []Delivery
	// Durable makes Record return only once the change is on disk: set it
	// when the change guards a side effect about to happen (an action
	// about to start).
	Durable bool
}

// Record applies c in one transaction and returns the ids of the action
// rows it appended.
func (s *DB) Record(ctx context.Context, c Change) ([]int64, error) {
	now := s.Now()
	var ids []int64
	write := func(tx *sql.Tx) error {
		ids = ids[:0]
		if err := updateTicket(ctx, tx, c.Ticket, c.Update, now); err != nil {
			return fmt.Errorf("ticket %s: %w", c.Ticket, err)
		}
		for _, id := range c.VoidPlans {
			if _, err := tx.ExecContext(ctx, `UPDATE plans SET void_at = ?, void_reason = ? WHERE id = ? AND void_at IS NULL`, ts(now), c.VoidReason, id); err != nil {
				return err
			}
		}
		if p := c.NewPlan; p != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO plans (ticket_key, digest, plan, created_at) VALUES (?, ?, ?, ?)`,
				c.Ticket, p.Digest, p.Plan, ts(now)); err != nil {
				return err
			}
		}
		if a := c.ChatAction; a != nil {
			if err := insertChatAction(ctx, tx, c.Ticket, *a, now); err != nil {
				return err
			}
		}
		if a := c.Approval; a != nil && a.ID == 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO approvals (ticket_key, digest, by_user, at, via, recorded_at) VALUES (?, ?, ?, ?, ?, ?)`,
				c.Ticket, a.Digest, a.By, ts(a.At), a.Via, ts(now)); err != nil {
				return err
			}
		}
		for _, a := range c.Actions {
			id, err := appendAction(ctx, tx, a, now)
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		if c.Verdict != nil {
			if err := recordVerdict(ctx, tx, *c.Verdict, now); err != nil {
				return err
			}
		}
		for k, v := range c.Meta {
			if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, k, v); err != nil {
				return err
			}
		}
		return enqueueDeliveries(ctx, tx, c.Deliveries, now)
	}
	var err error
	if c.Durable {
		err = s.durableTx(ctx, write)
	} else {
		err = s.tx(ctx, write)
	}
	return ids, err
}
