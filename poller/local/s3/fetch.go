package s3

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/patrolsec/patrol/poller/local"
)

// prefetchMax is the largest object read ahead into memory; a larger one
// is streamed from S3 when its turn comes.
const prefetchMax = 8 << 20

// The limits hold across every search of a Source (the daemon runs
// detections at once), and nothing waits while holding them, so searches
// that nest (a join's subsearch runs inside the main search's scan) cannot
// deadlock:
//   - requests: ListObjectsV2 and GetObject calls in flight, max_concurrent;
//     a slot is held while a call runs and, for an object read ahead,
//     until its bytes are in memory, never while a search decodes them;
//   - budget: bytes read ahead and not yet decoded, max_concurrent ×
//     prefetchMax. An object that does not fit is not waited for: it is
//     streamed when its turn comes.

// request runs fn holding a request slot.
func (s *Source) request(ctx context.Context, fn func() error) error {
	select {
	case s.requests <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.requests }()
	return fn()
}

// budget counts bytes held in memory.
type budget struct {
	mu   sync.Mutex
	left int64
}

// take reserves n bytes if they are free.
func (b *budget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.left {
		return false
	}
	b.left -= n
	return true
}

func (b *budget) give(n int64) {
	b.mu.Lock()
	b.left += n
	b.mu.Unlock()
}

// fetched is one object read ahead.
type fetched struct {
	data   []byte
	held   int64 // budget taken for it
	stream bool  // not read ahead: open it when its turn comes
	err    error
	done   chan struct{}
}

// Fetch calls fn with each object's content, in order, while up to
// max_concurrent following objects download in the background. Objects are
// held in memory, never written to disk.
func (s *Source) Fetch(ctx context.Context, objs []local.Object, fn func(local.Object, io.Reader) error) error {
	if len(objs) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	slots := make([]*fetched, len(objs))
	for i := range slots {
		slots[i] = &fetched{done: make(chan struct{})}
	}
	defer func() {
		cancel()
		wg.Wait()
		for _, f := range slots { // what was read ahead and never handed over
			if f != nil {
				s.budget.give(f.held)
			}
		}
	}()
	// ahead bounds the objects this search has started and not handed
	// over: it keeps at most max_concurrent downloads ahead of the reader.
	ahead := make(chan struct{}, s.conc)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i, o := range objs {
			select {
			case ahead <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer close(slots[i].done)
				s.prefetch(ctx, o, slots[i])
			}()
		}
	}()
	for i, o := range objs {
		select {
		case <-slots[i].done:
		case <-ctx.Done():
			return ctx.Err()
		}
		f := slots[i]
		err := s.consume(ctx, o, f, fn)
		s.budget.give(f.held)
		slots[i] = nil
		<-ahead
		if err != nil {
			return err
		}
	}
	return nil
}

// prefetch downloads a small object whole, if the memory budget allows.
func (s *Source) prefetch(ctx context.Context, o local.Object, f *fetched) {
	if o.Size > s.prefetchMax || strings.HasSuffix(o.Name, ".parquet") || !s.budget.take(o.Size) {
		f.stream = true
		return
	}
	f.held = o.Size
	f.err = s.request(ctx, func() error {
		body, err := s.getObject(ctx, o)
		if err != nil {
			return err
		}
		defer body.Close()
		buf := bytes.NewBuffer(make([]byte, 0, o.Size+bytes.MinRead))
		if _, err := buf.ReadFrom(body); err != nil {
			return fmt.Errorf("input %s: read: %w", o.Name, err)
		}
		f.data = buf.Bytes()
		return nil
	})
}

// consume hands one object to fn: from memory, or streamed.
func (s *Source) consume(ctx context.Context, o local.Object, f *fetched, fn func(local.Object, io.Reader) error) error {
	if f.err != nil {
		return f.err
	}
	if strings.HasSuffix(o.Name, ".parquet") {
		return fmt.Errorf("input %s: Parquet is not read: deliver the flow logs as text (file format plain-text, the default)", o.Name)
	}
	if !f.stream {
		return fn(o, bytes.NewReader(f.data))
	}
	var body io.ReadCloser
	err := s.request(ctx, func() error {
		var err error
		body, err = s.getObject(ctx, o)
		return err
	})
	if err != nil {
		return err
	}
	defer body.Close()
	return fn(o, body)
}
