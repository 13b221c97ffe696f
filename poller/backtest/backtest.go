// Package backtest shows what detections would have done over a past span,
// on the configured search backend, without changing anything: not the
// configured state, no ticket, message or AWS call. Each detection runs
// through the production detect job (windows of max_window, exceptions,
// silences, fingerprints, suppression) against a scratch state file in a
// new temporary folder, removed when Run returns, and a tracker that only
// writes down the tickets it is asked for; remediations are planned, which
// is pure. What a backtest reports is therefore what `patrol once` would
// open on a fresh state file over the same span.
package backtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/state"
)

// Options say what to backtest and with what.
type Options struct {
	Detections []*detections.Detection
	Searcher   poller.Searcher
	Tuner      poller.Tuner // nil: nothing is muted
	Router     poller.Router
	Actions    map[string]poller.Action
	DryRun     bool
	Label      string
	// MaxWindow is search.max_window (a detection's own max_window wins).
	MaxWindow time.Duration
	// From and To bound the span (From, To]; a zero From searches from the
	// beginning of the data, in one window (local files).
	From, To time.Time
	// Kinds, when set, returns the Kinds (sequences, first-seen) over the
	// backtest's scratch state and searcher.
	Kinds func(db *state.DB, s poller.Searcher) []poller.Kind
	// Progress, when set, hears each window as it is searched.
	Progress func(p Progress)
	Logger   *slog.Logger
}

// Progress is where a backtest is.
type Progress struct {
	Detection      string
	Index, Total   int // the detection's place, from 1, among Total
	Window         poller.Window
	Windows, Spans int // windows searched so far, and expected, for this detection
}

// Report is what one detection would have done over the span.
type Report struct {
	Detection string `json:"detection"`
	Stage     string `json:"stage"`
	Windows   int    `json:"windows"`
	Results   int    `json:"results"`
	// Alerts counts distinct fingerprints that would get a ticket.
	Alerts       int           `json:"alerts"`
	Excepted     int           `json:"excepted"`
	Silenced     int           `json:"silenced"`
	Tickets      []Ticket      `json:"tickets"`
	Remediations []Remediation `json:"remediations"`
	// SearchSeconds is the time spent in the backend's searches.
	SearchSeconds float64 `json:"search_seconds"`
	// Splunk's jobs: events scanned and run time, summed.
	ScanCount          int64   `json:"scan_count,omitempty"`
	RunDurationSeconds float64 `json:"run_duration_seconds,omitempty"`
	Error              string  `json:"error,omitempty"`
}

// Ticket is a ticket the detection would open.
type Ticket struct {
	Summary     string       `json:"summary"`
	Fingerprint string       `json:"fingerprint"`
	FirstSeen   time.Time    `json:"first_seen"`
	Results     int          `json:"results"`
	Route       poller.Route `json:"route"`
}

// Remediation is a remediation the detection would run, one per ticket.
type Remediation struct {
	Summary string `json:"ticket"`
	poller.WouldRemediate
}

