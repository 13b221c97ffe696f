package poller

import (
	"context"
	"fmt"
	"sort"
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

// planWindow assigns the window's staged results to generations. It
// changes nothing.
func (j *Detector) planWindow(ctx context.Context, d *detections.Detection) (*windowPlan, error) {
	p := &windowPlan{byFP: map[string][]*generation{}}
	span := suppressSpan(d)
	err := j.eachHit(ctx, d, func(h state.Hit) error {
		gens, ok := p.byFP[h.Fingerprint]
		if !ok {
			alerts, err := j.Store.Generations(ctx, h.Fingerprint)
			if err != nil {
				return err
			}
			for i := range alerts {
				if alerts[i].Detection != d.ID {
					continue // a fingerprint is a hash of the detection id: never
				}
				gens = append(gens, &generation{alert: &alerts[i], sighted: alerts[i].FirstSeen, fingerprint: h.Fingerprint})
			}
			sort.SliceStable(gens, func(a, b int) bool { return gens[a].sighted.Before(gens[b].sighted) })
		}
		g := nearest(gens, h.First, span)
		if g == nil {
			g = &generation{sighted: h.First, result: h.Result, fingerprint: h.Fingerprint}
			gens = insertGeneration(gens, g)
			p.opened = append(p.opened, g)
		} else if g.alert != nil && g.n == 0 {
			p.touched = append(p.touched, g)
		}
		p.byFP[h.Fingerprint] = gens
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

// change turns the plan into the ledger's window change: the new pending
// alerts, the repeats, and one "Seen again" comment per ticket and span.
func (p *windowPlan) change(d *detections.Detection, w Window, now time.Time) (state.WindowChange, error) {
	var c state.WindowChange
	for _, g := range p.opened {
		c.New = append(c.New, state.Alert{Detection: d.ID, Fingerprint: g.fingerprint, FirstSeen: g.from, LastSeen: g.to,
			Count: g.n, WindowStart: w.Start, WindowCount: g.n, Result: g.result})
	}
	span := suppressSpan(d)
	for _, g := range p.touched {
		a := g.alert
		c.Repeats = append(c.Repeats, state.Repeat{AlertID: a.ID, WindowStart: w.Start, Count: g.n, First: g.from, Last: g.to})
		newer := g.to.After(a.LastSeen) // a replayed window brings nothing newer: no comment
		if !newer || a.TicketKey == "" || (!a.Commented.IsZero() && now.Sub(a.Commented) < span) {
			continue
		}
		m := Message{Sections: []Section{{
			Heading: "Seen again",
			Text: fmt.Sprintf("%d more result(s) of this alert between %s and %s. Repeats inside %s update this ticket instead of opening a new one; this comment is posted at most once per that span.",
				g.n, g.from.Format(time.RFC3339), g.to.Format(time.RFC3339), d.Suppress),
		}}}
		sd, err := CommentDelivery(m).encode(a.TicketKey)
		if err != nil {
			return c, err
		}
		c.Deliveries = append(c.Deliveries, sd)
		c.Commented = append(c.Commented, a.ID)
	}
	return c, nil
}
