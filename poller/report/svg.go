package report

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"
)

// The charts are a few hundred lines of our own SVG rather than a charting
// library: the report needs stacked columns over time and bars inside table
// rows, with a <title> on every mark (exact figures on hover and for screen
// readers), colours from the page's stylesheet (so print can change them)
// and text in the page's own font. Colours are CSS classes; every text is
// escaped.

func esc(s string) string { return template.HTMLEscapeString(s) }

// niceCeil rounds v up to 1, 2 or 5 times a power of ten (at least 1).
func niceCeil(v float64) float64 {
	if v <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// columnChart draws stacked columns, one per period, one segment per series.
func columnChart(starts []time.Time, weekly bool, counts [][]int, classes, names []string) template.HTML {
	const w, h, left, right, top, bottom = 960.0, 230.0, 36.0, 8.0, 10.0, 30.0
	peak := 0
	for _, c := range counts {
		peak = max(peak, sum(c))
	}
	step := niceCeil(float64(peak) / 4)
	ymax := step * math.Ceil(float64(max(peak, 1))/step)
	plotW, plotH := w-left-right, h-top-bottom
	y := func(v float64) float64 { return top + plotH - v/ymax*plotH }
	var b strings.Builder
	unit := "day"
	if weekly {
		unit = "week"
	}
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %g %g" role="img" aria-label="alerts per %s by severity, %d in all">`, w, h, unit, total(counts))
	for v := 0.0; v <= ymax+step/2; v += step {
		fmt.Fprintf(&b, `<line class="grid" x1="%g" x2="%g" y1="%.1f" y2="%.1f"/><text class="axis" x="%g" y="%.1f" text-anchor="end">%g</text>`,
			left, w-right, y(v), y(v), left-6, y(v)+4, v)
	}
	col := plotW / float64(max(len(starts), 1))
	bw := math.Min(math.Max(col*0.72, 1), 44)
	for i, st := range starts {
		x := left + float64(i)*col + (col-bw)/2
		label := st.Format("Mon 2 Jan 2006")
		if weekly {
			label = "week of " + label
		}
		acc := 0
		for s, n := range counts[i] {
			if n == 0 {
				continue
			}
			fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %d %s</title></rect>`,
				classes[s], x, y(float64(acc+n)), bw, y(float64(acc))-y(float64(acc+n)), esc(label), n, esc(names[s]))
			acc += n
		}
		if tick(st, i, len(starts), weekly) {
			cx := x + bw/2
			fmt.Fprintf(&b, `<line class="tick" x1="%.1f" x2="%.1f" y1="%g" y2="%g"/><text class="axis" x="%.1f" y="%g" text-anchor="middle">%s</text>`,
				cx, cx, top+plotH, top+plotH+4, cx, h-bottom+18, st.Format("2 Jan"))
		}
	}
	fmt.Fprintf(&b, `<line class="baseline" x1="%g" x2="%g" y1="%g" y2="%g"/></svg>`, left, w-right, top+plotH, top+plotH)
	return template.HTML(b.String())
}

// tick says whether period i gets a label: every day of a short span,
// Mondays of a longer one, the first week of each month for weekly periods.
func tick(st time.Time, i, n int, weekly bool) bool {
	switch {
	case weekly:
		return st.Day() <= 7
	case n <= 16:
		return true
	}
	return st.Weekday() == time.Monday
}

// stackedBars draws one small horizontal bar per table row, every row on
// the same scale (the largest row fills the cell).
func stackedBars(rows [][]int, classes, names []string) []template.HTML {
	peak := 0
	for _, r := range rows {
		peak = max(peak, sum(r))
	}
	out := make([]template.HTML, len(rows))
	for i, r := range rows {
		var b strings.Builder
		fmt.Fprintf(&b, `<svg class="bar" viewBox="0 0 100 10" preserveAspectRatio="none" role="img" aria-label="%d">`, sum(r))
		x := 0.0
		for s, n := range r {
			if n == 0 {
				continue
			}
			wd := float64(n) / float64(peak) * 100
			fmt.Fprintf(&b, `<rect class="%s" x="%.2f" y="0" width="%.2f" height="10"><title>%d %s</title></rect>`, classes[s], x, wd, n, esc(names[s]))
			x += wd
		}
		b.WriteString(`</svg>`)
		out[i] = template.HTML(b.String())
	}
	return out
}

// logScale maps durations onto a strip's pixels logarithmically, from 10
// seconds to the first of an hour, a day, a week, 30 days or a year that
// holds hi.
type logScale struct{ lo, hi float64 }

// Strip geometry, in pixels (the SVG is drawn at its own size).
const stripW, stripPad = 210.0, 9.0

var scaleMarks = []struct {
	d     time.Duration
	label string
}{{time.Minute, "1m"}, {time.Hour, "1h"}, {day, "1d"}, {7 * day, "1w"}, {30 * day, "30d"}, {365 * day, "1y"}}

func newLogScale(hi time.Duration) logScale {
	top := scaleMarks[1].d
	for _, m := range scaleMarks[1:] {
		top = m.d
		if m.d >= hi {
			break
		}
	}
	return logScale{lo: 1, hi: math.Log10(top.Seconds())}
}

func (s logScale) x(v time.Duration) float64 {
	f := (math.Log10(math.Max(v.Seconds(), 10)) - s.lo) / (s.hi - s.lo)
	return stripPad + math.Min(f, 1)*(stripW-2*stripPad)
}

// rangeStrips draws, per row, the p50–p90 range of time to detect (upper
// line) and time to respond (lower line) on one log scale; the header is the
// scale's marks.
func rangeStrips(rows [][2][]time.Duration) (cells []template.HTML, header template.HTML) {
	var hi time.Duration
	for _, r := range rows {
		for _, xs := range r {
			if v, ok := percentile(xs, 90); ok {
				hi = max(hi, v)
			}
		}
	}
	sc := newLogScale(hi)
	var shown []int
	for i, m := range scaleMarks {
		if m.d.Seconds() <= math.Pow(10, sc.hi)+1 {
			shown = append(shown, i)
		}
	}
	var hb strings.Builder
	fmt.Fprintf(&hb, `<svg class="strip" width="%g" height="14" viewBox="0 0 %g 14" role="img" aria-label="log scale from 10 seconds">`, stripW, stripW)
	last := -100.0
	for n, i := range shown {
		x := sc.x(scaleMarks[i].d)
		if x-last < 20 && n != len(shown)-1 {
			continue // too close to the previous label (a week beside 30 days)
		}
		anchor := "middle"
		if n == len(shown)-1 && x > stripW-stripPad-1 {
			anchor = "end"
			x = stripW
		}
		fmt.Fprintf(&hb, `<text class="axis" x="%.1f" y="11" text-anchor="%s">%s</text>`, x, anchor, scaleMarks[i].label)
		last = x
	}
	hb.WriteString(`</svg>`)
	for _, r := range rows {
		var b strings.Builder
		fmt.Fprintf(&b, `<svg class="strip" width="%g" height="18" viewBox="0 0 %g 18" role="img" aria-label="p50 to p90">`, stripW, stripW)
		for _, i := range shown {
			x := sc.x(scaleMarks[i].d)
			fmt.Fprintf(&b, `<line class="grid" x1="%.1f" x2="%.1f" y1="0" y2="18"/>`, x, x)
		}
		for i, xs := range r {
			p50, ok := percentile(xs, 50)
			if !ok {
				continue
			}
			p90, _ := percentile(xs, 90)
			name, cls, y := "time to detect", "c-detect", 5.5
			if i == 1 {
				name, cls, y = "time to respond", "c-respond", 12.5
			}
			fmt.Fprintf(&b, `<g class="%s"><title>%s: p50 %s, p90 %s</title><line class="range" x1="%.1f" x2="%.1f" y1="%g" y2="%g"/><circle cx="%.1f" cy="%g" r="3"/></g>`,
				cls, name, human(p50), human(p90), sc.x(p50), sc.x(p90), y, y, sc.x(p50), y)
		}
		b.WriteString(`</svg>`)
		cells = append(cells, template.HTML(b.String()))
	}
	return cells, template.HTML(hb.String())
}

// legend names each series with its colour.
func legend(names, classes []string) template.HTML {
	var b strings.Builder
	b.WriteString(`<div class="legend">`)
	for i, n := range names {
		fmt.Fprintf(&b, `<span><i class="sw %s"></i>%s</span>`, classes[i], esc(n))
	}
	b.WriteString(`</div>`)
	return template.HTML(b.String())
}

func rangeLegend() template.HTML {
	return `<div class="legend"><span><i class="sw c-detect"></i>time to detect</span><span><i class="sw c-respond"></i>time to respond</span><span class="hint">dot: p50 (median), line: to p90</span></div>`
}

func classes(prefix string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + strings.ReplaceAll(n, " ", "-")
	}
	return out
}

func severityClasses() []string { return classes("c-", severityCols) }
func outcomeClasses() []string  { return classes("o-", outcomes) }

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

func total(rows [][]int) int {
	n := 0
	for _, r := range rows {
		n += sum(r)
	}
	return n
}
