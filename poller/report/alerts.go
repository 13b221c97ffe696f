package report

import (
	"context"
	"sort"
	"time"
)

// severities are the detection severities, most severe first; alerts of a
// detection that is no longer loaded count as "other".
var severities = []string{"critical", "high", "medium", "low"}

var severityCols = append(append([]string(nil), severities...), "other")

const day = 24 * time.Hour

// buckets returns the starts of the periods the span is cut into: days, or
// weeks (from Monday) when the span is longer than 120 days.
func (d *data) buckets() (starts []time.Time, weekly bool) {
	from := d.opt.From.Truncate(day)
	weekly = d.opt.To.Sub(from) > 120*day
	step := day
	if weekly {
		step = 7 * day
		from = from.AddDate(0, 0, -((int(from.Weekday()) + 6) % 7)) // back to Monday
	}
	for t := from; t.Before(d.opt.To); t = t.Add(step) {
		starts = append(starts, t)
	}
	return starts, weekly
}

func alertsSection(_ context.Context, d *data) (*Section, error) {
	s := &Section{ID: "alerts", Title: "Alerts",
		Intro: "Alerts patrol raised in the span (a new alert opens a ticket; repeats inside a detection's suppress window count as results of the same alert), by the day they were raised and the detection's severity."}
	d.figures.alerts = len(d.alerts)
	starts, weekly := d.buckets()
	counts := make([][]int, len(starts))
	for i := range counts {
		counts[i] = make([]int, len(severityCols))
	}
	type perDet struct{ alerts, results, tickets int }
	byDet := map[string]*perDet{}
	for _, a := range d.alerts {
		i := sort.Search(len(starts), func(i int) bool { return starts[i].After(a.Created) }) - 1
		sev := indexOf(severityCols, d.severity(a.Detection))
		if i >= 0 {
			counts[i][sev]++
		}
		p := byDet[a.Detection]
		if p == nil {
			p = &perDet{}
			byDet[a.Detection] = p
		}
		p.alerts++
		p.results += a.Count
		if a.TicketKey != "" {
			p.tickets++
		}
	}
	unit := "day"
	if weekly {
		unit = "week"
	}
	over := &Table{Name: "alerts_over_time", Title: "Alerts per " + unit, Columns: []Column{{Key: unit, Title: titleCase(unit)}},
		SkipZero: true, Empty: "No alert was raised in the span."}
	for _, c := range severityCols {
		over.Columns = append(over.Columns, Column{Key: c, Title: c, Kind: Count})
	}
	over.Columns = append(over.Columns, Column{Key: "total", Title: "Total", Kind: Count})
	for i, st := range starts {
		row, total := []any{st.Format("2006-01-02")}, 0
		for _, n := range counts[i] {
			row, total = append(row, n), total+n
		}
		over.Rows = append(over.Rows, append(row, total))
	}
	chart := columnChart(starts, weekly, counts, severityClasses(), severityCols)
	s.Blocks = append(s.Blocks, Block{Title: over.Title + ", by severity", Chart: legend(severityCols, severityClasses()) + chart})

	by := &Table{Name: "alerts_by_detection", Title: "Alerts per detection", Columns: []Column{
		{Key: "detection", Title: "Detection"}, {Key: "title", Title: "Title"}, kindColumn, {Key: "severity", Title: "Severity", Pill: true},
		{Key: "alerts", Title: "Alerts", Kind: Count}, {Key: "results", Title: "Results", Kind: Count}, {Key: "tickets", Title: "Tickets", Kind: Count}},
		Empty: "No alert was raised in the span.", VisualAfter: "alerts"}
	ids := make([]string, 0, len(byDet))
	for id := range byDet {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if byDet[ids[i]].alerts != byDet[ids[j]].alerts {
			return byDet[ids[i]].alerts > byDet[ids[j]].alerts
		}
		return ids[i] < ids[j]
	})
	var bars [][]int
	for _, id := range ids {
		p := byDet[id]
		by.Rows = append(by.Rows, []any{id, d.dets[id].Title, d.kind(id), d.severity(id), p.alerts, p.results, p.tickets})
		seg := make([]int, len(severityCols))
		seg[indexOf(severityCols, d.severity(id))] = p.alerts
		bars = append(bars, seg)
	}
	by.Visual = stackedBars(bars, severityClasses(), severityCols)
	s.Blocks = append(s.Blocks, Block{Table: by}, Block{Table: over, Caption: "The chart's figures, per " + unit + " (UTC); periods without alerts are left out here and listed in the CSV and JSON formats."})
	return s, nil
}

