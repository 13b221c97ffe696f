package slots

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

type req = struct {
	key  string
	need time.Time
}

// queue starts one waiter per req, in the given order, each queued before
// the next starts. A waiter that gets its slot sends its key on granted,
// then holds the slot until the test sends on next.
func queue(t *testing.T, g *Gate, reqs ...req) (granted chan string, next chan struct{}) {
	t.Helper()
	granted, next = make(chan string), make(chan struct{})
	for _, r := range reqs {
		before := g.Queued()
		go func() {
			rel, err := g.Acquire(context.Background(), r.key, r.need)
			if err != nil {
				t.Error(err)
				return
			}
			granted <- r.key
			<-next
			rel()
		}()
		waitFor(t, func() bool { return g.Queued() == before+1 })
	}
	return granted, next
}

// waitFor polls a condition (bounded, never a fixed sleep).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestGrantsByNeedThenLeastRecentThenArrival(t *testing.T) {
	g := New(1, nil)
	// a and b have searched before, a longer ago than b.
	for _, k := range []string{"a", "b"} {
		rel, _ := g.Acquire(context.Background(), k, t0)
		rel()
	}
	hold, _ := g.Acquire(context.Background(), "busy", t0)
	// Arrival order is not need order.
	granted, next := queue(t, g,
		req{"fresh", t0.Add(time.Minute)},
		req{"b", t0},
		req{"new", t0},
		req{"a", t0},
		req{"behind", t0.Add(-time.Minute)},
		req{"never-ran", time.Time{}},
	)
	if !g.Waiting("fresh") || g.Waiting("busy") {
		t.Error("Waiting does not report the queued keys")
	}
	hold()
	want := []string{"never-ran", "behind", "new", "a", "b", "fresh"}
	for i, w := range want {
		if got := <-granted; got != w {
			t.Fatalf("grant %d = %s, want order %v", i, got, want)
		}
		next <- struct{}{}
	}
	waitFor(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.free == 1 })
	if n, _ := g.Totals(); n != 2+1+6 {
		t.Errorf("grants = %d", n)
	}
	if g.Queued() != 0 || g.Waiting("fresh") {
		t.Error("queue not empty")
	}
}

func TestCancelledWaiterLeavesTheQueue(t *testing.T) {
	g := New(1, nil)
	hold, _ := g.Acquire(context.Background(), "busy", t0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := g.Acquire(ctx, "quitter", t0.Add(-time.Hour))
		done <- err
	}()
	waitFor(t, func() bool { return g.Waiting("quitter") })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if g.Waiting("quitter") || g.Queued() != 0 {
		t.Error("cancelled waiter still queued")
	}
	hold()
	hold() // a second release is a no-op
	rel, err := g.Acquire(context.Background(), "next", t0)
	if err != nil || g.free != 0 {
		t.Fatalf("slot lost or doubled: err %v, free %d", err, g.free)
	}
	rel()
	if g.free != 1 {
		t.Errorf("free = %d after all released", g.free)
	}
}

// A grant that races with the waiter's cancellation is handed on, never lost.
func TestGrantRacingCancelIsHandedOn(t *testing.T) {
	for range 200 {
		g := New(1, nil)
		hold, _ := g.Acquire(context.Background(), "busy", t0)
		ctx, cancel := context.WithCancel(context.Background())
		got := make(chan func(), 1)
		go func() {
			rel, err := g.Acquire(ctx, "racer", t0)
			if err == nil {
				got <- rel
				return
			}
			got <- nil
		}()
		waitFor(t, func() bool { return g.Waiting("racer") })
		go cancel()
		hold()
		if rel := <-got; rel != nil {
			rel()
		}
		if g.free != 1 || g.Queued() != 0 {
			t.Fatalf("free %d, queued %d", g.free, g.Queued())
		}
	}
}

func TestTotalsCountSlotTime(t *testing.T) {
	now := t0
	var mu sync.Mutex
	g := New(2, func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	a, _ := g.Acquire(context.Background(), "a", t0)
	b, _ := g.Acquire(context.Background(), "b", t0)
	mu.Lock()
	now = now.Add(1500 * time.Millisecond)
	mu.Unlock()
	a()
	b()
	n, busy := g.Totals()
	if n != 2 || busy != 3*time.Second || g.Size() != 2 {
		t.Errorf("grants %d busy %s size %d", n, busy, g.Size())
	}
}
