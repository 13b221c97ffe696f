package poller

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/state"
)

// Suppression decides, per result time, which alert generation a window's
// results belong to. A result belongs to the generation of its fingerprint
// whose first sighting is nearest to it within the detection's suppress
// span; a result farther than that from every generation opens a new one.
// So repeats farther apart than suppress inside one long (catch-up) window
// open new alerts, and a window searched again after a failure lands on
// the generations it opened the first time instead of counting twice.

// generation is one alert generation of a fingerprint as a window sees it.
type generation struct {
	alert   *state.Alert // nil: opened by this window
	sighted time.Time    // its first sighting
	// What this window adds to it.
	n           int
	from, to    time.Time
	result      string // a new generation's opening result (JSON)
	fingerprint string
	class       string // its results' class (live, shadow, a silence)
	// recurrenceOf is the closed ticket a new generation recurs on
	// (tickets.on_recurrence = "new").
	recurrenceOf string
	// reopen: newer results on an existing generation whose ticket is
	// closed (tickets.on_recurrence = "reopen").
	reopen bool
}

// windowPlan is what one window's results do to the alert ledger.
type windowPlan struct {
	byFP    map[string][]*generation // sorted by first sighting
	opened  []*generation            // new generations, in the order their events happened
	touched []*generation            // existing generations with results in this window
}

// minSuppress is the shortest suppress span patrol acts on: a zero span
// would make every retried window a new alert (validate rejects it).
const minSuppress = time.Second

func suppressSpan(d *detections.Detection) time.Duration {
	return max(d.Suppress, minSuppress)
}

// planWindow assigns the window's staged results to generations: each
// class of results (live, shadow, each silence) to generations of its own
// class. It changes nothing.
func (j *Detector) planWindow(ctx context.Context, d *detections.Detection) (*windowPlan, error) {
	p := &windowPlan{byFP: map[string][]*generation{}}
	span := suppressSpan(d)
	closed := map[string]bool{}
	err := j.eachHit(ctx, d, func(h state.Hit) error {
		key := h.Fingerprint + "\x00" + h.Class
		gens, ok := p.byFP[key]
		if !ok {
			alerts, err := j.Store.Generations(ctx, h.Fingerprint)
			if err != nil {
				return err
			}
			for i := range alerts {
				if alerts[i].Detection != d.ID || alerts[i].Class() != h.Class {
					continue // a fingerprint is a hash of the detection id: never
				}
				gens = append(gens, &generation{alert: &alerts[i], sighted: alerts[i].FirstSeen, fingerprint: h.Fingerprint, class: h.Class})
			}
			sort.SliceStable(gens, func(a, b int) bool { return gens[a].sighted.Before(gens[b].sighted) })
		}
		g := nearest(gens, h.First, span)
		recurs := ""
		if g != nil && g.alert != nil && !g.reopen && h.Class == classLive && h.First.After(g.alert.LastSeen) {
			// Newer results of an alert whose ticket is closed.
			shut, err := j.closedTicket(ctx, g.alert.TicketKey, closed)
			if err != nil {
				return err
			}
			switch {
			case shut && j.OnRecurrence == RecurrenceNew:
				g, recurs = nil, g.alert.TicketKey
			case shut && j.OnRecurrence != RecurrenceComment:
				g.reopen = true
			}
		}
		if g == nil {
			g = &generation{sighted: h.First, result: h.Result, fingerprint: h.Fingerprint, class: h.Class, recurrenceOf: recurs}
			gens = insertGeneration(gens, g)
			p.opened = append(p.opened, g)
		} else if g.alert != nil && g.n == 0 {
			p.touched = append(p.touched, g)
		}
		p.byFP[key] = gens
		g.n += h.Count
		if g.from.IsZero() || h.First.Before(g.from) {
			g.from = h.First
		}
		if g.to.IsZero() || h.Last.After(g.to) {
			g.to = h.Last
		}
		if h.First.Before(g.sighted) {
			g.sighted = h.First // as the ledger will: first_seen is the earliest result
		}
		return nil
	})
	return p, err
}

// nearest returns the generation whose first sighting is nearest to t and
// less than span away, or nil.
func nearest(gens []*generation, t time.Time, span time.Duration) *generation {
	i := sort.Search(len(gens), func(i int) bool { return gens[i].sighted.After(t) })
	if i > 0 && t.Sub(gens[i-1].sighted) < span {
		return gens[i-1]
	}
	if i < len(gens) && gens[i].sighted.Sub(t) < span {
		return gens[i] // a late result, just before a generation's first sighting
	}
	return nil
}