// Run backtests every detection in order (callers put sequences after the
// detections whose alerts they read, as patrol once does). A detection
// whose search fails has Error set; the others still run.
func Run(ctx context.Context, o Options) ([]Report, error) {
	dir, err := os.MkdirTemp("", "patrol-backtest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	db, err := state.Open(filepath.Join(dir, "backtest.db"), func() time.Time { return o.To })
	if err != nil {
		return nil, fmt.Errorf("backtest scratch state: %w", err)
	}
	defer db.Close()
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	rec := &recorder{}
	var out []Report
	for i, d := range o.Detections {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		rep := Report{Detection: d.ID, Stage: d.Stage, Tickets: []Ticket{}, Remediations: []Remediation{}}
		if err := o.one(ctx, db, rec, d, i+1, &rep, log); err != nil {
			rep.Error = poller.CleanText(err.Error())
		}
		out = append(out, rep)
	}
	return out, nil
}

func (o Options) one(ctx context.Context, db *state.DB, rec *recorder, d *detections.Detection, index int, rep *Report, log *slog.Logger) error {
	if !o.From.IsZero() {
		if err := db.CompleteWindow(ctx, d.ID, o.From); err != nil {
			return err
		}
	}
	maxw := d.MaxWindow
	if maxw == 0 {
		maxw = o.MaxWindow
	}
	ts := &timedSearcher{s: o.Searcher}
	if o.Progress != nil {
		spans := 1
		if !o.From.IsZero() && maxw > 0 {
			spans = int((o.To.Sub(o.From) + maxw - 1) / maxw)
		}
		ts.onWindow = func(w poller.Window, n int) {
			o.Progress(Progress{Detection: d.ID, Index: index, Total: len(o.Detections), Window: w, Windows: n, Spans: spans})
		}
		if d.Sequence != nil {
			// A sequence searches nothing (it reads the scratch ledger), so
			// say where the backtest is here, as one window.
			o.Progress(Progress{Detection: d.ID, Index: index, Total: len(o.Detections), Windows: 1, Spans: 1})
		}
	}
	var kinds []poller.Kind
	if o.Kinds != nil {
		kinds = o.Kinds(db, ts) // over the scratch ledger, timed like the rest
	}
	var mu sync.Mutex
	ctx = poller.WithSearchStats(ctx, func(s poller.SearchStats) {
		mu.Lock()
		defer mu.Unlock()
		rep.ScanCount += s.ScanCount
		rep.RunDurationSeconds += s.RunDuration.Seconds()
	})
	to := o.To
	det := &poller.Detector{
		Searcher: ts, Tracker: rec, Store: db, Router: o.Router, Label: o.Label, Kinds: kinds,
		MaxWindow: o.MaxWindow, FirstRunAll: o.From.IsZero(), Tuner: o.Tuner,
		Actions: o.Actions, DryRun: o.DryRun, AllLive: true, OnRecurrence: poller.RecurrenceComment,
		Now: func() time.Time { return to.Add(d.Settle) }, Logger: log,
	}
	st, err := det.Run(ctx, d)
	rep.Windows, rep.Results, rep.Excepted, rep.Silenced = st.Windows, st.Results, st.Excepted, st.Silenced
	rep.SearchSeconds = ts.elapsed().Seconds()
	fps := map[string]bool{}
	for _, key := range rec.keys(d.ID) {
		a, aerr := db.AlertByTicket(ctx, key)
		if aerr != nil || a == nil {
			return fmt.Errorf("backtest ledger: %v", aerr)
		}
		var r poller.Result
		if err := json.Unmarshal([]byte(a.Result), &r); err != nil {
			return err
		}
		w := poller.WouldDo(ctx, d, r, o.Router, o.Actions, o.DryRun)
		rep.Tickets = append(rep.Tickets, Ticket{Summary: oneLine(w.Summary), Fingerprint: a.Fingerprint, FirstSeen: a.FirstSeen,
			Results: a.Count, Route: w.Route})
		if w.Remediation != nil {
			rep.Remediations = append(rep.Remediations, Remediation{Summary: oneLine(w.Summary), WouldRemediate: *w.Remediation})
		}
		fps[a.Fingerprint] = true
	}
	rep.Alerts = len(fps)
	sort.SliceStable(rep.Tickets, func(i, j int) bool { return rep.Tickets[i].FirstSeen.Before(rep.Tickets[j].FirstSeen) })
	return err
}

// oneLine makes a summary one line, as trackers store it.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// timedSearcher adds up the time its searches take and counts windows.
type timedSearcher struct {
	s        poller.Searcher
	onWindow func(w poller.Window, n int)
	mu       sync.Mutex
	total    time.Duration
	n        int
}

func (t *timedSearcher) Search(ctx context.Context, q poller.Query, emit func(poller.Result) error) error {
	t.mu.Lock()
	t.n++
	n := t.n
	t.mu.Unlock()
	if t.onWindow != nil {
		t.onWindow(q.Window, n)
	}
	// A backtest changes no state: a backend that remembers what detect
	// windows read (S3 objects) must not.
	q.Remember = false
	start := time.Now()
	err := t.s.Search(ctx, q, emit)
	t.mu.Lock()
	t.total += time.Since(start)
	t.mu.Unlock()
	return err
}

func (t *timedSearcher) elapsed() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total
}
