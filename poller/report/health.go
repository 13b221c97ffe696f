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
	runs, failed, unfinished, results, alerts int
	durations                                 []time.Duration
	maxLag                                    time.Duration
	lastSuccess                               time.Time
	self                                      map[string]int
}

func healthSection(ctx context.Context, d *data) (*Section, error) {
	s := &Section{ID: "health", Title: "Detection health",
		Intro: "How each detection's scheduled runs fared in the span. Max lag is the furthest behind real time a run's window ended when the run finished (settle time, queueing and search time); lag now is how far behind each detection's checkpoint was when the report was made. The last four columns count the self-alerts patrol raised about each detection: its source went quiet (freshness), its runs kept failing, its checkpoint fell behind, a window would have flooded the tracker."}
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
		case r.Error != "":
			h.failed++
		default:
			if r.Finished.After(h.lastSuccess) {
				h.lastSuccess = r.Finished
			}
		}
		if !r.Finished.IsZero() {
			h.durations = append(h.durations, r.Finished.Sub(r.Started))
			if r.Job == "detect" && !r.WindowEnd.IsZero() {
				h.maxLag = max(h.maxLag, r.Finished.Sub(r.WindowEnd))
			}
		}
		if r.Job == "detect" {
			d.figures.runs++
			if r.Error != "" {
				d.figures.failedRuns++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
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
		{Key: "detection", Title: "Detection"}, {Key: "runs", Title: "Runs", Kind: Count}, {Key: "failed", Title: "Failed", Kind: Count},
		{Key: "unfinished", Title: "Unfinished", Kind: Count, Hint: "started and never recorded as finished: patrol stopped, or still running"},
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
		row := []any{id, h.runs, h.failed, h.unfinished, h.results, pct(h.durations, 50), maxLag, last, lag}
		for _, k := range selfKinds {
			row = append(row, h.self[k])
		}
		t.Rows = append(t.Rows, row)
	}
	s.Blocks = append(s.Blocks, Block{Table: t})
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
		s.Notes = append(s.Notes, fmt.Sprintf("Run history is kept for state.retention: the oldest run recorded started %s, so runs before it are not counted (alerts, tickets and actions are never pruned).", oldest.Format(timeLayout)))
	}
	return s, nil
}

func auditSection(_ context.Context, d *data) (*Section, error) {
	s := &Section{ID: "audit", Title: "Audit trail",
		Intro: "Every remediation attempt that began in the span, oldest first, as the action ledger records it: one row per ticket, action and target, with where it ended by the span's end. The id is the one 'patrol undo' takes."}
	t := &Table{Name: "audit_trail", Title: "Actions", Columns: []Column{
		{Key: "time", Title: "Time", Kind: Time}, {Key: "ticket", Title: "Ticket"}, {Key: "detection", Title: "Detection"},
		{Key: "action", Title: "Action"}, {Key: "target", Title: "Target"}, {Key: "outcome", Title: "Outcome"},
		{Key: "approver", Title: "Approver"}, {Key: "finished", Title: "Last recorded", Kind: Time},
		{Key: "id", Title: "Id", Kind: Count}, {Key: "detail", Title: "Detail"}},
		Empty: "No remediation was attempted in the span."}
	for _, a := range d.attempts {
		approver := ""
		switch ap := d.approved[a.Ticket]; {
		case ap != nil && ap.By != "":
			approver = ap.By
		case ap != nil:
			approver = trackerApprover
		case d.tickets[a.Ticket].PlannedAt.IsZero() && a.Outcome() != outRefused:
			approver = "auto mode"
		}
		t.Rows = append(t.Rows, []any{a.First, a.Ticket, d.tickets[a.Ticket].Detection, a.Action, a.Target, a.outcomeText(), approver, a.Last, int(a.LastID), a.Detail})
	}
	s.Blocks = append(s.Blocks, Block{Table: t})
	return s, nil
}
