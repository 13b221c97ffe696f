package poller

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/state"
)

// A ticket reaches the ledger by one of three paths: the detect job (or
// Health) records what its create returned; its lookup finds what a create
// with an unknown outcome made; or the respond job's poll sees a ticket
// carrying the fingerprint label of an alert that is still pending (patrol
// was killed after Jira made the ticket and before patrol recorded it) and
// adopts it. alertLocks makes these one at a time per fingerprint, and each
// reads the alert again under the lock, so one of them gives the alert its
// ticket and the others see that it has one: none creates a second.
var alertLocks keyedMutex

// keyedMutex is a mutex per key.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	mu    sync.Mutex
	users int
}

// lock locks key and returns its unlock.
func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.users++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		if e.users--; e.users == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}

// stillPending re-reads pending alert a under its lock: it reports false
// when another path gave it its ticket meanwhile, and refreshes a.
func stillPending(ctx context.Context, store Store, a *state.Alert) (bool, error) {
	gens, err := store.Generations(ctx, a.Fingerprint)
	if err != nil {
		return false, err
	}
	for _, g := range gens {
		if g.ID == a.ID {
			*a = g
			return g.State == state.AlertPending, nil
		}
	}
	return false, nil
}

// openAlert records t as the ticket of pending alert a (of detection d,
// from result r, routed to route), with the chat message that announces it.
func openAlert(ctx context.Context, store Store, d *detections.Detection, a *state.Alert, t Ticket, route Route, r Result) error {
	ds := []Delivery{NotifyDelivery(Notification{
		Ticket: t, Detection: d.ID, Severity: d.Severity, Channel: route.SlackChannel, Status: "open",
		Message: NotificationMessage(d, t, r, route),
	})}
	if a.RecurrenceOf != "" {
		ds = append(ds, LinkDelivery(a.RecurrenceOf)) // the closed ticket it recurs from
	}
	sds, err := encodeAll(t.Key, ds)
	if err != nil {
		return err
	}
	row := state.TicketRow{
		Key: t.Key, ID: t.ID, Detection: d.ID, Fingerprint: a.Fingerprint, Summary: t.Summary, Status: t.Status,
		Labels: t.Labels, URL: t.URL, Stage: state.StageNew, Channel: route.SlackChannel,
	}
	if err := store.OpenAlert(ctx, a.ID, row, sds); err != nil {
		return fmt.Errorf("record ticket %s: %w", t.Key, err)
	}
	return nil
}

// openSelfAlert records t as the ticket of pending self-alert a, with the
// chat message that announces it. Self-alert tickets are done from the
// start: the respond job has nothing to do on them.
func openSelfAlert(ctx context.Context, store Store, a *state.Alert, t Ticket, summary string, m Message) error {
	note, err := NotifyDelivery(Notification{Ticket: t, Detection: SelfDetection, Severity: "high", Status: "open",
		Message: Message{Title: summary, Sections: m.Sections}}).encode(t.Key)
	if err != nil {
		return err
	}
	row := state.TicketRow{Key: t.Key, ID: t.ID, Detection: SelfDetection, Fingerprint: a.Fingerprint, Summary: t.Summary, Status: t.Status,
		Labels: t.Labels, URL: t.URL, Stage: state.StageDone}
	if err := store.OpenAlert(ctx, a.ID, row, []state.Delivery{note}); err != nil {
		return fmt.Errorf("record self-alert %s: %w", t.Key, err)
	}
	// A row the respond job added first keeps its stage on upsert.
	return store.UpdateTicket(ctx, t.Key, state.TicketUpdate{Stage: ptr(state.StageDone)})
}

// claim decides what the respond job does with a ticket that carries a
// fingerprint label: patrol's own ticket is handled; the ticket of an
// alert that is still pending is adopted for it (its fields come from the
// alert, never failed for lacking them); a self-alert's ticket is left
// alone; a second ticket of an alert that has one is closed as a
// duplicate. It reports whether the ticket's stages should run.
func (r *Responder) claim(ctx context.Context, t Ticket, row *state.TicketRow) (bool, error) {
	if row.Fingerprint == "" {
		return true, nil // not made by patrol
	}
	a, err := r.Store.AlertByTicket(ctx, t.Key)
	if err != nil {
		return false, err
	}
	if a != nil {
		if a.Detection == SelfDetection {
			return false, r.finish(ctx, row, state.StageDone, "patrol's alert about itself")
		}
		return true, nil
	}
	defer alertLocks.lock(row.Fingerprint)()
	gens, err := r.Store.Generations(ctx, row.Fingerprint)
	if err != nil {
		return false, err
	}
	if len(gens) == 0 {
		return true, nil // a fingerprint the ledger never had: not patrol's ticket
	}
	// The generation whose create is in doubt made it (creates go oldest
	// first).
	pending := false
	for i := range gens {
		if g := &gens[i]; g.State == state.AlertPending {
			if !g.CreateUnknownAt.IsZero() {
				return r.adopt(ctx, t, row, g)
			}
			pending = true
		}
	}
	latest := gens[len(gens)-1]
	switch {
	case pending:
		// No create of it is in doubt: this ticket is not one patrol made
		// for it. The detect job makes the alert's ticket.
		r.logger().Warn("ticket carries the fingerprint of a pending alert that no create made: left alone", "ticket", t.Key, "fingerprint", row.Fingerprint)
		return false, nil
	case latest.Detection == SelfDetection:
		return false, r.finish(ctx, row, state.StageDone, "a self-alert already settled")
	}
	return false, r.stop(ctx, t, row, nil, state.StageDone, fmt.Sprintf("This ticket carries the fingerprint of an alert whose ticket is %s: patrol handles the alert there and does nothing here.", latest.TicketKey), change{})
}

// adopt gives pending alert a the ticket t that a create patrol did not
// live to record made, and reports whether its stages should run.
func (r *Responder) adopt(ctx context.Context, t Ticket, row *state.TicketRow, a *state.Alert) (bool, error) {
	var res Result
	if err := json.Unmarshal([]byte(a.Result), &res); err != nil {
		return false, fmt.Errorf("stored result: %w", err)
	}
	if a.Detection == SelfDetection {
		if err := openSelfAlert(ctx, r.Store, a, t, res.Get("summary"), Message{}); err != nil {
			return false, err
		}
		row.Stage = state.StageDone
		r.logger().Info("adopted the ticket of a pending self-alert", "ticket", t.Key, "problem", res.Get("problem"))
		return false, nil
	}
	var d *detections.Detection
	if r.Detection != nil {
		d = r.Detection(a.Detection)
	}
	if d == nil {
		r.logger().Warn("ticket of a pending alert of a detection that is not loaded: left alone", "ticket", t.Key, "detection", a.Detection)
		return false, nil
	}
	if err := openAlert(ctx, r.Store, d, a, t, r.Router.Route(d, res), res); err != nil {
		return false, err
	}
	row.Detection = d.ID
	r.logger().Info("adopted the ticket of a pending alert", "detection", d.ID, "ticket", t.Key, "fingerprint", a.Fingerprint)
	return true, nil
}
