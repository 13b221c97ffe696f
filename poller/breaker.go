package poller

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/patrolsec/patrol/state"
)

// The circuit breaker: after aws.breaker_failures real actions failed in a
// row, no action runs until a person resets it (patrol resume). Actions
// that would run meanwhile are held like those over the hourly budget, and
// one self-alert says why. The count is read from the action ledger, so it
// survives restarts; a reset is a time in the state, after which counting
// starts again.

// Meta keys of the last reset.
const (
	breakerResetAt = "breaker_reset_at"
	breakerResetBy = "breaker_reset_by"
	breakerProblem = "breaker"
)

// BreakerStatus is the circuit breaker as the state shows it.
type BreakerStatus struct {
	Open     bool      `json:"open"`
	Failures int       `json:"failures_in_a_row"`
	Limit    int       `json:"limit"`
	ResetAt  time.Time `json:"reset_at,omitzero"`
	ResetBy  string    `json:"reset_by,omitempty"`
}

// Breaker reads the circuit breaker from the state: limit failures in a
// row since the last reset open it (limit 0: never).
func Breaker(ctx context.Context, s Store, limit int) (BreakerStatus, error) {
	b := BreakerStatus{Limit: limit}
	if limit <= 0 {
		return b, nil
	}
	var err error
	if b.ResetAt, err = s.MetaTime(ctx, breakerResetAt); err != nil {
		return b, err
	}
	if b.ResetBy, err = s.Meta(ctx, breakerResetBy); err != nil {
		return b, err
	}
	if b.Failures, err = s.FailuresInARow(ctx, b.ResetAt, limit); err != nil {
		return b, err
	}
	b.Open = b.Failures >= limit
	return b, nil
}

// ResetBreaker closes the circuit breaker: held actions run on the next
// pass. It changes nothing else, so it is safe beside a running patrol.
func ResetBreaker(ctx context.Context, s Store, by string, at time.Time) error {
	if err := s.SetMeta(ctx, breakerResetBy, by); err != nil {
		return err
	}
	return s.SetMetaTime(ctx, breakerResetAt, at) // the time last: it is what counts
}

// breaker raises the breaker's self-alert when it is open and clears it
// once it is reset.
func (r *Responder) breaker(ctx context.Context) error {
	if r.Guard.BreakerFailures <= 0 || r.Health == nil {
		return nil
	}
	b, err := Breaker(ctx, r.Store, r.Guard.BreakerFailures)
	if err != nil {
		return err
	}
	if !b.Open {
		return r.Health.Clear(ctx, breakerProblem, fmt.Sprintf("The circuit breaker was reset by %s at %s: actions run again.", b.ResetBy, b.ResetAt.Format(time.RFC3339)))
	}
	return r.Health.Raise(ctx, breakerProblem, fmt.Sprintf("patrol: %d remediations failed in a row; no action runs until someone runs 'patrol resume'", b.Failures),
		Message{Sections: []Section{{
			Text: fmt.Sprintf("The last %d real remediations failed (aws.breaker_failures = %d), so patrol stopped running actions: something is wrong with the actions themselves (credentials, permissions, an AWS outage, a detection that plans the wrong targets), and running more of them would not help. Tickets whose action would run now wait, like those over the hourly budget. Look at the failed actions ('patrol status', the tickets), fix the cause, then run 'patrol resume': the held actions run on the next pass.",
				b.Failures, b.Limit),
		}}})
}

// breakerHolds reports whether the breaker holds an action back, and if
// so records the ticket as held (once).
func (r *Responder) breakerHolds(ctx context.Context, t Ticket, row *state.TicketRow, plan Plan) (bool, error) {
	if r.Guard.DryRun || r.Guard.BreakerFailures <= 0 {
		return false, nil
	}
	b, err := Breaker(ctx, r.Store, r.Guard.BreakerFailures)
	if err != nil || !b.Open {
		return false, err
	}
	if row.Stage == state.StageDeferred && strings.HasPrefix(row.Note, NoteBreaker) {
		return true, nil // already said so
	}
	r.observe(plan.Action, "deferred")
	text := fmt.Sprintf("%s (%d actions failed in a row). patrol runs it once a person has looked at the failures and run 'patrol resume'.\n\n%s", NoteBreaker, b.Failures, planText(plan))
	return true, r.stop(ctx, t, row, r.detection(row), state.StageDeferred, text, change{})
}
