package report

import (
	"fmt"
	"sort"
	"time"
)

// figures are the headline numbers the sections gather for the tiles.
type figures struct {
	alerts, tickets    int
	ttd, ttr           []time.Duration
	responded          int
	outcomes           map[string]int
	approved, waiting  int
	waits              []time.Duration
	runs, failedRuns   int
	cancelledRuns      int
	selfAlerts         int
	detectionsWithRuns int
}

// percentile is the nearest-rank p-th percentile of xs: the smallest value
// that at least p% of the values are at or below. It sorts a copy; ok is
// false when xs is empty.
func percentile(xs []time.Duration, p int) (v time.Duration, ok bool) {
	if len(xs) == 0 {
		return 0, false
	}
	s := append([]time.Duration(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := (p*len(s) + 99) / 100 // ceil(p/100 · n)
	return s[max(rank, 1)-1], true
}

// pct is percentile as a table cell: nil when there is no value.
func pct(xs []time.Duration, p int) any {
	if v, ok := percentile(xs, p); ok {
		return v
	}
	return nil
}

func (d *data) tiles() []Tile {
	f := &d.figures
	tiles := []Tile{{Label: "Alerts", Value: fmt.Sprint(f.alerts), Note: plural(f.tickets, "ticket", "tickets") + " opened"}}
	tiles = append(tiles, spanTile("Time to detect", f.ttd, plural(len(f.ttd), "alert", "alerts")+" ticketed"))
	tiles = append(tiles, spanTile("Time to respond", f.ttr, fmt.Sprintf("%d of %s answered", f.responded, plural(f.tickets, "ticket", "tickets"))))
	o := f.outcomes
	tiles = append(tiles, Tile{Label: "Remediated", Value: fmt.Sprint(o[outSucceeded]),
		Note: fmt.Sprintf("%s · %d undone", plural(o[outDryRun], "dry run", "dry runs"), o[outUndone]), Tone: toneIf(o[outSucceeded] > 0, "good")})
	bad := o[outFailed] + o[outRefused] + o[outInterrupted]
	tiles = append(tiles, Tile{Label: "Failed or refused", Value: fmt.Sprint(bad),
		Note: fmt.Sprintf("%d failed · %d refused · %d interrupted", o[outFailed], o[outRefused], o[outInterrupted]), Tone: toneIf(bad > 0, "bad")})
	note := fmt.Sprintf("%d waiting", f.waiting)
	if v, ok := percentile(f.waits, 50); ok {
		note = "median wait " + human(v) + " · " + note
	}
	tiles = append(tiles, Tile{Label: "Approvals", Value: fmt.Sprint(f.approved), Note: note, Tone: toneIf(f.waiting > 0, "warn")})
	tiles = append(tiles, Tile{Label: "Detection runs", Value: fmt.Sprint(f.runs),
		Note: fmt.Sprintf("%d failed · %d cancelled · %s", f.failedRuns, f.cancelledRuns, plural(f.selfAlerts, "self-alert", "self-alerts")), Tone: toneIf(f.failedRuns > 0 || f.selfAlerts > 0, "warn")})
	return tiles
}

func spanTile(label string, xs []time.Duration, of string) Tile {
	t := Tile{Label: label + " (median)", Value: "—", Note: of}
	if v, ok := percentile(xs, 50); ok {
		p90, _ := percentile(xs, 90)
		t.Value, t.Note = human(v), "p90 "+human(p90)+" · "+of
	}
	return t
}

func toneIf(cond bool, tone string) string {
	if cond {
		return tone
	}
	return ""
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// human writes a duration in its two largest units (seconds only up to ten
// minutes): 45s, 4m 05s, 35m, 3h 05m, 2d 4h.
func human(v time.Duration) string {
	switch {
	case v > 0 && v < time.Second:
		return "<1s"
	}
	v = v.Round(time.Second)
	switch {
	case v < time.Minute:
		return fmt.Sprintf("%ds", int(v/time.Second))
	case v >= 10*time.Minute && v < time.Hour:
		return fmt.Sprintf("%dm", int(v/time.Minute))
	case v < time.Hour:
		return fmt.Sprintf("%dm %02ds", int(v/time.Minute), int(v%time.Minute/time.Second))
	case v < 24*time.Hour:
		return fmt.Sprintf("%dh %02dm", int(v/time.Hour), int(v%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd %dh", int(v/(24*time.Hour)), int(v%(24*time.Hour)/time.Hour))
}
