package progress

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// clock is a hand-driven clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestMeterLinesAndSummary(t *testing.T) {
	var out bytes.Buffer
	c := &clock{t: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
	m := New(&out, "search", c.now)
	m.Expect(4, 40e6)
	c.advance(500 * time.Millisecond)
	m.Read(10e6) // under a second: no line yet
	if out.Len() != 0 {
		t.Fatalf("printed too early: %q", out.String())
	}
	c.advance(1500 * time.Millisecond)
	m.Events(1000, 3)
	m.Read(10e6) // 20 MB in 2s: 10 MB/s, 20 MB left: 2s
	want := "search: 2/4 objects, 20.0 MB of 40.0 MB (50%), 10.0 MB/s, about 2s left; 1000 events, 3 passed the search filter\n"
	if out.String() != want {
		t.Fatalf("line:\n got %q\nwant %q", out.String(), want)
	}
	out.Reset()
	c.advance(100 * time.Millisecond)
	m.Read(10e6) // within the interval: no line
	if out.Len() != 0 {
		t.Fatalf("printed twice within a second: %q", out.String())
	}
	c.advance(1900 * time.Millisecond)
	m.Read(10e6)
	out.Reset()
	m.Done()
	if want := "search: read 4 objects, 40.0 MB in 4s (10.0 MB/s); 1000 events, 3 passed the search filter\n"; out.String() != want {
		t.Fatalf("summary:\n got %q\nwant %q", out.String(), want)
	}
}

func TestMeterQuietOnSmallWork(t *testing.T) {
	var out bytes.Buffer
	c := &clock{t: time.Unix(0, 0)}
	m := New(&out, "search", c.now)
	m.Expect(2, 100)
	m.Read(50)
	m.Read(50)
	m.Done()
	if out.Len() != 0 {
		t.Fatalf("small search printed %q", out.String())
	}
	var none *Meter // a nil meter is a no-op, so callers need no check
	none.Expect(1, 1)
	none.Read(1)
	none.Events(1, 1)
	none.Done()
}

func TestMeterSpansSearchesThroughTheContext(t *testing.T) {
	var out bytes.Buffer
	c := &clock{t: time.Unix(0, 0)}
	m := New(&out, "backtest", c.now)
	ctx := NewContext(context.Background(), m)
	for range 12 { // twelve searches, one object each, as a backtest runs them
		FromContext(ctx).Expect(1, 1e6)
		FromContext(ctx).Read(1e6)
	}
	if FromContext(context.Background()) != nil {
		t.Fatal("a bare context carries a meter")
	}
	m.Done()
	if !strings.HasPrefix(out.String(), "backtest: read 12 objects, 12.0 MB in 0s") {
		t.Fatalf("summary %q", out.String())
	}
}

// A live meter (a terminal) redraws one line in place and erases it when a
// search ends: what follows on the terminal is never a stale progress line.
func TestLiveMeterRedrawsInPlaceAndClears(t *testing.T) {
	var out bytes.Buffer
	c := &clock{t: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
	m := NewLive(&out, "search", c.now)
	m.Expect(12, 12e6)
	m.Read(1e6) // under a second: nothing yet
	m.Clear()
	if out.Len() != 0 {
		t.Fatalf("a fast search printed %q", out.String())
	}
	for range 3 {
		c.advance(1500 * time.Millisecond)
		m.Read(1e6)
	}
	m.Clear()
	p := out.String()
	if strings.Count(p, "\rsearch: ") != 3 || strings.Contains(p, "\n") || !strings.HasSuffix(p, "\r\x1b[K") {
		t.Fatalf("live output: %q", p)
	}
	out.Reset()
	m.Clear() // nothing shown: nothing to erase
	if out.Len() != 0 {
		t.Fatalf("erased twice: %q", out.String())
	}
	m.Done()
	if want := "search: read 4 objects, 4.0 MB in 4.5s (0.9 MB/s)\n"; out.String() != want {
		t.Fatalf("summary:\n got %q\nwant %q", out.String(), want)
	}
}

// A command's status (a backtest's detection and window) shares the live
// line with the counts, and is a line of its own, once, on a plain Meter.
func TestMeterStatus(t *testing.T) {
	t.Run("live", func(t *testing.T) {
		var out bytes.Buffer
		c := &clock{t: time.Unix(0, 0)}
		m := NewLive(&out, "backtest", c.now)
		m.Status("detection 1/2 a, window 1/3")
		m.Expect(2, 2e6)
		c.advance(1500 * time.Millisecond)
		m.Read(1e6)
		m.Clear()
		want := "\rbacktest: detection 1/2 a, window 1/3\x1b[K" +
			"\rbacktest: detection 1/2 a, window 1/3: 1/2 objects, 1.0 MB of 2.0 MB (50%), 0.7 MB/s, about 2s left\x1b[K" +
			"\r\x1b[K"
		if out.String() != want {
			t.Fatalf("live output:\n got %q\nwant %q", out.String(), want)
		}
	})
	t.Run("plain", func(t *testing.T) {
		var out bytes.Buffer
		c := &clock{t: time.Unix(0, 0)}
		m := New(&out, "backtest", c.now)
		m.SetInterval(10 * time.Second)
		m.Status("detection 1/2 a (3 window(s))")
		m.Status("detection 1/2 a (3 window(s))") // unchanged: not repeated
		m.Expect(3, 3e6)
		c.advance(5 * time.Second)
		m.Read(1e6) // within the interval: no line
		c.advance(5 * time.Second)
		m.Read(1e6)
		m.Status("detection 2/2 b (1 window(s))")
		m.Clear() // nothing live to erase
		want := "backtest: detection 1/2 a (3 window(s))\n" +
			"backtest: 2/3 objects, 2.0 MB of 3.0 MB (66%), 0.2 MB/s, about 5s left\n" +
			"backtest: detection 2/2 b (1 window(s))\n"
		if out.String() != want {
			t.Fatalf("plain output:\n got %q\nwant %q", out.String(), want)
		}
	})
}

// A live line never wraps: a carriage return could not redraw it.
func TestLiveLinesFitTheTerminal(t *testing.T) {
	var out bytes.Buffer
	c := &clock{t: time.Unix(0, 0)}
	m := NewLive(&out, "backtest", c.now)
	m.SetWidth(40)
	m.Status("detection 12/29 cloudtrail-logging-stopped, window 3/40")
	m.Expect(2, 2e6)
	c.advance(1500 * time.Millisecond)
	m.Read(1e6)
	want := "\rbacktest: detection 12/29 cloudtrail-lo\x1b[K" +
		"\rbacktest: detection 12/29 cloudtrail-lo\x1b[K"
	if out.String() != want {
		t.Fatalf("live output:\n got %q\nwant %q", out.String(), want)
	}
	out.Reset()
	m.SetWidth(0) // unknown: nothing is cut
	m.Status("detection 12/29 cloudtrail-logging-stopped, window 3/40")
	if want := "\rbacktest: detection 12/29 cloudtrail-logging-stopped, window 3/40\x1b[K"; out.String() != want {
		t.Fatalf("live output:\n got %q\nwant %q", out.String(), want)
	}
}
