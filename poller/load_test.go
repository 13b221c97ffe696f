package poller

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller/slots"
	"github.com/patrolsec/patrol/state"
)

// slowSearcher is a search backend whose every search takes `took` on the
// simulation's clock: a search blocks until the simulation has moved the
// clock past its end. It records the windows searched per detection.
type slowSearcher struct {
	clock *clock
	took  time.Duration

	mu       sync.Mutex
	inFlight []*simSearch
	windows  map[string][]Window
}

type simSearch struct {
	end  time.Time
	done chan struct{}
}

func (s *slowSearcher) Search(ctx context.Context, q Query, emit func(Result) error) error {
	ss := &simSearch{end: s.clock.Now().Add(s.took), done: make(chan struct{})}
	s.mu.Lock()
	s.inFlight = append(s.inFlight, ss)
	s.mu.Unlock()
	select {
	case <-ss.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	s.windows[q.Detection] = append(s.windows[q.Detection], q.Window)
	s.mu.Unlock()
	return nil
}

// searching is the number of searches in flight.
func (s *slowSearcher) searching() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.inFlight)
}

// next is the end of the earliest search in flight (zero: none).
func (s *slowSearcher) next() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var t time.Time
	for _, ss := range s.inFlight {
		if t.IsZero() || ss.end.Before(t) {
			t = ss.end
		}
	}
	return t
}

// finish ends the searches due by now.
func (s *slowSearcher) finish(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keep := s.inFlight[:0]
	for _, ss := range s.inFlight {
		if ss.end.After(now) {
			keep = append(keep, ss)
			continue
		}
		close(ss.done)
	}
	s.inFlight = keep
}

// loadSim runs n detections on a one-minute schedule through the real
// scheduler wrapper (skip, recover), the real slot gate and the real detect
// job over a real state file, with searches that take `took` on a fake
// clock. Time only moves when every run is blocked (waiting for a slot or
// searching) or done, so the outcome does not depend on the machine.
type loadSim struct {
	t        *testing.T
	clock    *clock
	db       *state.DB
	search   *slowSearcher
	gate     *slots.Gate
	sched    *Scheduler
	load     *Load
	tracker  *fakeTracker
	dets     []*detections.Detection
	fired    atomic.Int64
	returned atomic.Int64
	skips    sync.Map // detection id → *atomic.Int64
	settle   time.Duration

	start   time.Time
	maxLag  map[string]time.Duration // after the detection's first run
	lastCP  map[string]time.Time
	movedAt map[string]time.Time     // when the checkpoint last moved
	maxGap  map[string]time.Duration // longest span without a completed run
	rounds  []LoadRound
}

