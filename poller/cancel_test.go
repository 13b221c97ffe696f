package poller

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller/slots"
)

var errStopping = errors.New("patrol is stopping")

// A run stopped by a clean stop (its context cancelled) is recorded as
// cancelled with the reason, is not a failure, raises no self-alert and
// leaves the checkpoint; a run that times out is a failure.
func TestCancelledRunIsNotAFailure(t *testing.T) {
	tests := []struct {
		name string
		// prepare makes the run block where the case says and returns the
		// run's context and the function that stops it.
		prepare       func(h *harness, started chan<- struct{}) (context.Context, func())
		wantCancelled bool
		wantText      string
	}{
		{"cancelled while searching", func(h *harness, started chan<- struct{}) (context.Context, func()) {
			h.detector.Searcher = searcherFunc(func(ctx context.Context, q Query, emit func(Result) error) error {
				close(started)
				<-ctx.Done()
				return ctx.Err()
			})
			ctx, cancel := context.WithCancelCause(context.Background())
			return ctx, func() { cancel(errStopping) }
		}, true, "ct-stop: cancelled: patrol is stopping"},
		{"cancelled while waiting for a search slot", func(h *harness, started chan<- struct{}) (context.Context, func()) {
			waitForSlot(h, started)
			ctx, cancel := context.WithCancelCause(context.Background())
			return ctx, func() { cancel(errStopping) }
		}, true, "ct-stop: before its search: cancelled: patrol is stopping"},
		{"timed out waiting for a search slot", func(h *harness, started chan<- struct{}) (context.Context, func()) {
			waitForSlot(h, started)
			ctx := &expiring{Context: context.Background(), done: make(chan struct{})}
			return ctx, ctx.expire
		}, false, "ct-stop: waiting for a search slot (max_concurrent): context deadline exceeded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "")
			h.detector.Health = &Health{Tracker: h.tracker, Store: h.db, Label: "patrol", FailuresBeforeAlert: 1,
				Runs: h.db.FailuresInRow, Now: h.clock.Now, Logger: h.detector.Logger}
			cp := h.clock.Now().Add(-time.Hour)
			h.db.CompleteWindow(context.Background(), h.det.ID, cp)
			started := make(chan struct{})
			ctx, stop := tc.prepare(h, started)
			done := make(chan error)
			go func() {
				_, err := h.detector.Run(ctx, h.det)
				done <- err
			}()
			<-started
			stop()
			err := <-done
			if errors.Is(err, ErrCancelled) != tc.wantCancelled || err.Error() != tc.wantText {
				t.Fatalf("err = %v, want %q (cancelled %v)", err, tc.wantText, tc.wantCancelled)
			}
			runs, _ := h.db.LastRuns(context.Background())
			if len(runs) != 1 || runs[0].LastCancelled != tc.wantCancelled || runs[0].LastError != tc.wantText {
				t.Fatalf("run history: %+v", runs)
			}
			failures := 1
			if tc.wantCancelled {
				failures = 0
			}
			if runs[0].FailuresInRow != failures {
				t.Errorf("failures in a row = %d, want %d", runs[0].FailuresInRow, failures)
			}
			if got := h.checkpoint(); !got.Equal(cp) {
				t.Errorf("checkpoint moved to %v", got)
			}
			if tc.wantCancelled && h.tracker.count() != 0 {
				t.Error("a cancelled run raised a self-alert")
			}
		})
	}
}

// waitForSlot gives the detector a gate whose one slot is taken for good,
// and closes started once the run waits for it.
func waitForSlot(h *harness, started chan<- struct{}) {
	gate := slots.New(1, nil)
	gate.Acquire(context.Background(), "other", time.Time{})
	h.detector.Slots = gate
	go func() {
		for !gate.Waiting(h.det.ID) {
			time.Sleep(time.Millisecond)
		}
		close(started)
	}()
}

// expiring is a context whose deadline passes when the test says so.
type expiring struct {
	context.Context
	mu   sync.Mutex
	err  error
	done chan struct{}
}

func (e *expiring) Done() <-chan struct{} { return e.done }
func (e *expiring) Err() error            { e.mu.Lock(); defer e.mu.Unlock(); return e.err }
func (e *expiring) expire() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.err = context.DeadlineExceeded
	close(e.done)
}

// blockingPoll is a tracker whose poll waits until its context ends.
type blockingPoll struct {
	*fakeTracker
	started chan struct{}
}

func (b blockingPoll) Poll(ctx context.Context, since time.Time) ([]Ticket, error) {
	close(b.started)
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestCancelledRespondPassIsNotAFailure(t *testing.T) {
	h := newHarness(t, "")
	b := blockingPoll{h.tracker, make(chan struct{})}
	h.resp.Tracker = b
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan error)
	go func() {
		_, err := h.resp.Poll(ctx)
		done <- err
	}()
	<-b.started
	cancel(errStopping)
	if err := <-done; !errors.Is(err, ErrCancelled) || !strings.Contains(err.Error(), "patrol is stopping") {
		t.Fatalf("err = %v", err)
	}
	if n, _ := h.db.FailuresInRow(context.Background(), "respond", ""); n != 0 {
		t.Errorf("failures in a row = %d", n)
	}
	runs, _ := h.db.LastRuns(context.Background())
	if len(runs) != 1 || !runs[0].LastCancelled {
		t.Errorf("run history: %+v", runs)
	}
}
