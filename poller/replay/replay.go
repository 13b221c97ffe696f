// Package replay runs a detection's [[test]] case offline the way patrol
// runs it for real: each events file in turn is one run of the detect job
// (and, for a sequence, of its steps first), through the production
// windows, fingerprints, alert ledger, first-seen state and sequence engine,
// in a throwaway state file. Only the tracker is a stand-in that numbers
// tickets.
//
// Time follows the data: each run happens as of the latest event in its
// file, so a sequence's deadline or a first-seen learning span passes when
// the events say it does. After the last file, time moves far ahead once
// more, so an absent step that never came is reported.
package replay

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
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/firstseen"
	"github.com/patrolsec/patrol/poller/sequence"
	"github.com/patrolsec/patrol/state"
)

// Env is what a replay needs from the configuration.
type Env struct {
	// Detection returns a loaded detection by id (a sequence's steps).
	Detection func(id string) *detections.Detection
	// Searcher returns a searcher over one events file.
	Searcher func(path string) (poller.Searcher, error)
}

// quiet drops the detect job's logs: a replay reports through its result.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// afterLast is how far past the last file's events the final run happens.
const afterLast = 400 * 24 * time.Hour

// Run replays test case tc of detection d and checks its expectations.
func Run(ctx context.Context, env Env, d *detections.Detection, tc detections.TestCase) poller.TestResult {
	res := poller.TestResult{Detection: d.ID, Case: tc.Name, Want: tc.ExpectAlerts}
	alerts, perFile, err := Alerts(ctx, env, d, tc)
	if err != nil {
		res.Err = err
		return res
	}
	res.Alerts = len(alerts)
	if res.Alerts != tc.ExpectAlerts {
		res.Problems = append(res.Problems, fmt.Sprintf("got %d alert(s), want %d", res.Alerts, tc.ExpectAlerts))
	}
	if len(tc.PerFile) > 0 && !equal(perFile, tc.PerFile) {
		res.Problems = append(res.Problems, fmt.Sprintf("new alerts per events file: got %v, want %v", perFile, tc.PerFile))
	}
	for i, want := range tc.Expect {
		if !anyMatches(alerts, want) {
			res.Problems = append(res.Problems, fmt.Sprintf("expect #%d (%s) matches no alert", i+1, describe(want)))
		}
	}
	return res
}

// Alerts replays test case tc of detection d and returns the first result
// of each alert d opened, in order, and how many it opened after each file.
func Alerts(ctx context.Context, env Env, d *detections.Detection, tc detections.TestCase) ([]poller.Result, []int, error) {
	r, err := newRun(env, d)
	if err != nil {
		return nil, nil, err
	}
	defer r.close()
	perFile, err := r.replay(ctx, d.TestPaths(tc))
	if err != nil {
		return nil, nil, err
	}
	alerts, err := r.alerts(ctx)
	return alerts, perFile, err
}

// run is one replay: its state file, clock, tracker and jobs.
type run struct {
	env     Env
	d       *detections.Detection
	steps   []*detections.Detection // run before d, in order
	dir     string
	db      *state.DB
	now     time.Time
	tracker *tracker
}

func newRun(env Env, d *detections.Detection) (*run, error) {
	r := &run{env: env, d: d, tracker: &tracker{}}
	if d.Sequence != nil {
		for _, id := range d.Sequence.Steps {
			step := env.Detection(id)
			if step == nil {
				return nil, fmt.Errorf("step %q is not loaded", id)
			}
			r.steps = append(r.steps, step)
		}
	}
	dir, err := os.MkdirTemp("", "patrol-test-")
	if err != nil {
		return nil, err
	}
	r.dir = dir
	if r.db, err = state.OpenScratch(filepath.Join(dir, "state.db"), func() time.Time { return r.now }); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return r, nil
}

func (r *run) close() {
	r.db.Close()
	os.RemoveAll(r.dir)
}

// replay runs every file, then the final run; it returns the new alerts of
// d after each file (the final run's count with the last file's).
func (r *run) replay(ctx context.Context, files []string) ([]int, error) {
	per := make([]int, len(files))
	for i, f := range files {
		s, err := r.env.Searcher(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		latest, err := latestEvent(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if per[i], err = r.round(ctx, anyWindow{s}, latest); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	n, err := r.round(ctx, anyWindow{nothing{}}, r.now.Add(afterLast))
	if err != nil {
		return nil, err
	}
	if len(per) > 0 {
		per[len(per)-1] += n
	}
	return per, nil
}

// round runs the steps and the detection once, as of at (or just after the
// previous round), and returns how many alerts d opened.
func (r *run) round(ctx context.Context, s poller.Searcher, at time.Time) (int, error) {
	if !at.After(r.now) {
		at = r.now.Add(time.Second)
	}
	r.now = at
	// A test case checks what a detection finds, whatever its stage: a
	// shadow detection's alerts are counted as a live one's.
	j := &poller.Detector{
		Searcher: s, Tracker: r.tracker, Store: r.db, Label: "patrol", FirstRunAll: true, Logger: quiet, AllLive: true,
		Kinds: []poller.Kind{&sequence.Engine{Store: r.db, Logger: quiet}, &firstseen.Filter{Store: r.db, Searcher: s, Logger: quiet}},
		Now:   func() time.Time { return r.now },
	}
	before := r.tracker.count(r.d.ID)
	for _, d := range append(append([]*detections.Detection(nil), r.steps...), r.d) {
		now := *d
		now.Settle = 0    // the round is as of its last event
		now.MaxWindow = 0 // a round searches its file once, whatever its span
		if _, err := j.Run(ctx, &now); err != nil {
			return 0, err
		}
	}
	return r.tracker.count(r.d.ID) - before, nil
}

// alerts returns the first result of each alert d opened, in order.
func (r *run) alerts(ctx context.Context) ([]poller.Result, error) {
	var out []poller.Result
	for _, key := range r.tracker.keys(r.d.ID) {
		a, err := r.db.AlertByTicket(ctx, key)
		if err != nil || a == nil {
			return nil, fmt.Errorf("alert of %s: %v", key, err)
		}
		var res poller.Result
		if err := json.Unmarshal([]byte(a.Result), &res); err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, nil
}

// latestEvent is the time of the newest event in a file.
func latestEvent(ctx context.Context, s poller.Searcher) (time.Time, error) {
	var t time.Time
	err := s.Search(ctx, poller.Query{SPL: "* | stats max(_time) as _time", TimeMode: poller.EventTime}, func(r poller.Result) error {
		t = poller.ResultTime(r, time.Time{})
		return nil
	})
	return t, err
}

// anyWindow searches a whole file whatever the window: the round's clock
// follows the data, but an event is in the file it is in.
type anyWindow struct{ s poller.Searcher }

func (a anyWindow) Search(ctx context.Context, q poller.Query, emit func(poller.Result) error) error {
	q.Window = poller.Window{}
	q.TimeMode = poller.EventTime
	return a.s.Search(ctx, q, emit)
}

// nothing is the final round's empty data.
type nothing struct{}

func (nothing) Search(context.Context, poller.Query, func(poller.Result) error) error { return nil }

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func anyMatches(alerts []poller.Result, want map[string]string) bool {
	for _, r := range alerts {
		ok := true
		for f, v := range want {
			if got, _ := r.Lookup(f); got != v {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func describe(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, " ")
}
