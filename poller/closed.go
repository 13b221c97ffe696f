package poller

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/state"
)

// A ticket a person closed is their answer: whatever its remediation was
// waiting for (a grace period, the hourly budget, the circuit breaker, an
// approver), the remediation never starts. It is cancelled for good, said
// once on the ticket, and the ticket leaves the lists of waiting ones. A
// ticket reopened later does not resume it by itself: as after a hold,
// the plan is posted again and only an approval given after the reopen
// runs it. An action already started is not affected: its outcome is
// read back and reported as usual.

// closedFirstLine starts the note (and the comment) of a remediation
// cancelled because its ticket was closed.
const closedFirstLine = "Remediation cancelled: the ticket was closed"

// reopenedNote is the note of a cancelled remediation whose ticket was
// reopened: its plan is posted again for a fresh approval.
const reopenedNote = "ticket reopened after its remediation was cancelled: it needs a fresh approval"

// closedSeenKey + a ticket key is the meta key of when patrol cancelled
// the ticket's remediation because it was closed, or last saw it reopened
// after that: only an approval given later counts.
const closedSeenKey = "closed_seen:"

// closed reports whether the ticket is in a done status: the tracker's
// done category, or a status in state.ClosedStatuses or named like the
// done transition. A ticket read from the tracker (it has an update time)
// says so itself; otherwise the ledger says what the tracker last did. A
// done status reported before patrol queued a reopen is not current.
func (r *Responder) closed(t Ticket, row *state.TicketRow) bool {
	return Closed(t, row, r.DoneTransition)
}

// Closed is the rule the respond job uses to cancel, rather than run, the
// remediation of a closed ticket (see Responder.closed); doneTransition is
// tickets.done_transition. t is the ticket as read from the tracker, or
// the zero Ticket when only the ledger row is known. Commands that say
// what the next respond pass will do (patrol resume) use it too, so that
// they agree with it.
func Closed(t Ticket, row *state.TicketRow, doneTransition string) bool {
	done, seen := row.Done || state.IsClosed(row.Status, doneTransition), row.UpdatedSeen
	if !t.Updated.IsZero() {
		done, seen = t.Done || state.IsClosed(t.Status, doneTransition), t.Updated
	}
	return done && (row.ReopenedAt.IsZero() || seen.After(row.ReopenedAt))
}

// cancelledByClose reports whether the row's remediation was cancelled
// because its ticket was closed.
func cancelledByClose(row *state.TicketRow) bool {
	return row.Stage == state.StageDone && strings.HasPrefix(row.Note, closedFirstLine)
}

// cancelClosed cancels the remediation of a closed ticket for good, with
// one comment (through the outbox, with the stage, in one transaction).
func (r *Responder) cancelClosed(ctx context.Context, t Ticket, row *state.TicketRow, d *detections.Detection) error {
	status, resolution := t.Status, t.Resolution
	if t.Updated.IsZero() {
		status, resolution = row.Status, row.Resolution
	}
	how := fmt.Sprintf("status %q", status)
	if resolution != "" {
		how += fmt.Sprintf(", resolution %q", resolution)
	}
	action := d.Remediation.Action
	text := fmt.Sprintf("%s (%s) before its remediation %s ran, so patrol did not run it and changed nothing. If the ticket is reopened, the remediation does not resume by itself: patrol posts its plan again, and it runs only on an approval given after the reopen.",
		closedFirstLine, how, action)
	r.observe(action, "cancelled")
	r.logger().Info("remediation cancelled: the ticket was closed", "ticket", t.Key, "status", status, "resolution", resolution)
	c := change{Change: state.Change{Meta: map[string]string{closedSeenKey + t.Key: r.now().Format(time.RFC3339Nano)}}}
	return r.stop(ctx, t, row, d, state.StageDone, text, c)
}

// reopened takes a ticket whose remediation was cancelled when it was
// closed, and is open again, back to its remediation: from now on only an
// approval given after this moment counts, and the current plan (if any)
// is void, so that it is posted again with the approval it needs.
func (r *Responder) reopened(ctx context.Context, t Ticket, row *state.TicketRow) error {
	c := change{Change: state.Change{
		Update: state.TicketUpdate{Stage: ptr(state.StageNew), Note: ptr(reopenedNote)},
		Meta:   map[string]string{closedSeenKey + t.Key: r.now().Format(time.RFC3339Nano)},
	}}
	cur, err := r.Store.CurrentPlan(ctx, t.Key)
	if err != nil {
		return err
	}
	if cur != nil {
		c.VoidPlans, c.VoidReason = []int64{cur.ID}, "ticket closed and reopened before its remediation ran"
	}
	if err := r.record(ctx, t.Key, c); err != nil {
		return err
	}
	r.logger().Info("ticket reopened: its cancelled remediation needs a fresh approval", "ticket", t.Key)
	row.Stage, row.Note = state.StageNew, reopenedNote
	return nil
}

// closedAt returns when patrol last cancelled the ticket's remediation for
// its close, or saw it reopened after that; zero if it never did.
func (r *Responder) closedAt(ctx context.Context, key string) (time.Time, error) {
	v, err := r.Store.Meta(ctx, closedSeenKey+key)
	if err != nil || v == "" {
		return time.Time{}, err
	}
	at, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("meta %s%s: %w", closedSeenKey, key, err)
	}
	return at, nil
}
