package local

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"sync"
)

// readAhead reads its source in a goroutine, a few chunks ahead of the
// consumer, so that decompressing a gzip file and searching it use two
// cores instead of taking turns on one.
type readAhead struct {
	chunks chan []byte
	free   chan []byte
	errc   chan error
	base   []byte // the chunk being read, whole
	cur    []byte // its unread part
	err    error
	done   chan struct{}
	exited chan struct{}
}

const (
	readAheadChunk = 256 << 10
	readAheadDepth = 4
)

// chunks are reused across inputs: a search over thousands of small S3
// objects would otherwise allocate (and collect) 1.5 MB for each.
var chunks = sync.Pool{New: func() any { b := make([]byte, readAheadChunk); return &b }}

func newReadAhead(r io.Reader) *readAhead {
	ra := &readAhead{
		chunks: make(chan []byte, readAheadDepth),
		free:   make(chan []byte, readAheadDepth+2),
		errc:   make(chan error, 1),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	for range readAheadDepth + 2 {
		ra.free <- *chunks.Get().(*[]byte)
	}
	go ra.run(r)
	return ra
}

func (ra *readAhead) run(r io.Reader) {
	defer close(ra.exited)
	defer close(ra.chunks)
	for {
		var buf []byte
		select {
		case buf = <-ra.free:
		case <-ra.done:
			return
		}
		buf = buf[:cap(buf)]
		n := 0
		var err error
		for n < len(buf) && err == nil {
			var m int
			m, err = r.Read(buf[n:])
			n += m
		}
		if n > 0 {
			select {
			case ra.chunks <- buf[:n]:
			case <-ra.done:
				return
			}
		}
		if err != nil {
			ra.errc <- err
			return
		}
	}
}

func (ra *readAhead) Read(p []byte) (int, error) {
	for len(ra.cur) == 0 {
		if ra.err != nil {
			return 0, ra.err
		}
		chunk, ok := <-ra.chunks
		if !ok {
			ra.err = <-ra.errc
			continue
		}
		ra.base, ra.cur = chunk, chunk
	}
	n := copy(p, ra.cur)
	ra.cur = ra.cur[n:]
	if len(ra.cur) == 0 {
		// hand the whole buffer back for reuse
		select {
		case ra.free <- ra.base[:cap(ra.base)]:
		default:
		}
		ra.base = nil // it is in free now (or dropped): never handed back twice
	}
	return n, nil
}

// Close stops the reading goroutine and waits for it, so that the
// source can be closed safely, and gives the buffers back for reuse.
func (ra *readAhead) Close() {
	select {
	case <-ra.done:
	default:
		close(ra.done)
	}
	<-ra.exited
	if ra.base != nil {
		reuse(ra.base)
		ra.base, ra.cur = nil, nil
	}
	for _, c := range []chan []byte{ra.free, ra.chunks} {
		drain(c)
	}
}

// drain gives every buffer waiting in c back to the pool.
func drain(c chan []byte) {
	for {
		select {
		case b, ok := <-c:
			if !ok {
				return
			}
			reuse(b)
		default:
			return
		}
	}
}

func reuse(b []byte) {
	b = b[:cap(b)]
	chunks.Put(&b)
}

// decode prepares a stream for scanning: decompressed when it starts with
// gzip's magic bytes (whatever its name), and cut at maxBytes (after
// decompression) with errFileLimit, so a gzip bomb costs a bounded read.
// It works on any stream: a file, an object body.
func decode(r io.Reader, maxBytes int64) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 256<<10)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		ra := newReadAhead(&limitReader{r: zr, n: maxBytes})
		return ra, func() { ra.Close(); zr.Close() }, nil
	}
	return &limitReader{r: br, n: maxBytes}, func() {}, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
