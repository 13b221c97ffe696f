// Package searchtest is a search backend held in memory, for tests of what
// sits on top of a Searcher: results are added per detection with an event
// time, and a search returns those of its detection whose time is in the
// queried window, as a backend searching event time does.
package searchtest

import (
	"context"
	"sync"
	"time"

	"github.com/patrolsec/patrol/poller"
)

// Searcher is an in-memory poller.Searcher.
type Searcher struct {
	mu      sync.Mutex
	results map[string][]timed
	queries []poller.Query
}

type timed struct {
	at time.Time
	r  poller.Result
}

// New returns an empty Searcher.
func New() *Searcher { return &Searcher{results: map[string][]timed{}} }

// Add makes detection's searches find r at time at (set as its _time).
func (s *Searcher) Add(detection string, at time.Time, r poller.Result) {
	c := poller.Result{"_time": {at.UTC().Format(time.RFC3339)}}
	for k, v := range r {
		c[k] = v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.results[detection] = append(s.results[detection], timed{at: at, r: c})
}

// Search implements poller.Searcher: the results of q.Detection in
// (q.Window.Start, q.Window.End], a zero bound being open.
func (s *Searcher) Search(_ context.Context, q poller.Query, emit func(poller.Result) error) error {
	s.mu.Lock()
	s.queries = append(s.queries, q)
	rs := append([]timed(nil), s.results[q.Detection]...)
	s.mu.Unlock()
	for _, t := range rs {
		if (!q.Window.Start.IsZero() && !t.at.After(q.Window.Start)) || (!q.Window.End.IsZero() && t.at.After(q.Window.End)) {
			continue
		}
		if err := emit(t.r); err != nil {
			return err
		}
	}
	return nil
}

// Queries returns the queries searched so far.
func (s *Searcher) Queries() []poller.Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]poller.Query(nil), s.queries...)
}
