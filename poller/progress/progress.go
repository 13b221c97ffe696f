// Package progress reports long reads to a person: how many objects (log
// files, S3 objects) and bytes have been read, at what rate, and how much
// is left when the total is known. One Meter may span many searches (a
// backtest runs one per detection and window) and travels in the context,
// so that the searchers that do the reading need no option for it and a
// command decides alone whether, and where, progress is shown.
package progress

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Meter counts what a command has read and prints a line about it at most
// once per interval, and a summary when the command is done. Its methods
// are safe for concurrent use, and do nothing on a nil *Meter.
type Meter struct {
	w     io.Writer
	label string
	now   func() time.Time
	every time.Duration
	// live redraws one line in place (a terminal) instead of printing a
	// line per interval, and Clear and Done erase it.
	live  bool
	shown bool // a live line is on the terminal
	width int  // the terminal's columns (0: unknown)
	// status is what the command is at (a backtest's detection and
	// window), set by Status.
	status string

	mu                   sync.Mutex
	objects, wantObjects int
	bytes, wantBytes     int64
	events, matched      int64
	start, last          time.Time
}

// New returns a Meter that writes lines starting with label to w. now is
// its clock (nil: time.Now).
func New(w io.Writer, label string, now func() time.Time) *Meter {
	if now == nil {
		now = time.Now
	}
	return &Meter{w: w, label: label, now: now, every: time.Second}
}

// NewLive returns a Meter for a terminal: its line is redrawn in place
// (carriage return, erase to the end of the line) and erased by Clear when
// a search ends, so the caller's own output never follows a stale progress
// line. Done prints the summary as New's does.
func NewLive(w io.Writer, label string, now func() time.Time) *Meter {
	m := New(w, label, now)
	m.live = true
	return m
}

// SetInterval sets how often count lines may be printed (a second by
// default): a log that a long job writes to wants fewer lines than a
// terminal does.
func (m *Meter) SetInterval(d time.Duration) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.every = d
}

// SetWidth gives a live Meter the terminal's width in columns. A line
// longer than that wraps, and a carriage return goes back only to the
// start of its last row, so every redraw would leave the rows above behind:
// live lines are cut to fit instead. 0 (unknown) cuts nothing.
func (m *Meter) SetWidth(cols int) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.width = cols
}

// draw redraws the live line with text, cut to the terminal's width (one
// column short: writing the last one wraps on some terminals).
func (m *Meter) draw(text string) {
	if r := []rune(text); m.width > 1 && len(r) > m.width-1 {
		text = string(r[:m.width-1])
	}
	fmt.Fprintf(m.w, "\r%s\x1b[K", text)
	m.shown = true
}

// Status says what the command is at ("detection 2/5 x, window 3/10"). A
// live Meter redraws its line with it at once and keeps it at the head of
// the count lines, so the command's own status and the counts share one
// line instead of fighting over it; a plain Meter prints it as a line of
// its own when it changes, and its count lines follow.
func (m *Meter) Status(s string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.live {
		m.status = s
		m.draw(m.label + ": " + s)
		return
	}
	if s != m.status {
		m.status = s
		fmt.Fprintf(m.w, "%s: %s\n", m.label, s)
	}
}

// Clear erases a live line, if one is shown: a search calls it when it
// ends. It does nothing for other Meters.
func (m *Meter) Clear() {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.clear()
}

func (m *Meter) clear() {
	if m.shown {
		fmt.Fprint(m.w, "\r\x1b[K")
		m.shown = false
	}
}

type ctxKey struct{}

// NewContext returns ctx carrying m.
func NewContext(ctx context.Context, m *Meter) context.Context {
	return context.WithValue(ctx, ctxKey{}, m)
}

// FromContext returns the Meter ctx carries, or nil.
func FromContext(ctx context.Context) *Meter {
	m, _ := ctx.Value(ctxKey{}).(*Meter)
	return m
}

// Expect adds objects and bytes about to be read to the totals, so lines
// can say how much is left. The clock starts at the first call.
func (m *Meter) Expect(objects int, bytes int64) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.begin()
	m.wantObjects += objects
	m.wantBytes += bytes
}

// Read records one object read through, of bytes bytes as stored
// (compressed objects count their compressed size), and prints a line if
// the last one is old enough.
func (m *Meter) Read(bytes int64) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.begin()
	m.objects++
	m.bytes += bytes
	m.tick()
}

// Events records events read and how many of them passed the search's
// filter.
func (m *Meter) Events(read, matched int64) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events += read
	m.matched += matched
}

// Done prints the summary, unless the work was too small to need one (under
// a second and under ten objects).
func (m *Meter) Done() {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.clear()
	if m.start.IsZero() {
		return
	}
	elapsed := m.now().Sub(m.start)
	if elapsed < time.Second && m.objects < 10 {
		return
	}
	fmt.Fprintf(m.w, "%s: read %d objects, %s in %s (%s/s)%s\n", m.label, m.objects, mb(m.bytes),
		elapsed.Round(time.Millisecond), mb(rate(m.bytes, elapsed)), m.eventsText())
}

func (m *Meter) begin() {
	if m.start.IsZero() {
		m.start = m.now()
		m.last = m.start
	}
}

// tick prints a line when a whole interval has passed since the last one
// (or since the start: short reads print nothing until Done).
func (m *Meter) tick() {
	now := m.now()
	if now.Sub(m.last) < m.every {
		return
	}
	m.last = now
	elapsed := now.Sub(m.start)
	var b strings.Builder
	fmt.Fprintf(&b, "%s: ", m.label)
	if m.live && m.status != "" {
		fmt.Fprintf(&b, "%s: ", m.status)
	}
	fmt.Fprintf(&b, "%d", m.objects)
	if m.wantObjects > 0 {
		fmt.Fprintf(&b, "/%d", m.wantObjects)
	}
	fmt.Fprintf(&b, " objects, %s", mb(m.bytes))
	if m.wantBytes > 0 {
		fmt.Fprintf(&b, " of %s (%d%%)", mb(m.wantBytes), m.bytes*100/m.wantBytes)
	}
	r := rate(m.bytes, elapsed)
	fmt.Fprintf(&b, ", %s/s", mb(r))
	if left := m.wantBytes - m.bytes; left > 0 && r > 0 {
		fmt.Fprintf(&b, ", about %s left", time.Duration(float64(left)/float64(r)*float64(time.Second)).Round(time.Second))
	}
	b.WriteString(m.eventsText())
	if m.live {
		m.draw(b.String())
		return
	}
	fmt.Fprintln(m.w, b.String())
}

func (m *Meter) eventsText() string {
	if m.events == 0 {
		return ""
	}
	return fmt.Sprintf("; %d events, %d passed the search filter", m.events, m.matched)
}

// rate is bytes per second over elapsed.
func rate(bytes int64, elapsed time.Duration) int64 {
	if elapsed <= 0 {
		return 0
	}
	return int64(float64(bytes) / elapsed.Seconds())
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