func insertGeneration(gens []*generation, g *generation) []*generation {
	i := sort.Search(len(gens), func(i int) bool { return gens[i].sighted.After(g.sighted) })
	gens = append(gens, nil)
	copy(gens[i+1:], gens[i:])
	gens[i] = g
	return gens
}

// closedTicket reports whether the ticket's done status is current,
// remembering the answers of one window in seen.
func (j *Detector) closedTicket(ctx context.Context, key string, seen map[string]bool) (bool, error) {
	if key == "" {
		return false, nil
	}
	if v, ok := seen[key]; ok {
		return v, nil
	}
	row, err := j.Store.Ticket(ctx, key)
	if err != nil {
		return false, err
	}
	seen[key] = row != nil && row.Closed()
	return seen[key], nil
}

// ticketing counts the new generations that will get a ticket: the ones
// max_new_alerts bounds.
func (p *windowPlan) ticketing() int {
	n := 0
	for _, g := range p.opened {
		if g.class == classLive {
			n++
		}
	}
	return n
}

// change turns the plan into the ledger's window change: the new alerts
// (pending ones get tickets; shadow ones store what they would do; those
// of a silence are recorded against it), the repeats, one "Seen again"
// comment per ticket and span, and the reopening of closed tickets.
func (j *Detector) change(ctx context.Context, p *windowPlan, d *detections.Detection, w Window) (state.WindowChange, error) {
	var c state.WindowChange
	for _, g := range p.opened {
		a := state.Alert{Detection: d.ID, Fingerprint: g.fingerprint, FirstSeen: g.from, LastSeen: g.to,
			Count: g.n, WindowStart: w.Start, WindowCount: g.n, Result: g.result, RecurrenceOf: g.recurrenceOf}
		switch {
		case g.class == classShadow:
			var r Result
			if err := json.Unmarshal([]byte(g.result), &r); err != nil {
				return c, fmt.Errorf("staged result: %w", err)
			}
			a.State, a.Would = state.AlertShadow, WouldDo(ctx, d, r, j.Router, j.Actions, j.DryRun).JSON()
		case strings.HasPrefix(g.class, classSilencePrefix):
			a.State, a.SilenceID = state.AlertSilenced, strings.TrimPrefix(g.class, classSilencePrefix)
		}
		c.New = append(c.New, a)
	}
	span := suppressSpan(d)
	now := j.now()
	for _, g := range p.touched {
		a := g.alert
		c.Repeats = append(c.Repeats, state.Repeat{AlertID: a.ID, WindowStart: w.Start, Count: g.n, First: g.from, Last: g.to})
		newer := g.to.After(a.LastSeen) // a replayed window brings nothing newer: no comment
		if !newer || a.TicketKey == "" || (!g.reopen && !a.Commented.IsZero() && now.Sub(a.Commented) < span) {
			continue
		}
		m := Message{Sections: []Section{{
			Heading: "Seen again",
			Text: fmt.Sprintf("%d more result(s) of this alert between %s and %s. Repeats inside %s update this ticket instead of opening a new one; this comment is posted at most once per that span.",
				g.n, g.from.Format(time.RFC3339), g.to.Format(time.RFC3339), d.Suppress),
		}}}
		ds := []Delivery{CommentDelivery(m)}
		if g.reopen {
			m.Sections[0].Text = fmt.Sprintf("%d more result(s) of this alert between %s and %s, after this ticket was closed: patrol reopens it (tickets.on_recurrence = \"reopen\"). Repeats inside %s come back to this ticket.",
				g.n, g.from.Format(time.RFC3339), g.to.Format(time.RFC3339), d.Suppress)
			ds = []Delivery{TransitionDelivery(j.ReopenTransition), CommentDelivery(m)}
			c.Reopened = append(c.Reopened, a.TicketKey)
			j.logger().Info("closed ticket reopened on recurrence", "detection", d.ID, "ticket", a.TicketKey)
		}
		sds, err := encodeAll(a.TicketKey, ds)
		if err != nil {
			return c, err
		}
		c.Deliveries = append(c.Deliveries, sds...)
		c.Commented = append(c.Commented, a.ID)
	}
	return c, nil
}
