package firstseen

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/state"
)

// batch decides results a few hundred at a time: one read of the values
// they carry, one write of what changed, then the new ones are emitted.
type batch struct {
	f          *Filter
	d          *detections.Detection
	window     time.Time // start of the window being searched
	learnUntil time.Time // results before it are learned, not emitted
	backfill   bool      // every result is learned
	emit       func(poller.Result) error

	items []item
}

type item struct {
	key, value string
	at         time.Time
	r          poller.Result
}

func (b *batch) add(ctx context.Context, r poller.Result, at time.Time) error {
	fs := b.d.FirstSeen
	vals := make([]string, len(fs.Fields))
	for i, f := range fs.Fields {
		v, _ := r.Lookup(f)
		vals[i] = v
	}
	b.items = append(b.items, item{key: poller.Fingerprint(b.d.ID, fs.Fields, r), value: strings.Join(vals, " | "), at: at, r: r})
	if len(b.items) >= batchSize {
		return b.flush(ctx)
	}
	return nil
}

// flush decides the batched results in order. A combination is new when it
// was never seen, or not within the history; it is also new again for every
// result of the very window that first found it new, so a retried window
// emits what its failed attempt emitted.
func (b *batch) flush(ctx context.Context) error {
	if len(b.items) == 0 {
		return nil
	}
	items := b.items
	b.items = nil
	keys := make([]string, 0, len(items))
	for _, it := range items {
		keys = append(keys, it.key)
	}
	seen, err := b.f.Store.SeenValues(ctx, b.d.ID, keys)
	if err != nil {
		return fmt.Errorf("first_seen %s: read values: %w", b.d.ID, err)
	}
	history := b.d.FirstSeen.History
	changed := map[string]bool{}
	var out []poller.Result
	for _, it := range items {
		v, ok := seen[it.key]
		switch {
		case b.backfill:
			if !ok {
				v = state.SeenValue{Key: it.key, Value: it.value, First: it.at, Last: it.at, Learned: true}
			}
		case !ok || v.Last.Before(it.at.Add(-history)):
			learned := it.at.Before(b.learnUntil)
			v = state.SeenValue{Key: it.key, Value: it.value, First: it.at, Last: it.at, Window: b.window, Learned: learned}
			if !learned {
				out = append(out, it.r)
			}
		case !v.Learned && v.Window.Equal(b.window):
			out = append(out, it.r)
		}
		if it.at.After(v.Last) {
			v.Last = it.at
		}
		if it.at.Before(v.First) {
			v.First = it.at
		}
		seen[it.key] = v
		changed[it.key] = true
	}
	vs := make([]state.SeenValue, 0, len(changed))
	for k := range changed {
		vs = append(vs, seen[k])
	}
	if err := b.f.Store.PutSeenValues(ctx, b.d.ID, vs); err != nil {
		return fmt.Errorf("first_seen %s: record values: %w", b.d.ID, err)
	}
	for _, r := range out {
		if err := b.emit(r); err != nil {
			return err
		}
	}
	return nil
}
