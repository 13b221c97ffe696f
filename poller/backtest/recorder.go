package backtest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/patrolsec/patrol/poller"
)

// recorder is the tracker of a backtest: it writes down the tickets it is
// asked to create (numbering them BACKTEST-1, ...) and nothing else. It
// finds nothing, so every alert is created once, as on a fresh state.
type recorder struct {
	mu      sync.Mutex
	created []poller.NewTicket
	byDet   map[string][]string
}

var _ poller.Tracker = (*recorder)(nil)

func (r *recorder) Create(ctx context.Context, nt poller.NewTicket) (poller.Ticket, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.created = append(r.created, nt)
	key := fmt.Sprintf("BACKTEST-%d", len(r.created))
	if r.byDet == nil {
		r.byDet = map[string][]string{}
	}
	r.byDet[nt.Detection] = append(r.byDet[nt.Detection], key)
	return poller.Ticket{ID: key, Key: key, Summary: nt.Summary, Status: "Open", Labels: nt.Labels}, nil
}

// keys returns the keys of the tickets created for a detection, in order.
func (r *recorder) keys(detection string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.byDet[detection]...)
}

func (r *recorder) Find(context.Context, string) ([]poller.Ticket, error) { return nil, nil }
func (r *recorder) Poll(context.Context, time.Time) ([]poller.Ticket, error) {
	return nil, nil
}
func (r *recorder) Get(_ context.Context, key string) (poller.Ticket, error) {
	return poller.Ticket{Key: key}, nil
}
func (r *recorder) Comment(context.Context, string, poller.Message) error { return nil }
func (r *recorder) Transition(context.Context, string, string) error      { return nil }
func (r *recorder) Approvals(context.Context, string, string) ([]poller.Approval, error) {
	return nil, nil
}
func (r *recorder) SetRoute(context.Context, string, poller.Route) error { return nil }