func speedSection(_ context.Context, d *data) (*Section, error) {
	s := &Section{ID: "speed", Title: "Time to detect and respond",
		Intro: "Time to detect runs from the first event of an alert to its ticket's creation; time to respond from the ticket's creation to its first successful remediation or its closing, whichever came first (dry runs do not count). p50 is the median and p90 the time 90% of them stayed within (nearest rank: each is one of the measured times)."}
	type perDet struct {
		ttd, ttr         []time.Duration
		tickets, answers int
	}
	byDet := map[string]*perDet{}
	get := func(id string) *perDet {
		if id == "" {
			id = noDetection
		}
		if byDet[id] == nil {
			byDet[id] = &perDet{}
		}
		return byDet[id]
	}
	all := &perDet{}
	for _, a := range d.alerts {
		t, ok := d.tickets[a.TicketKey]
		if a.TicketKey == "" || !ok {
			continue
		}
		v := nonNegative(t.Created.Sub(a.FirstSeen))
		get(a.Detection).ttd = append(get(a.Detection).ttd, v)
		all.ttd = append(all.ttd, v)
	}
	for _, t := range d.spanTickets() {
		p := get(t.Detection)
		p.tickets++
		all.tickets++
		if at := d.respondedAt(t.Key); !at.IsZero() {
			v := nonNegative(at.Sub(t.Created))
			p.ttr, all.ttr = append(p.ttr, v), append(all.ttr, v)
			p.answers++
			all.answers++
		}
	}
	d.figures.ttd, d.figures.ttr, d.figures.tickets, d.figures.responded = all.ttd, all.ttr, all.tickets, all.answers
	t := &Table{Name: "response_times", Title: "Per detection", Columns: []Column{
		{Key: "detection", Title: "Detection"},
		{Key: "alerts_ticketed", Title: "Alerts ticketed", Kind: Count},
		{Key: "ttd_p50_seconds", Title: "Detect p50", Kind: Seconds}, {Key: "ttd_p90_seconds", Title: "Detect p90", Kind: Seconds},
		{Key: "tickets", Title: "Tickets", Kind: Count}, {Key: "answered", Title: "Answered", Kind: Count},
		{Key: "ttr_p50_seconds", Title: "Respond p50", Kind: Seconds}, {Key: "ttr_p90_seconds", Title: "Respond p90", Kind: Seconds}},
		Empty: "No alert was ticketed and no ticket was made in the span.", VisualTitle: "p50–p90, log scale"}
	ids := make([]string, 0, len(byDet))
	for id := range byDet {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var ranges [][2][]time.Duration
	for _, id := range append(ids, "") {
		p, label := byDet[id], id
		if id == "" {
			p, label = all, "all detections"
		}
		t.Rows = append(t.Rows, []any{label, len(p.ttd), pct(p.ttd, 50), pct(p.ttd, 90), p.tickets, p.answers, pct(p.ttr, 50), pct(p.ttr, 90)})
		ranges = append(ranges, [2][]time.Duration{p.ttd, p.ttr})
	}
	if len(ids) == 0 {
		t.Rows = nil
	} else {
		t.Footer = true
		t.Visual, t.VisualHeader = rangeStrips(ranges)
	}
	s.Blocks = append(s.Blocks, Block{Table: t, Chart: rangeLegend()})
	return s, nil
}

// noDetection names tickets that carry no detection label (made by hand or
// by another system without one).
const noDetection = "(no detection)"

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return len(list) - 1
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
