package poller

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/patrolsec/patrol/state"
)

// An attempt's start is on disk before Apply runs, but Apply first
// connects, assumes a role and snapshots the target: a kill there leaves an
// attempt that changed nothing. An Action that marks its sends
// (SendMarker) calls Sending right before its first call that changes
// anything, and the respond job records that moment, with the snapshot,
// on disk before the call goes out. So after a kill the next pass knows:
// no mark, the change was never sent, and when the read-back shows it not
// in place it is applied now, for the first time; a mark, the change may
// have been made, and the read-back decides (in place: done, undoable from
// the recorded snapshot; not in place: a person takes over). Nothing is
// ever sent twice.

// SendMarker is an Action whose Apply calls Sending right before its first
// call that changes anything.
type SendMarker interface {
	MarksSends() bool
}

type sendingKey struct{}

// Sending says that Apply is about to send the call that changes its
// target, with the snapshot of the target as it was. It returns once the
// respond job has recorded both on disk; an error means the change must
// not be sent.
func Sending(ctx context.Context, snapshot string) error {
	if f, ok := ctx.Value(sendingKey{}).(func(string) error); ok {
		return f(snapshot)
	}
	return nil
}

// sendMark is what the respond job records of an attempt's send.
type sendMark struct {
	At       time.Time `json:"at"`
	Snapshot string    `json:"snapshot,omitempty"`
}

func sendMarkKey(attempt string) string { return "sent:" + attempt }

// withSending returns ctx with the hook that records attempt's send.
func (r *Responder) withSending(ctx context.Context, key, attempt string) context.Context {
	return context.WithValue(ctx, sendingKey{}, func(snapshot string) error {
		b, err := json.Marshal(sendMark{At: r.now(), Snapshot: snapshot})
		if err != nil {
			return err
		}
		if err := r.record(ctx, key, change{Change: state.Change{Meta: map[string]string{sendMarkKey(attempt): string(b)}, Durable: true}}); err != nil {
			return fmt.Errorf("record that the change is sent (not sending it): %w", err)
		}
		return nil
	})
}

// sentMark returns attempt's send mark, or nil when its change was never
// sent (or the action does not mark its sends: see marksSends).
func (r *Responder) sentMark(ctx context.Context, attempt string) (*sendMark, error) {
	v, err := r.Store.Meta(ctx, sendMarkKey(attempt))
	if err != nil || v == "" {
		return nil, err
	}
	var m sendMark
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		return nil, fmt.Errorf("send mark of %s: %w", attempt, err)
	}
	return &m, nil
}

func marksSends(act Action) bool {
	m, ok := act.(SendMarker)
	return ok && m.MarksSends()
}