func newLoadSim(t *testing.T, n, slotCount int, took time.Duration) *loadSim {
	t.Helper()
	c := newClock()
	db, err := state.Open(filepath.Join(t.TempDir(), "patrol.db"), c.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := &loadSim{t: t, clock: c, db: db, settle: time.Minute, tracker: newTracker(c),
		search: &slowSearcher{clock: c, took: took, windows: map[string][]Window{}},
		gate:   slots.New(slotCount, c.Now), sched: NewScheduler(quiet),
		start: c.Now(), maxLag: map[string]time.Duration{}, lastCP: map[string]time.Time{}, movedAt: map[string]time.Time{},
		maxGap: map[string]time.Duration{}}
	health := &Health{Tracker: s.tracker, Store: db, Label: "patrol", Now: c.Now, Logger: quiet}
	s.load = &Load{Health: health, Searches: s.gate.Totals, Slots: slotCount, SlotsKey: "search.splunk.max_concurrent", Rounds: 3, Logger: quiet}
	j := &Detector{Searcher: s.search, Tracker: s.tracker, Store: db, Label: "patrol", MaxWindow: 6 * time.Hour,
		Slots: s.gate, Now: c.Now, Logger: quiet}
	s.sched.OnSkip = func(name string) {
		id := strings.TrimPrefix(name, "detect:")
		v, _ := s.skips.LoadOrStore(id, &atomic.Int64{})
		v.(*atomic.Int64).Add(1)
		s.load.Skipped(s.gate.Waiting(id))
	}
	for i := range n {
		d := testDetection(t, "")
		d.ID = fmt.Sprintf("det-%03d", i)
		d.Settle, d.Lookback = s.settle, time.Hour
		s.dets = append(s.dets, d)
		s.sched.Add("detect:"+d.ID, cron.Every(time.Minute), time.Hour, func(ctx context.Context) error {
			s.load.Ran()
			_, err := j.Run(ctx, d)
			return err
		})
	}
	return s
}

// fire runs every detection's scheduled job, as cron does each minute.
func (s *loadSim) fire() {
	for _, d := range s.dets {
		job := s.sched.c.Entry(s.sched.ids["detect:"+d.ID]).WrappedJob
		s.fired.Add(1)
		go func() {
			defer s.returned.Add(1)
			job.Run()
		}()
	}
}

// settled waits until every run is waiting for a slot, searching, or done.
func (s *loadSim) settled() {
	s.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for s.returned.Load()+int64(s.gate.Queued())+int64(s.search.searching()) != s.fired.Load() {
		if time.Now().After(deadline) {
			s.t.Fatalf("runs never settled: fired %d, returned %d, queued %d, searching %d",
				s.fired.Load(), s.returned.Load(), s.gate.Queued(), s.search.searching())
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// observe records every detection's lag now and the spans between the
// moves of its checkpoint (completed runs).
func (s *loadSim) observe() {
	now := s.clock.Now()
	cps, err := s.db.Checkpoints(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	for _, d := range s.dets {
		since, ok := s.movedAt[d.ID]
		if !ok {
			since = s.start
		}
		s.maxGap[d.ID] = max(s.maxGap[d.ID], now.Sub(since))
		cp, ok := cps[d.ID]
		if !ok {
			continue
		}
		s.maxLag[d.ID] = max(s.maxLag[d.ID], now.Sub(cp))
		if !cp.Equal(s.lastCP[d.ID]) {
			s.lastCP[d.ID], s.movedAt[d.ID] = cp, now
		}
	}
}

// run simulates the given span, firing every minute from the start.
func (s *loadSim) run(span time.Duration) {
	s.t.Helper()
	start := s.clock.Now()
	nextFire := start
	for {
		s.settled()
		now := s.clock.Now()
		s.search.finish(now) // searches due now end; their runs go on
		s.settled()
		s.observe()
		if !nextFire.After(now) {
			if now.After(start) {
				r, err := s.load.Round(context.Background())
				if err != nil {
					s.t.Fatal(err)
				}
				s.rounds = append(s.rounds, r)
			}
			if now.Sub(start) >= span {
				return
			}
			s.fire()
			nextFire = nextFire.Add(time.Minute)
			continue
		}
		next := nextFire
		if t := s.search.next(); !t.IsZero() && t.Before(next) {
			next = t
		}
		s.clock.Add(next.Sub(now))
	}
}

// stop cancels what is still queued or searching and waits for it.
func (s *loadSim) stop(cancel context.CancelCauseFunc) {
	cancel(fmt.Errorf("patrol is stopping"))
	deadline := time.Now().Add(time.Minute)
	for s.returned.Load() != s.fired.Load() {
		if time.Now().After(deadline) {
			s.t.Fatal("runs did not stop")
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// noHoles checks that each detection's searched windows follow one another
// and end at its checkpoint.
func (s *loadSim) noHoles() {
	s.t.Helper()
	cps, _ := s.db.Checkpoints(context.Background())
	for _, d := range s.dets {
		ws := s.search.windows[d.ID]
		if len(ws) == 0 {
			s.t.Errorf("%s never searched", d.ID)
			continue
		}
		for i := 1; i < len(ws); i++ {
			if !ws[i].Start.Equal(ws[i-1].End) {
				s.t.Errorf("%s: hole or overlap between %v and %v", d.ID, ws[i-1], ws[i])
			}
		}
		if last := ws[len(ws)-1].End; !last.Equal(cps[d.ID]) {
			s.t.Errorf("%s: checkpoint %v, last window ends %v", d.ID, cps[d.ID], last)
		}
	}
}

func (s *loadSim) skipped(id string) int64 {
	v, ok := s.skips.Load(id)
	if !ok {
		return 0
	}
	return v.(*atomic.Int64).Load()
}

// Within capacity (60 detections a minute, 1.5 s searches, 2 slots: 45 s of
// searching a minute), a run's window ends when it gets its slot and the
// slots go to the detections furthest behind, so no detection's lag ever
// exceeds a minute + settle + 15 s, and nothing is skipped.
func TestLoadWithinCapacityKeepsLagBounded(t *testing.T) {
	s := newLoadSim(t, 60, 2, 1500*time.Millisecond)
	ctx, cancel := context.WithCancelCause(context.Background())
	s.sched.base = ctx
	s.run(6 * time.Minute)
	bound := time.Minute + s.settle + 15*time.Second
	var worst time.Duration
	for _, d := range s.dets {
		worst = max(worst, s.maxLag[d.ID])
		if s.maxLag[d.ID] > bound {
			t.Errorf("%s: lag reached %s, bound %s", d.ID, s.maxLag[d.ID], bound)
		}
		if n := s.skipped(d.ID); n != 0 {
			t.Errorf("%s: %d runs skipped within capacity", d.ID, n)
		}
	}
	t.Logf("max lag %s (bound %s)", worst, bound)
	for _, r := range s.rounds {
		if r.Overloaded {
			t.Errorf("round judged overloaded within capacity: %+v", r)
		}
	}
	s.stop(cancel)
	s.noHoles()
}

// Over capacity (200 detections a minute, 150 s of searching a minute),
// every detection still runs at least once every 3 minutes, every skip is
// attributed to its detection, nothing is missed, and after three
// overloaded minutes one self-alert gives the figures and the remedies.
func TestLoadOverCapacityStarvesNoDetection(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates 200 detections for 8 minutes")
	}
	s := newLoadSim(t, 200, 2, 1500*time.Millisecond)
	ctx, cancel := context.WithCancelCause(context.Background())
	s.sched.base = ctx
	s.run(8 * time.Minute)
	var worst time.Duration
	var skipped int64
	for _, d := range s.dets {
		worst = max(worst, s.maxGap[d.ID])
		if s.maxGap[d.ID] > 3*time.Minute {
			t.Errorf("%s: %s without a completed run", d.ID, s.maxGap[d.ID])
		}
		skipped += s.skipped(d.ID)
	}
	var starved int64
	for _, r := range s.rounds {
		starved += r.Skipped
	}
	if skipped == 0 || skipped != starved {
		t.Errorf("skips attributed to detections %d, skips seen by the load watch %d", skipped, starved)
	}
	t.Logf("longest span without a run %s; %d skipped runs (%.1f per detection)", worst, skipped, float64(skipped)/200)
	if s.tracker.count() != 1 {
		t.Fatalf("self-alerts = %d, want one", s.tracker.count())
	}
	alert := s.tracker.ticket("SEC-1")
	if want := "detections need about 200 searches a minute but only 80 run (2 search slots)"; !strings.Contains(alert.Summary, want) {
		t.Errorf("self-alert summary %q, want %q", alert.Summary, want)
	}
	s.stop(cancel)
	s.noHoles()
}
