package local

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/patrolsec/patrol/detections/spl"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/progress"
)

// inputFile is one file to read.
type inputFile struct {
	path string
	size int64
	mod  time.Time
}

// logExtensions are the files a folder scan reads; a file named directly
// in Paths is read whatever its name.
var logExtensions = []string{".json", ".gz", ".jsonl", ".ndjson", ".log", ".txt"}

// listFiles expands the configured paths into files, folders walked
// recursively in name order. CloudTrail digest files (signatures, not
// events) and hidden files are skipped.
func (s *Searcher) listFiles() ([]inputFile, error) {
	var out []inputFile
	seen := map[string]bool{}
	add := func(path string, info fs.FileInfo) {
		if !seen[path] {
			seen[path] = true
			out = append(out, inputFile{path: path, size: info.Size(), mod: info.ModTime()})
		}
	}
	for _, p := range s.opts.Paths {
		path := p
		if !filepath.IsAbs(path) {
			path = filepath.Join(s.opts.BaseDir, path)
		}
		path, err := filepath.Abs(path)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", p, err)
		}
		info, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", p, err)
		}
		if !info.IsDir() {
			add(path, info)
			continue
		}
		var files []inputFile
		err = filepath.WalkDir(path, func(fp string, d fs.DirEntry, err error) error {
			if err != nil {
				return fmt.Errorf("input %s: %w", fp, err)
			}
			name := d.Name()
			if fp != path && strings.HasPrefix(name, ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				if name == "CloudTrail-Digest" {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() || !hasLogExtension(name) {
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return fmt.Errorf("input %s: %w", fp, err)
			}
			files = append(files, inputFile{path: fp, size: fi.Size(), mod: fi.ModTime()})
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
		for _, f := range files {
			if !seen[f.path] {
				seen[f.path] = true
				out = append(out, f)
			}
		}
	}
	return out, nil
}

func hasLogExtension(name string) bool {
	name = strings.ToLower(name)
	for _, e := range logExtensions {
		if strings.HasSuffix(name, e) {
			return true
		}
	}
	return false
}

// window is the span of _time a search reads: after start (exclusive),
// up to end (inclusive), each bound optional.
type window struct {
	start, end       float64
	hasStart, hasEnd bool
	// the query's own earliest (inclusive) and latest (exclusive)
	earliest, latest       float64
	hasEarliest, hasLatest bool
}

func (w window) contains(t float64) bool {
	return (!w.hasStart || t > w.start) && (!w.hasEnd || t <= w.end) &&
		(!w.hasEarliest || t >= w.earliest) && (!w.hasLatest || t < w.latest)
}

// source is the spl.Source of one search: the local files, the remote
// objects, and the windows their events are kept in.
type source struct {
	s       *Searcher
	files   []inputFile
	win     window // local files: the query's window on _time
	remotes []remoteListing
	meter   *progress.Meter
}

// remoteListing is what one Remote listed for the search.
type remoteListing struct {
	remote  Remote
	listing *Listing
}

// Scan reads every local file in order, then each remote's objects, and
// hands over the events in their window that pass the query's cheap
// filters.
func (src *source) Scan(ctx context.Context, f *spl.Filter, fn func(*spl.Event) error) error {
	defer src.meter.Clear() // a line redrawn in place on a terminal is erased when the search ends
	win := src.win.narrow(f)
	wanted := make([][]Object, len(src.remotes))
	var n int
	var size int64
	for _, file := range src.files {
		n, size = n+1, size+file.size
	}
	for i, rl := range src.remotes {
		wanted[i] = src.wanted(rl.listing.Objects, f)
		for _, o := range wanted[i] {
			n, size = n+1, size+o.Size
		}
	}
	src.meter.Expect(n, size)
	for _, file := range src.files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := src.scanFile(ctx, file, f, win, fn); err != nil {
			return err
		}
		src.meter.Read(file.size)
	}
	for i, rl := range src.remotes {
		rwin := eventWindow(rl.listing.Events).narrow(f)
		err := rl.remote.Fetch(ctx, wanted[i], func(o Object, r io.Reader) error {
			if err := src.scanRemote(ctx, o, r, f, rwin, fn); err != nil {
				return err
			}
			src.meter.Read(o.Size)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// wanted drops the objects whose delivery layout says they hold a
// sourcetype the query rules out: they are never fetched.
func (src *source) wanted(objs []Object, f *spl.Filter) []Object {
	out := make([]Object, 0, len(objs))
	for _, o := range objs {
		if o.Sourcetype != "" {
			meta := &spl.Meta{Index: src.s.index(), Sourcetype: o.Sourcetype, Source: o.Name, Host: src.s.host()}
			if f.ForSource(meta).Never() {
				continue
			}
		}
		out = append(out, o)
	}
	return out
}

// eventWindow is the window of a poller.Window: after Start, up to End,
// zero bounds open.
func eventWindow(w poller.Window) window {
	var win window
	if !w.Start.IsZero() {
		win.start, win.hasStart = epoch(w.Start), true
	}
	if !w.End.IsZero() {
		win.end, win.hasEnd = epoch(w.End), true
	}
	return win
}

// narrow adds the query's own earliest= and latest= bounds.
func (w window) narrow(f *spl.Filter) window {
	if !f.Earliest.IsZero() {
		w.earliest, w.hasEarliest = epoch(f.Earliest), true
	}
	if !f.Latest.IsZero() {
		w.latest, w.hasLatest = epoch(f.Latest), true
	}
	return w
}

// epoch is a time in epoch seconds, computed as the engine computes _time
// so that window bounds and event times compare exactly.
func epoch(t time.Time) float64 { return float64(t.Unix()) + float64(t.Nanosecond())/1e9 }

// open opens a file for scanning (see decode).
func (src *source) open(path string) (io.Reader, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	r, closeR, err := decode(f, src.s.limits().MaxFileBytes)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return r, func() error { closeR(); return f.Close() }, nil
}

func (src *source) scanFile(ctx context.Context, file inputFile, f *spl.Filter, win window, fn func(*spl.Event) error) error {
	r, closeFile, err := src.open(file.path)
	if err != nil {
		return fmt.Errorf("input %s: %w", file.path, err)
	}
	defer closeFile()
	return src.scanStream(ctx, file.path, r, file.mod, f, win, fn)
}

// scanRemote scans one remote object, as scanFile a file.
func (src *source) scanRemote(ctx context.Context, o Object, body io.Reader, f *spl.Filter, win window, fn func(*spl.Event) error) error {
	r, release, err := decode(body, src.s.limits().MaxFileBytes)
	if err != nil {
		return fmt.Errorf("input %s: %w", o.Name, err)
	}
	defer release()
	return src.scanStream(ctx, o.Name, r, o.Modified, f, win, fn)
}

// scanStream hands over the events of one decoded input, a local file or a
// remote object alike: format detection and record splitting happen here
// and only here, so every limit on decoding applies to both. name is the
// events' source and is named in errors and logs; mod is the _time of
// records that carry none. A record over a limit is skipped and the stream
// goes on; at MaxFileBytes the rest of the stream is skipped; both are
// logged and counted. Anything else that is wrong with the stream is an
// error naming it.
func (src *source) scanStream(ctx context.Context, name string, r io.Reader, mod time.Time, f *spl.Filter, win window, fn func(*spl.Event) error) error {
	lim := src.s.limits()
	sk := &skips{log: src.s.logger(), onSkip: src.s.opts.OnSkip, file: name}
	defer sk.done()
	var events, matched int64
	defer func() { src.meter.Events(events, matched) }()
	counted := &countingReader{r: r}
	br := bufio.NewReaderSize(counted, 64<<10)
	head, err := peekNonSpace(br)
	if err != nil {
		if errors.Is(err, errFileLimit) {
			sk.rest(counted.n)
			return nil
		}
		return fmt.Errorf("input %s: read: %w", name, err)
	}
	if len(head) == 0 {
		return nil // an empty file
	}
	var recs records
	var fmtr *format
	if head[0] == '{' || head[0] == '[' {
		jr := newJSONRecords(br, lim)
		var first []byte
		var off int64
		for { // the first record that is not skipped says what the file is
			first, off, err = jr.next()
			var se *skipError
			if !errors.As(err, &se) {
				break
			}
			sk.record(se)
		}
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case errors.Is(err, errFileLimit):
			sk.rest(counted.n)
			return nil
		case err != nil:
			return fileError(name, err)
		}
		fmtr = detect(true, first)
		recs = &pendingJSON{jr: jr, first: first, off: off}
	} else {
		line := head
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
		}
		if fmtr = detect(false, line); fmtr == nil {
			// The file's content stays out of the message: it may be
			// anything, and the message reaches logs and terminals.
			return fmt.Errorf("input %s: neither JSON nor a known text log format (VPC Flow Logs)", name)
		}
		if recs, err = fmtr.open(br, lim); err != nil {
			return fmt.Errorf("input %s: %w", name, err)
		}
	}
	meta := &spl.Meta{Index: src.s.index(), Sourcetype: fmtr.sourcetype, Source: name, Host: src.s.host(), Props: fmtr.props,
		Limits: lim.json()}
	rf := f.ForSource(meta)
	if rf.Never() {
		return nil // index/sourcetype/source/host rule the whole file out
	}
	fallback := epoch(mod)
	ev := &spl.Event{}
	for {
		if events&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		raw, off, fields, err := recs.next()
		var se *skipError
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case errors.As(err, &se):
			sk.record(se)
			continue
		case errors.Is(err, errFileLimit):
			sk.rest(counted.n)
			return nil
		case err != nil:
			return fileError(name, err)
		}
		events++
		if !rf.Match(raw) {
			continue
		}
		*ev = spl.Event{Raw: raw, Meta: meta, JSON: fmtr.json, Fields: fields, Offset: off}
		t, ok, err := fmtr.time(ev)
		if err != nil {
			return recordError(name, recs, off, err)
		}
		if !ok {
			t = fallback
		}
		if !win.contains(t) {
			continue
		}
		ev.Time = t
		matched++
		if err := fn(ev); err != nil {
			return recordError(name, recs, off, err)
		}
	}
}

// pendingJSON hands back the record read to detect the format, then the
// rest of the file.
type pendingJSON struct {
	jr    *jsonRecords
	first []byte
	off   int64
	done  bool
}

func (p *pendingJSON) position(off int64) (int, int, bool) { return p.jr.position(off) }

func (p *pendingJSON) next() ([]byte, int64, []spl.Field, error) {
	if !p.done {
		p.done = true
		return p.first, p.off, nil, nil
	}
	raw, off, err := p.jr.next()
	return raw, off, nil, err
}

// peekNonSpace skips leading white space (and a byte order mark) and
// returns the buffered start of the rest, empty for an empty stream.
func peekNonSpace(br *bufio.Reader) ([]byte, error) {
	for {
		b, err := br.Peek(1)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, nil
			}
			return nil, err
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n', 0xef, 0xbb, 0xbf:
			br.ReadByte()
			continue
		}
		head, err := br.Peek(4096)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
		return head, nil
	}
}

// fileError names the file and says whether it is not JSON or could not
// be read.
// recordError places an error found inside a record: broken JSON in an
// event is named by file, line and column, as a person opens the file.
// Other errors (a stopped search) pass through.
func recordError(path string, recs records, off int64, err error) error {
	var je interface {
		EventOffset() int
		Reason() string
	}
	if !errors.As(err, &je) {
		return err
	}
	if p, ok := recs.(interface {
		position(int64) (int, int, bool)
	}); ok {
		if line, col, ok := p.position(off + int64(je.EventOffset())); ok {
			return fmt.Errorf("input %s: line %d, column %d: %s", path, line, col, je.Reason())
		}
	}
	return fmt.Errorf("input %s: record at byte %d: %w", path, off, err)
}

func fileError(path string, err error) error {
	var se *syntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("input %s: not valid JSON: %w", path, err)
	}
	return fmt.Errorf("input %s: %w", path, err)
}
