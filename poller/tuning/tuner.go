package tuning

import (
	"sync"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
)

// Tuner is poller.Tuner over the detections' exceptions and a silences
// file. Both are compared with the result's own time (its _time), so a
// backtest over last month mutes what live patrol muted then, and events
// of a maintenance window indexed after it ended stay muted.
type Tuner struct {
	// Silences is the silences file; nil: no silences.
	Silences *SilenceFile

	mu       sync.Mutex
	compiled map[string]compiledDetection // by detection id
}

var _ poller.Tuner = (*Tuner)(nil)

type compiledDetection struct {
	d          *detections.Detection // the loaded detection they were compiled from
	exceptions []compiledException
}

type compiledException struct {
	key     string
	expires time.Time
	match   Match
}

// exceptions returns d's compiled exceptions, compiling them the first
// time this loaded detection is seen (a reload brings new pointers).
func (t *Tuner) exceptions(d *detections.Detection) []compiledException {
	if len(d.Exceptions) == 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.compiled[d.ID]; ok && c.d == d {
		return c.exceptions
	}
	c := compiledDetection{d: d}
	for _, e := range d.Exceptions {
		c.exceptions = append(c.exceptions, compiledException{key: e.Key(), expires: e.Expires, match: CompileMatch(e.Match)})
	}
	if t.compiled == nil {
		t.compiled = map[string]compiledDetection{}
	}
	t.compiled[d.ID] = c
	return c.exceptions
}

// Except returns the key of the first of d's exceptions that r matches
// and that had not expired at t.
func (t *Tuner) Except(d *detections.Detection, r poller.Result, at time.Time) (string, bool) {
	for _, e := range t.exceptions(d) {
		if at.Before(e.expires) && e.match.Matches(r) {
			return e.key, true
		}
	}
	return "", false
}

// Silence returns the id of the first silence in force at t that covers
// d and whose match r satisfies.
func (t *Tuner) Silence(d *detections.Detection, r poller.Result, at time.Time) (string, bool) {
	if t.Silences == nil {
		return "", false
	}
	for _, s := range t.Silences.Current() {
		if s.ActiveAt(at) && s.Covers(d.ID) && s.match.Matches(r) {
			return s.ID, true
		}
	}
	return "", false
}
