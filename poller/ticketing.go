package poller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/state"
)

// OutcomeUnknown reports whether err leaves it unknown whether a write
// happened: a timeout, a lost answer, a 5xx to a create. Errors say so
// with interface{ OutcomeUnknown() bool }; an error that says nothing is
// taken as unknown, the safe reading for a create.
func OutcomeUnknown(err error) bool {
	var u interface{ OutcomeUnknown() bool }
	if errors.As(err, &u) {
		return u.OutcomeUnknown()
	}
	return true
}

// WaitingError says a pending alert's ticket is not looked up yet: a
// create of it had an unknown outcome, and the tracker's search may not
// show what it made until Until. It is not a failure: the alert is
// retried on a later run.
type WaitingError struct {
	Until time.Time
}

func (e *WaitingError) Error() string {
	return "its ticket is looked up after " + e.Until.Format(time.RFC3339) + " (a create had an unknown outcome and the tracker's search may lag until then)"
}

// creator gives pending alerts their tickets: at most one per alert,
// across crashes and answers lost on the way.
//
// Before each create patrol records its deadline; after a create that
// fails ambiguously, the moment it failed. An alert with such a mark is
// looked up by its fingerprint label, not created again, once the
// tracker's search can show what that create made (the mark plus the
// index lag); only when the lookup finds nothing is it created again. A
// definite rejection (a 4xx, a 429 that outlasted its retries) clears the
// mark: the next run creates without waiting.
type creator struct {
	tracker Tracker
	store   Store
	// lag is how long the tracker's search may take to show a new ticket.
	lag time.Duration
	// timeout is the longest one create request may take.
	timeout time.Duration
	now     func() time.Time
	log     *slog.Logger
}

// ensure returns the ticket of pending alert a: found by its fingerprint
// label after a create with an unknown outcome, or created with nt. It
// reports whether the ticket was found rather than created. A
// *WaitingError means try again later.
func (c creator) ensure(ctx context.Context, a *state.Alert, nt NewTicket) (Ticket, bool, error) {
	if !a.CreateUnknownAt.IsZero() {
		t, found, err := c.lookup(ctx, a)
		if err != nil || found {
			return t, found, err
		}
	}
	// The deadline is recorded before the request goes out: if patrol
	// stops while it runs, the next run waits for what it may have made.
	if err := c.store.SetCreateUnknown(ctx, a.ID, c.now().Add(c.timeout)); err != nil {
		return Ticket{}, false, fmt.Errorf("record create: %w", err)
	}
	t, err := c.tracker.Create(ctx, nt)
	if err == nil {
		return t, false, nil
	}
	mark := time.Time{} // definitely not created
	if OutcomeUnknown(err) {
		mark = c.now()
	}
	a.CreateUnknownAt = mark
	if serr := c.store.SetCreateUnknown(context.WithoutCancel(ctx), a.ID, mark); serr != nil {
		return Ticket{}, false, fmt.Errorf("create ticket: %w (and recording it: %v)", err, serr)
	}
	return Ticket{}, false, fmt.Errorf("create ticket: %w", err)
}

// lookup finds the ticket an earlier create of pending alert a may have
// made, once the tracker's search can show it.
func (c creator) lookup(ctx context.Context, a *state.Alert) (Ticket, bool, error) {
	if until := a.CreateUnknownAt.Add(c.lag); c.now().Before(until) {
		return Ticket{}, false, &WaitingError{Until: until}
	}
	found, err := c.tracker.Find(ctx, FingerprintLabel(a.Fingerprint))
	if err != nil {
		return Ticket{}, false, fmt.Errorf("look up ticket of pending alert (not creating one while the tracker cannot say): %w", err)
	}
	known, err := c.store.KnownTicketKeys(ctx, a.Fingerprint)
	if err != nil {
		return Ticket{}, false, err
	}
	for _, t := range found {
		if !known[t.Key] {
			return t, true, nil
		}
	}
	return Ticket{}, false, nil
}

// errTicketed says a pending alert got its ticket another way meanwhile
// (the respond job adopted the ticket a killed run made).
var errTicketed = errors.New("the alert has its ticket")

// ensureTicket gives a pending alert its ticket: found by its fingerprint
// label after a create with an unknown outcome, otherwise created.
func (j *Detector) ensureTicket(ctx context.Context, d *detections.Detection, a *state.Alert) error {
	var r Result
	if err := json.Unmarshal([]byte(a.Result), &r); err != nil {
		return fmt.Errorf("stored result: %w", err)
	}
	route := j.Router.Route(d, r)
	t, err := j.ticket(ctx, d, a, r, route)
	if err != nil {
		return err
	}
	if j.Handoff != nil {
		j.Handoff(ctx, t)
	}
	return nil
}

// ticket gives a its ticket under the alert's lock (see alertLocks).
func (j *Detector) ticket(ctx context.Context, d *detections.Detection, a *state.Alert, r Result, route Route) (Ticket, error) {
	defer alertLocks.lock(a.Fingerprint)()
	if ok, err := stillPending(ctx, j.Store, a); err != nil || !ok {
		if err == nil {
			err = errTicketed
		}
		return Ticket{}, err
	}
	desc := TicketDescription(d, r, a)
	if a.RecurrenceOf != "" {
		desc.Sections = append([]Section{{Heading: "Recurrence", Text: fmt.Sprintf(
			"This alert was seen again after its ticket %s was closed, inside the detection's suppress span (%s): patrol opens this new ticket for it and links the two (tickets.on_recurrence = \"new\").",
			a.RecurrenceOf, d.Suppress)}}, desc.Sections...)
	}
	c := creator{tracker: j.Tracker, store: j.Store, lag: j.IndexLag, timeout: j.CreateTimeout, now: j.now, log: j.logger()}
	t, found, err := c.ensure(ctx, a, NewTicket{
		Detection: d.ID, Fingerprint: a.Fingerprint, Severity: d.Severity, Priority: d.Ticket.Priority,
		Summary:     d.Ticket.Summary.Render(r.Lookup),
		Labels:      ticketLabels(j.Label, d, a.Fingerprint),
		Description: desc,
		Route:       route,
	})
	if err != nil {
		return Ticket{}, err
	}
	if found {
		j.logger().Info("found ticket of pending alert", "detection", d.ID, "ticket", t.Key)
	}
	if err := openAlert(ctx, j.Store, d, a, t, route, r); err != nil {
		return Ticket{}, err
	}
	j.logger().Info("ticket created", "detection", d.ID, "ticket", t.Key, "fingerprint", a.Fingerprint)
	return t, nil
}

func ticketLabels(label string, d *detections.Detection, fp string) []string {
	out := []string{label, FingerprintLabel(fp), d.Label()}
	seen := map[string]bool{}
	for _, l := range out {
		seen[l] = true
	}
	for _, l := range d.Ticket.Labels {
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}
