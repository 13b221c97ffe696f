package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/progress"
)

// showProgress says whether progress lines go to w: only to a terminal
// (tests set it).
var showProgress = isTerminal

// liveMeter returns a progress meter whose line is redrawn in place on the
// terminal w, cut to the terminal's width so that it never wraps.
func liveMeter(w io.Writer, label string, now func() time.Time) *progress.Meter {
	m := progress.NewLive(w, label, now)
	m.SetWidth(termWidth(w))
	return m
}

// termWidth is the width in columns of the terminal w, or 0 when unknown.
func termWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok {
		return 0
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	return int(ws.Col)
}

func cmdSearch(ctx context.Context, args []string, out, errOut io.Writer) int {
	fs, cfgPath := flags("search", errOut)
	from := fs.String("from", "", "start of the window (exclusive): RFC 3339, a date, a relative span like -24h or -7d, or \"all\"; default: all for local search, -24h for Splunk")
	to := fs.String("to", "now", "end of the window (inclusive): same forms as --from")
	eventTime := fs.Bool("event-time", false, "bound the window by event time instead of index time (Splunk)")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(errOut, "patrol search: give the search as one argument, quoted: patrol search 'eventName=StopLogging' --from -24h")
		return exitInvalid
	}
	a, code := setup(ctx, *cfgPath, setupOptions{searcher: true}, errOut)
	if a == nil {
		return code
	}
	defer a.close()
	now := time.Now().UTC()
	if *from == "" {
		*from = "-24h"
		if a.cfg.Search.Backend == "local" {
			*from = "all"
		}
	}
	var w poller.Window
	var err error
	if w.Start, err = parseWhen(*from, now); err != nil {
		fmt.Fprintf(errOut, "patrol search: --from: %v\n", err)
		return exitInvalid
	}
	if w.End, err = parseWhen(*to, now); err != nil {
		fmt.Fprintf(errOut, "patrol search: --to: %v\n", err)
		return exitInvalid
	}
	if !w.End.IsZero() && !w.Start.Before(w.End) { // zero: unbounded (all)
		fmt.Fprintf(errOut, "patrol search: --from %s is not before --to %s: the window would be empty\n",
			w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339))
		return exitInvalid
	}
	spl, err := a.cfg.Macros().Expand(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(errOut, "patrol search: %v\n", err)
		return exitInvalid
	}
	if err := detections.CheckCommands(spl, a.cfg.Search.Splunk.AllowCommands); err != nil {
		fmt.Fprintf(errOut, "patrol search: %v\n", err)
		return exitInvalid
	}
	if check := checkSPL(a.cfg); check != nil {
		if err := check(spl); err != nil {
			fmt.Fprintf(errOut, "patrol search: %v\n", err)
			return exitInvalid
		}
	}
	mode := poller.IndexTime
	if *eventTime {
		mode = poller.EventTime
	}
	bw := bufio.NewWriter(out)
	defer bw.Flush()
	var meter *progress.Meter
	if showProgress(errOut) {
		meter = liveMeter(errOut, "search", nil)
		ctx = progress.NewContext(ctx, meter)
	}
	n := 0
	err = a.searcher.Search(ctx, poller.Query{SPL: spl, Window: w, TimeMode: mode}, func(r poller.Result) error {
		n++
		return writeResult(bw, r)
	})
	bw.Flush()
	meter.Done()
	if err != nil {
		fmt.Fprintf(errOut, "patrol search: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(errOut, "%d result(s)\n", n)
	return exitOK
}

// writeResult prints a result as one JSON object: single values as strings,
// multivalues as arrays (Splunk's shape), keys sorted.
func writeResult(w io.Writer, r poller.Result) error {
	keys := r.Fields()
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		var vb []byte
		if v := r[k]; len(v) == 1 {
			vb, _ = json.Marshal(v[0])
		} else {
			vb, _ = json.Marshal(v)
		}
		b.Write(vb)
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// parseWhen reads a time: "all" (zero), "now", a relative span (-24h,
// -7d), RFC 3339, or a date (UTC midnight).
func parseWhen(s string, now time.Time) (time.Time, error) {
	switch s {
	case "all", "":
		return time.Time{}, nil
	case "now":
		return now, nil
	}
	if strings.HasPrefix(s, "-") {
		d, err := detections.ParseDuration(s[1:])
		if err != nil {
			return time.Time{}, err
		}
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use RFC 3339 (2026-11-01T12:00:00Z), a date, -24h, now or all", s)
}
