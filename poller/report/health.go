package report

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/patrolsec/patrol/state"
)

// Self-alert kinds, as poller.Health keys them.
var selfKinds = []string{"stale", "failing", "lagging", "flood"}

// respondJob names the respond job's row among the detections.
const respondJob = "(respond job)"

type jobHealth struct {
	runs, failed, cancelled, unfinished, results, alerts int
	skipped                                              int
	durations                                            []time.Duration // of runs that ran to the end, failed or not
	maxLag                                               time.Duration
	lastSuccess                                          time.Time
	self                                                 map[string]int
}

func healthSection(ctx context.Context, d *data) (*Section, error) {
	s := &Section{ID: "health", Title: "Detection health",
		Intro: "How each detection's scheduled runs fared in the span. A cancelled run was stopped by a clean shutdown or a reload: neither a success nor a failure, its window is searched by the next run. A skipped run was never started because the detection's previous run was still going (a sign of overload). Max lag is the furthest behind real time a run's window ended when the run finished (settle time, queueing and search time); lag now is how far behind each detection's checkpoint was when the report was made. The last four columns count the self-alerts patrol raised about each detection: its source went quiet (freshness), its runs kept failing, its checkpoint fell behind, a window would have flooded the tracker."}
	by := map[string]*jobHealth{}
	get := func(id string) *jobHealth {
		if by[id] == nil {
			by[id] = &jobHealth{self: map[string]int{}}
		}
		return by[id]
	}
	for id := range d.dets {
		get(id)
	}
	err := d.db.EachRun(ctx, d.opt.From, d.opt.To, func(r state.Run) error {
		id := r.Detection
		if r.Job != "detect" {
			id = respondJob
		}
		h := get(id)
		h.runs++
		h.results += r.Results
		h.alerts += r.Alerts
		switch {
		case r.Finished.IsZero():
			h.unfinished++
		case r.Cancelled:
			h.cancelled++
		case r.Error != "":
			h.failed++
		default:
			if r.Finished.After(h.lastSuccess) {
				h.lastSuccess = r.Finished
			}
		}
		if !r.Finished.IsZero() && !r.Cancelled { // a cancelled run's time and lag say nothing of the detection
			h.durations = append(h.durations, r.Finished.Sub(r.Started))
			if r.Job == "detect" && !r.WindowEnd.IsZero() {
				h.maxLag = max(h.maxLag, r.Finished.Sub(r.WindowEnd))
			}
		}
		if r.Job == "detect" {
			d.figures.runs++
			switch {
			case r.Cancelled:
				d.figures.cancelledRuns++
			case r.Error != "" && !r.Finished.IsZero():
				d.figures.failedRuns++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	skips, err := d.db.SkippedBetween(ctx, d.opt.From, d.opt.To)
	if err != nil {
		return nil, err
	}
	for id, sk := range skips {
		get(id).skipped = int(sk.Count)
	}
	for _, a := range d.self {
		if !d.inSpan(a.Created) {
			continue
		}
		kind, id, _ := strings.Cut(a.Problem, ":")
		if id == "respond" {
			id = respondJob
		}
		get(id).self[kind]++
		d.figures.selfAlerts++
	}
	cps, err := d.db.Checkpoints(ctx)
	if err != nil {
		return nil, err
	}
	t := &Table{Name: "detection_health", Title: "Runs and self-alerts", Columns: []Column{
		{Key: "detection", Title: "Detection"}, kindColumn,
		{Key: "runs", Title: "Runs", Kind: Count}, {Key: "failed", Title: "Failed", Kind: Count},
		{Key: "cancelled", Title: "Cancelled", Kind: Count, Hint: "stopped by a clean shutdown or a reload: neither a success nor a failure; the next run searches the window"},
		{Key: "unfinished", Title: "Unfinished", Kind: Count, Hint: "started and never recorded as finished: patrol was killed, or the run is still going"},
		{Key: "skipped", Title: "Skipped", Kind: Count, Hint: "scheduled runs not started because the previous run was still going (searching or waiting for a search slot): overload; the next run covers the window"},
		{Key: "results", Title: "Results", Kind: Count, Hint: "search results; for the respond job, tickets polled"},
		{Key: "run_p50_seconds", Title: "Run p50", Kind: Seconds},
		{Key: "search_lag_max_seconds", Title: "Max lag", Kind: Seconds, Hint: "the most a run's window end was behind real time when the run finished"},
		{Key: "last_success", Title: "Last success", Kind: Time},
		{Key: "checkpoint_lag_seconds", Title: "Lag now", Kind: Seconds, Hint: "how far behind the checkpoint was when the report was made"},
		{Key: "freshness_alerts", Title: "Quiet", Kind: Count, Hint: "self-alerts: the detection's source returned nothing for its freshness span"},
		{Key: "failing_alerts", Title: "Failing", Kind: Count, Hint: "self-alerts: runs failed health.failures_before_alert times in a row"},
		{Key: "lag_alerts", Title: "Behind", Kind: Count, Hint: "self-alerts: the checkpoint fell more than health.max_lag behind"},
		{Key: "flood_alerts", Title: "Flood", Kind: Count, Hint: "self-alerts: a window would have opened more than detections.max_new_alerts tickets"}},
		Empty: "No detection is loaded and no run is recorded in the span."}
	ids := make([]string, 0, len(by))
	for id := range by {
		if id != respondJob {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	if by[respondJob] != nil {
		ids = append(ids, respondJob)
	}
	for _, id := range ids {
		h := by[id]
		var lag, maxLag, last any
		if cp, ok := cps[id]; ok {
			lag = nonNegative(d.opt.Now.Sub(cp))
		}
		if h.maxLag > 0 {
			maxLag = h.maxLag
		}
		if !h.lastSuccess.IsZero() {
			last = h.lastSuccess
		}
		row := []any{id, d.kind(id), h.runs, h.failed, h.cancelled, h.unfinished, h.skipped, h.results, pct(h.durations, 50), maxLag, last, lag}
		for _, k := range selfKinds {
			row = append(row, h.self[k])
		}
		t.Rows = append(t.Rows, row)
	}
	dead, err := deadLettersTable(ctx, d)
	if err != nil {
		return nil, err
	}
	s.Blocks = append(s.Blocks, Block{Table: t}, Block{Table: dead,
		Caption: "A delivery is set aside after a permanent error (the tracker or the chat refused it); transient errors are retried until they succeed. 'patrol status' lists the latest."})
	// Runs were pruned when the history starts after the span does while
	// older alerts, tickets or actions remain.
	oldest, err := d.db.OldestRun(ctx)
	if err != nil {
		return nil, err
	}
	first, err := d.db.OldestRecord(ctx)
	if err != nil {
		return nil, err
	}
	if oldest.After(d.opt.From) && first.Before(oldest) {
		s.Notes = append(s.Notes, fmt.Sprintf("Run history is kept for state.retention: the oldest run recorded started %s, so runs, skipped runs and dead letters before it are not counted (alerts, tickets and actions are never pruned).", oldest.Format(timeLayout)))
	}
	return s, nil
}
