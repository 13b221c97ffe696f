package replay

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/patrolsec/patrol/poller"
)

// tracker is the replay's ticket system: it numbers tickets (TEST-1, ...)
// and remembers which detection made each; nothing else happens to them.
type tracker struct {
	mu      sync.Mutex
	tickets []poller.NewTicket
}

func (t *tracker) Create(_ context.Context, nt poller.NewTicket) (poller.Ticket, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.tickets = append(t.tickets, nt)
	key := fmt.Sprintf("TEST-%d", len(t.tickets))
	return poller.Ticket{ID: key, Key: key, Summary: nt.Summary, Status: "Open", Labels: nt.Labels, Created: time.Now()}, nil
}

// count is how many tickets detection made.
func (t *tracker) count(detection string) int { return len(t.keys(detection)) }

// keys are the keys of detection's tickets, in order.
func (t *tracker) keys(detection string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for i, nt := range t.tickets {
		if nt.Detection == detection {
			out = append(out, fmt.Sprintf("TEST-%d", i+1))
		}
	}
	return out
}

func (t *tracker) Find(context.Context, string) ([]poller.Ticket, error) { return nil, nil }

func (t *tracker) Poll(context.Context, time.Time) ([]poller.Ticket, error) { return nil, nil }

func (t *tracker) Get(_ context.Context, key string) (poller.Ticket, error) {
	return poller.Ticket{Key: key}, nil
}

func (t *tracker) Comment(context.Context, string, poller.Message) error { return nil }

func (t *tracker) Transition(context.Context, string, string) error { return nil }

func (t *tracker) Approvals(context.Context, string, string) ([]poller.Approval, error) {
	return nil, nil
}

func (t *tracker) SetRoute(context.Context, string, poller.Route) error { return nil }
