// Package slots hands out a fixed number of search slots by need rather than
// by arrival. A detection waiting for a slot names how far behind it is (its
// checkpoint); when a slot frees, the waiter furthest behind gets it. A
// detection that has just searched has a fresh checkpoint and so queues
// behind every detection still waiting: no detection waits more than one
// round behind the others, however the schedules happen to fire.
package slots

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// Gate grants at most Size slots at once. It is safe for concurrent use.
type Gate struct {
	size int
	now  func() time.Time

	mu        sync.Mutex
	free      int
	queue     waitQueue
	seq       uint64            // arrival order
	grantSeq  uint64            // grant order
	lastGrant map[string]uint64 // per key, for ties
	waiting   map[string]int    // per key, waiters queued
	grants    int64
	busy      time.Duration // slot time of released grants
}

// New returns a gate with n slots (at least one). now is the clock for the
// slot time reported by Totals (nil: time.Now).
func New(n int, now func() time.Time) *Gate {
	if n < 1 {
		n = 1
	}
	if now == nil {
		now = time.Now
	}
	return &Gate{size: n, free: n, now: now, lastGrant: map[string]uint64{}, waiting: map[string]int{}}
}

// Size is the number of slots.
func (g *Gate) Size() int { return g.size }

type waiter struct {
	key     string
	need    time.Time
	last    uint64 // the key's previous grant (0: never)
	seq     uint64
	index   int
	granted bool
	start   time.Time // when granted
	ready   chan struct{}
}

// Acquire waits for a slot for key, or until ctx ends. need orders the
// waiters: the oldest need goes first; among equal needs, the key granted
// least recently, then the first to arrive. release returns the slot; it
// may be called more than once.
func (g *Gate) Acquire(ctx context.Context, key string, need time.Time) (release func(), err error) {
	g.mu.Lock()
	if g.free > 0 && g.queue.Len() == 0 {
		g.free--
		start := g.grant(key)
		g.mu.Unlock()
		return g.releaser(start), nil
	}
	g.seq++
	w := &waiter{key: key, need: need, last: g.lastGrant[key], seq: g.seq, ready: make(chan struct{})}
	heap.Push(&g.queue, w)
	g.waiting[key]++
	g.mu.Unlock()

	select {
	case <-w.ready:
		return g.releaser(w.start), nil
	case <-ctx.Done():
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if w.granted {
		// Granted as ctx ended: hand the slot on rather than lose it.
		g.handOn()
		return nil, ctx.Err()
	}
	heap.Remove(&g.queue, w.index)
	g.unwait(key)
	return nil, ctx.Err()
}

// Waiting reports whether a caller is queued for a slot for key.
func (g *Gate) Waiting(key string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiting[key] > 0
}

// Queued is the number of callers waiting for a slot.
func (g *Gate) Queued() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.queue.Len()
}

// Totals returns the grants made so far and the slot time of the ones
// already released: their difference over a span is the searches done and
// the time they took.
func (g *Gate) Totals() (grants int64, busy time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.grants, g.busy
}

// grant records a grant to key; g.mu is held.
func (g *Gate) grant(key string) time.Time {
	g.grantSeq++
	g.lastGrant[key] = g.grantSeq
	g.grants++
	return g.now()
}

func (g *Gate) unwait(key string) {
	if g.waiting[key]--; g.waiting[key] <= 0 {
		delete(g.waiting, key)
	}
}

// handOn gives a freed slot to the neediest waiter, or frees it; g.mu is held.
func (g *Gate) handOn() {
	if g.queue.Len() == 0 {
		g.free++
		return
	}
	w := heap.Pop(&g.queue).(*waiter)
	g.unwait(w.key)
	w.start = g.grant(w.key)
	w.granted = true
	close(w.ready)
}

func (g *Gate) releaser(start time.Time) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.busy += g.now().Sub(start)
			g.handOn()
		})
	}
}

// waitQueue is a heap of waiters, neediest first.
type waitQueue []*waiter

func (q waitQueue) Len() int { return len(q) }

func (q waitQueue) Less(i, j int) bool {
	a, b := q[i], q[j]
	if !a.need.Equal(b.need) {
		return a.need.Before(b.need)
	}
	if a.last != b.last {
		return a.last < b.last
	}
	return a.seq < b.seq
}

func (q waitQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index = i
	q[j].index = j
}

func (q *waitQueue) Push(x any) {
	w := x.(*waiter)
	w.index = len(*q)
	*q = append(*q, w)
}

func (q *waitQueue) Pop() any {
	old := *q
	n := len(old)
	w := old[n-1]
	old[n-1] = nil
	*q = old[:n-1]
	return w
}
