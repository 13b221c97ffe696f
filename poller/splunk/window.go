package splunk

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/patrolsec/patrol/poller"
)

// windowParams turns a query's window into Splunk time parameters.
//
// poller.Window is (Start, End]; Splunk bounds are [earliest, latest):
// earliest inclusive, latest exclusive. Both bounds are sent as they are, so
// a window covers [Start, End) in Splunk terms. An event stamped exactly at
// End is therefore found by the next window, whose earliest is that same
// End; consecutive windows tile time with neither a gap nor an overlap.
// Splunk's documentation is inconsistent on whether index_latest is
// inclusive; if it is, a one-second overlap follows, which the detect job's
// fingerprint dedupe absorbs. A zero Start sends "0": no lower bound.
//
// Index time (poller.IndexTime, the default) bounds _indextime with
// index_earliest/index_latest, so an event indexed late is found by the
// window in which it was indexed, whatever its _time. Splunk still needs an
// event-time range to look in: earliest_time is Start minus eventSpan (an
// event indexed in the window and at most eventSpan late has _time after
// it; 0 means all time) and latest_time is End plus ahead, for events
// stamped in the future by skewed clocks. now is End, so relative time
// modifiers inside the SPL are evaluated against the window, not the clock.
//
// Event time (poller.EventTime) sends the window as earliest_time and
// latest_time; events indexed after their window was searched are missed
// unless the detection's settle lag covers the indexing delay.
//
// Epochs are decimal seconds with microseconds at most, never milliseconds.
func windowParams(q poller.Query, eventSpan, ahead time.Duration) (url.Values, error) {
	w := q.Window
	if w.End.IsZero() {
		return nil, fmt.Errorf("window has no end")
	}
	if !w.Start.IsZero() && !w.Start.Before(w.End) {
		return nil, fmt.Errorf("window start %s is not before its end %s",
			w.Start.UTC().Format(time.RFC3339Nano), w.End.UTC().Format(time.RFC3339Nano))
	}
	v := url.Values{}
	v.Set("now", epoch(w.End))
	switch q.TimeMode {
	case poller.IndexTime, "":
		v.Set("index_earliest", epochOrZero(w.Start))
		v.Set("index_latest", epoch(w.End))
		if w.Start.IsZero() || eventSpan == 0 {
			v.Set("earliest_time", "0")
		} else {
			v.Set("earliest_time", epoch(w.Start.Add(-eventSpan)))
		}
		v.Set("latest_time", epoch(w.End.Add(ahead)))
	case poller.EventTime:
		v.Set("earliest_time", epochOrZero(w.Start))
		v.Set("latest_time", epoch(w.End))
	default:
		return nil, fmt.Errorf("unknown time mode %q", q.TimeMode)
	}
	return v, nil
}

func epochOrZero(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return epoch(t)
}

// epoch formats t as decimal epoch seconds, truncated to microseconds
// (Splunk's finest _time) with trailing zeros dropped. Truncation is the same
// for a window's End and the next window's Start, so tiling survives it.
func epoch(t time.Time) string {
	if t.Before(time.Unix(0, 0)) {
		return "0" // nothing is indexed before 1970; "0" is all time
	}
	sec := t.Unix()
	us := t.Nanosecond() / 1000
	if us == 0 {
		return strconv.FormatInt(sec, 10)
	}
	frac := strings.TrimRight(fmt.Sprintf("%06d", us), "0")
	return strconv.FormatInt(sec, 10) + "." + frac
}
