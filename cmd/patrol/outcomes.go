package main

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// outcomes counts remediation outcomes (succeeded, failed, unverified,
// refused, dry_run, deferred, held, cancelled, interrupted) over the
// process's life. Under once, most remediations run when the detect job
// hands a new ticket over, before the respond pass: its line reports them
// all.
type outcomes struct {
	mu sync.Mutex
	n  map[string]int
}

func (o *outcomes) add(outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n == nil {
		o.n = map[string]int{}
	}
	o.n[outcome]++
}

// failed counts remediations that did not end as planned and need a
// person: failed, applied but not verified, interrupted.
func (o *outcomes) failed() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n["failed"] + o.n["unverified"] + o.n["interrupted"]
}

// String lists the counts, "dry_run=8 failed=1", in a fixed order.
func (o *outcomes) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	names := make([]string, 0, len(o.n))
	for k := range o.n {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s=%d", k, o.n[k])
	}
	return strings.Join(parts, " ")
}

// onAction hears each remediation outcome: for the metrics and for once.
func (a *app) onAction(action, outcome string) {
	a.metrics.Action(action, outcome)
	a.outcomes.add(outcome)
}
