package s3

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// listingReuse is how long a folder's listing may serve other searches.
// Detections that fire on the same tick (every */5 schedule at :05) then
// list each folder once between them instead of once each.
const listingReuse = time.Minute

// folderListing is one folder's children and objects, and when the listing
// started.
type folderListing struct {
	prefixes []string
	objects  []types.Object
}

// listings shares recent folder listings between searches. A listing that
// started at c shows every object listable at c, so it serves a search
// whose arrival window ends at or before c as well as a new listing would
// (objects listable only later are what a detect window's overlap is for,
// however fresh its listing). A search whose window ends later lists anew.
type listings struct {
	mu      sync.Mutex
	reuse   time.Duration
	now     func() time.Time
	entries map[string]*listingCall
}

type listingCall struct {
	started time.Time
	done    chan struct{}
	res     *folderListing
	err     error
}

func newListings(reuse time.Duration, now func() time.Time) *listings {
	return &listings{reuse: reuse, now: now, entries: map[string]*listingCall{}}
}

// get returns the listing of key for a window ending at need (zero: now,
// which no earlier listing serves), sharing one in flight or recent
// enough, else running fetch.
func (c *listings) get(ctx context.Context, key string, need time.Time, fetch func(context.Context) (*folderListing, error)) (*folderListing, error) {
	c.mu.Lock()
	now := c.now()
	if e := c.entries[key]; e != nil && !need.IsZero() && !need.After(e.started) && now.Sub(e.started) <= c.reuse {
		c.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if e.err == nil {
			return e.res, nil
		}
		return fetch(ctx) // the shared listing failed (its search may have been cancelled): list for this one
	}
	e := &listingCall{started: now, done: make(chan struct{})}
	if c.reuse > 0 {
		for k, old := range c.entries {
			if now.Sub(old.started) > c.reuse {
				delete(c.entries, k)
			}
		}
		c.entries[key] = e
	}
	c.mu.Unlock()
	e.res, e.err = fetch(ctx)
	close(e.done)
	return e.res, e.err
}
