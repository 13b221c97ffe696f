package report

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/state"
)

// data is what the sections are built from: the span's alerts, the ticket
// ledger, the span's action attempts and the approvals of its plans.
type data struct {
	opt  *Options
	db   *state.DB
	dets map[string]Detection

	alerts    []alertRow
	self      []selfAlert // self-alerts about patrol itself, kept apart from the detections' alerts
	tickets   map[string]state.TicketRow
	attempts  []*attempt // by first row
	byTicket  map[string][]*attempt
	approvals []*approval // plans posted in the span, in order
	approved  map[string]*approval
	closed    map[string]time.Time // ticket key → when it was closed (zero: open)
	local     map[string]bool      // keys of the local ticket store
	shadow    []state.Alert        // shadow detections' alerts first seen in the span

	figures figures // headline figures, filled by the sections
}

// alertRow is an alert generation without its stored result: only the
// fields the report counts are kept.
type alertRow struct {
	Detection, TicketKey       string
	FirstSeen, Created         time.Time
	Count                      int
	Account, Principal, Source string
}

// selfAlert is a self-alert patrol raised about itself: its problem key
// (stale:ID, failing:ID, lagging:ID, flood:ID, failing:respond, ...).
type selfAlert struct {
	Problem string
	Created time.Time
}

func load(ctx context.Context, db *state.DB, opt *Options) (*data, error) {
	if opt.From.IsZero() {
		oldest, err := db.OldestRecord(ctx)
		if err != nil {
			return nil, err
		}
		opt.From = oldest.Truncate(24 * time.Hour)
		if oldest.IsZero() || !opt.From.Before(opt.To) {
			opt.From = opt.To.Add(-30 * 24 * time.Hour)
		}
	}
	d := &data{opt: opt, db: db, dets: map[string]Detection{}, tickets: map[string]state.TicketRow{},
		byTicket: map[string][]*attempt{}, approved: map[string]*approval{}, closed: map[string]time.Time{},
		figures: figures{outcomes: map[string]int{}}}
	for _, det := range opt.Detections {
		d.dets[det.ID] = det
	}
	err := db.EachAlert(ctx, opt.From, opt.To, func(a state.Alert) error {
		var res poller.Result
		_ = json.Unmarshal([]byte(a.Result), &res) // a result that does not parse counts without its fields
		switch {
		case a.Detection == poller.SelfDetection:
			if a.State != state.AlertPending {
				d.self = append(d.self, selfAlert{Problem: res.Get("problem"), Created: a.Created})
			}
			return nil
		case a.State == state.AlertShadow:
			d.shadow = append(d.shadow, a) // what it would have done: its own section
			return nil
		case a.State == state.AlertSilenced:
			return nil // muted, no ticket: counted in the tuning section
		}
		d.alerts = append(d.alerts, alertRow{Detection: a.Detection, TicketKey: a.TicketKey, FirstSeen: a.FirstSeen,
			Created: a.Created, Count: a.Count, Account: poller.Account(res),
			Principal: res.First(poller.EventPrincipalFields...), Source: res.First(poller.SourceFields...)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	rows, err := db.TicketsInStage(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range rows {
		d.tickets[t.Key] = t
	}
	evs, err := db.AttemptsBetween(ctx, opt.From, opt.To)
	if err != nil {
		return nil, err
	}
	d.attempts = attempts(evs)
	for _, a := range d.attempts {
		d.byTicket[a.Ticket] = append(d.byTicket[a.Ticket], a)
	}
	if d.local, err = db.LocalKeys(ctx); err != nil {
		return nil, err
	}
	if err := d.loadClosed(ctx); err != nil {
		return nil, err
	}
	if err := d.loadApprovals(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// inSpan reports whether t falls in [From, To).
func (d *data) inSpan(t time.Time) bool {
	return !t.IsZero() && !t.Before(d.opt.From) && t.Before(d.opt.To)
}

// severity returns a detection's severity, "other" when it is not loaded.
func (d *data) severity(id string) string {
	if s := d.dets[id].Severity; slices.Contains(severities, s) {
		return s
	}
	return "other"
}

// kind is a detection's kind as a table cell: nil when it is not loaded.
func (d *data) kind(id string) any {
	if k := d.dets[id].Kind; k != "" {
		return k
	}
	return nil
}

// kindColumn marks sequence and first-seen detections in a per-detection
// table.
var kindColumn = Column{Key: "kind", Title: "Kind", Pill: true,
	Hint: "search; sequence: fires on its steps' alerts; first seen: fires only on value combinations new to its history"}

// isSelf reports whether a ledger row is a self-alert about patrol itself.
func isSelf(t state.TicketRow) bool {
	return t.Detection == poller.SelfDetection || slices.Contains(t.Labels, poller.SelfLabel)
}

// spanTickets returns the tickets about detections (not self-alerts) made
// in the span, oldest first.
func (d *data) spanTickets() []state.TicketRow {
	return d.ticketsBy(func(t state.TicketRow) time.Time { return t.Created })
}

// ticketsBy returns the tickets about detections whose time at falls in the
// span, ordered by it.
func (d *data) ticketsBy(at func(state.TicketRow) time.Time) []state.TicketRow {
	var out []state.TicketRow
	for _, t := range d.tickets {
		if d.inSpan(at(t)) && !isSelf(t) {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if ai, aj := at(out[i]), at(out[j]); !ai.Equal(aj) {
			return ai.Before(aj)
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// loadClosed finds when each ticket was closed, up to the span's end. A
// local ticket's transitions are in the state file; for a tracker ticket
// the ledger holds its status as last polled and the tracker's update time
// it was handled at, which for a closed ticket is when it was closed (or a
// later edit).
func (d *data) loadClosed(ctx context.Context) error {
	transitions, err := d.db.LocalEventsByTicket(ctx, state.EventTransition)
	if err != nil {
		return err
	}
	for key, t := range d.tickets {
		var at time.Time
		if d.local[key] {
			for _, e := range transitions[key] {
				if state.IsClosed(e.Value, d.opt.DoneStatuses...) {
					at = e.At
					break
				}
			}
		} else if state.IsClosed(t.Status, d.opt.DoneStatuses...) {
			at = t.UpdatedSeen
			if at.IsZero() {
				at = t.Updated
			}
		}
		if !at.IsZero() && at.Before(d.opt.To) {
			d.closed[key] = at
		}
	}
	return nil
}

// respondedAt is when a ticket was answered: its first real remediation
// that succeeded, or its closing, whichever came first (zero: neither).
func (d *data) respondedAt(key string) time.Time {
	var out time.Time
	for _, a := range d.byTicket[key] {
		if !a.SucceededAt.IsZero() && (out.IsZero() || a.SucceededAt.Before(out)) {
			out = a.SucceededAt
		}
	}
	if c := d.closed[key]; !c.IsZero() && (out.IsZero() || c.Before(out)) {
		out = c
	}
	return out
}

// nonNegative clamps a duration measured across clocks (event time against
// patrol's) at zero.
func nonNegative(v time.Duration) time.Duration {
	return max(v, 0)
}
