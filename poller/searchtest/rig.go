package searchtest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/local"
	"github.com/patrolsec/patrol/state"
)

// Rig runs detections the way the daemon does, over the in-memory backend:
// the real detect job, state file and local ticket store, with a clock the
// test sets.
type Rig struct {
	T          testing.TB
	Now        time.Time
	DB         *state.DB
	Backend    *Searcher
	Detections map[string]*detections.Detection
	// Kinds returns the detection kinds the detect job uses, over the
	// rig's state and backend (opened again on Restart).
	Kinds func(db *state.DB, backend poller.Searcher) []poller.Kind
	// FailCreate makes the next ticket creation fail.
	FailCreate bool
	// FirstRunAll makes a detection's first window start at the beginning
	// of the data (search.local.first_run = "all").
	FirstRunAll bool
	path        string
}

// Quiet is a logger that drops everything.
var Quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// NewRig loads the detections in dir and opens a state file at now.
func NewRig(t testing.TB, dir string, now time.Time, kinds func(*state.DB, poller.Searcher) []poller.Kind) *Rig {
	t.Helper()
	ds, err := detections.Load(dir, detections.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := &Rig{T: t, Now: now, Backend: New(), Detections: map[string]*detections.Detection{}, Kinds: kinds,
		path: filepath.Join(t.TempDir(), "patrol.db")}
	for _, d := range ds {
		r.Detections[d.ID] = d
	}
	r.open()
	t.Cleanup(func() { r.DB.Close() })
	return r
}

func (r *Rig) open() {
	db, err := state.Open(r.path, func() time.Time { return r.Now })
	if err != nil {
		r.T.Fatal(err)
	}
	r.DB = db
}

// Restart closes the state file and opens it again, as a new process would.
func (r *Rig) Restart() {
	r.DB.Close()
	r.open()
}

type flakyTracker struct {
	*local.Tracker
	r *Rig
}

func (f flakyTracker) Create(ctx context.Context, t poller.NewTicket) (poller.Ticket, error) {
	if f.r.FailCreate {
		f.r.FailCreate = false
		return poller.Ticket{}, errors.New("tracker unavailable")
	}
	return f.Tracker.Create(ctx, t)
}

// Run runs detection id once, as of Now, and returns the alerts it opened:
// those whose tickets it made. (An alert recorded in a run whose ticket
// could not be made is opened by the next run, without searching again.)
func (r *Rig) Run(id string) (int, error) {
	d := r.Detections[id]
	if d == nil {
		r.T.Fatalf("no detection %q", id)
	}
	j := &poller.Detector{
		Searcher: r.Backend, Store: r.DB, Label: "patrol", FirstRunAll: r.FirstRunAll,
		Tracker: flakyTracker{Tracker: &local.Tracker{DB: r.DB, Label: "patrol"}, r: r},
		Kinds:   r.Kinds(r.DB, r.Backend),
		Now:     func() time.Time { return r.Now }, Logger: Quiet,
	}
	st, err := j.Run(context.Background(), d)
	return st.Tickets, err
}

// MustRun is Run, failing the test on an error.
func (r *Rig) MustRun(id string) int {
	r.T.Helper()
	n, err := r.Run(id)
	if err != nil {
		r.T.Fatalf("run %s: %v", id, err)
	}
	return n
}
