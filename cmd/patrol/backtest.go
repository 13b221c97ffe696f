package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/aws"
	"github.com/patrolsec/patrol/poller/backtest"
	"github.com/patrolsec/patrol/poller/config"
	"github.com/patrolsec/patrol/poller/progress"
	"github.com/patrolsec/patrol/poller/tuning"
	"github.com/patrolsec/patrol/state"
)

func cmdBacktest(ctx context.Context, args []string, out, errOut io.Writer) int {
	fs, cfgPath := flags("backtest", errOut)
	var ids multiFlag
	fs.Var(&ids, "detection", "backtest only this detection (repeatable); default: all, whatever their stage")
	from := fs.String("from", "", "start of the span (exclusive): RFC 3339, a date, a relative span like -30d, or \"all\" (from the beginning of the data, in one window)")
	to := fs.String("to", "", "end of the span (inclusive): same forms as --from, or \"now\"")
	asJSON := fs.Bool("json", false, "print one JSON object per detection")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if !wantArgs(fs, 0, 0) {
		return exitInvalid
	}
	if *from == "" || *to == "" {
		fmt.Fprintln(errOut, "patrol backtest: give the span with --from and --to, e.g. --from -30d --to now (see --help)")
		return exitInvalid
	}
	now := time.Now().UTC()
	var span poller.Window
	var err error
	if span.Start, err = parseWhen(*from, now); err != nil {
		fmt.Fprintf(errOut, "patrol backtest: --from: %v\n", err)
		return exitInvalid
	}
	if span.End, err = parseWhen(*to, now); err != nil || span.End.IsZero() {
		fmt.Fprintf(errOut, "patrol backtest: --to: %v\n", orText(err, "give an end time"))
		return exitInvalid
	}
	span.Start, span.End = span.Start.Truncate(time.Second), span.End.Truncate(time.Second)
	if !span.Start.IsZero() && !span.Start.Before(span.End) {
		fmt.Fprintln(errOut, "patrol backtest: --from must be before --to")
		return exitInvalid
	}
	a, code := setup(ctx, *cfgPath, setupOptions{detect: true, searcher: true}, errOut)
	if a == nil {
		return code
	}
	defer a.close()
	selected, err := selectDetections(*a.dets.Load(), ids)
	if err != nil {
		fmt.Fprintf(errOut, "patrol backtest: %v\n", err)
		return exitInvalid
	}
	silences, err := tuning.OpenSilences(a.cfg.Detections.Silences, a.log)
	if err != nil {
		printProblems(errOut, err)
		return exitInvalid
	}
	// Plans are pure: the actions are built to plan, never to apply, and
	// nothing here calls AWS (not even to read aws.accounts).
	provider, err := aws.New(ctx, a.cfg.AWS, aws.Options{BaseDir: a.cfg.Dir, Logger: a.log})
	if err != nil {
		fmt.Fprintf(errOut, "patrol backtest: aws: %v\n", err)
		return exitFailed
	}
	meter := backtestMeter(errOut)
	ctx = progress.NewContext(ctx, meter)
	reports, err := backtest.Run(ctx, backtest.Options{
		Detections: sequencesLast(selected), Searcher: a.searcher, Tuner: &tuning.Tuner{Silences: silences},
		Router: poller.Router{Teams: a.cfg.Teams}, Actions: provider.Actions(), DryRun: a.cfg.AWS.DryRun, Label: a.cfg.Tickets.Label,
		Kinds:     func(db *state.DB, s poller.Searcher) []poller.Kind { return kinds(a.cfg, db, s, a.log) },
		MaxWindow: config.Duration(a.cfg.Search.MaxWindow), From: span.Start, To: span.End,
		Progress: progressLine(meter, showProgress(errOut)),
	})
	meter.Done()
	if err != nil {
		fmt.Fprintf(errOut, "patrol backtest: %v\n", err)
		return exitFailed
	}
	failed := false
	for _, r := range reports {
		failed = failed || r.Error != ""
		if *asJSON {
			b, _ := json.Marshal(r)
			fmt.Fprintf(out, "%s\n", b)
			continue
		}
		printBacktest(out, r)
	}
	if failed {
		return exitFailed
	}
	return exitOK
}

func orText(err error, text string) string {
	if err != nil {
		return err.Error()
	}
	return text
}

// printBacktest writes one detection's report: a summary line, then the
// tickets it would open and the remediations it would run.
func printBacktest(out io.Writer, r backtest.Report) {
	fmt.Fprintf(out, "%s (%s): windows=%d results=%d alerts=%d excepted=%d silenced=%d tickets=%d search=%.2fs",
		r.Detection, r.Stage, r.Windows, r.Results, r.Alerts, r.Excepted, r.Silenced, len(r.Tickets), r.SearchSeconds)
	if r.ScanCount > 0 || r.RunDurationSeconds > 0 {
		fmt.Fprintf(out, " splunk_scan_count=%d splunk_run_duration=%.2fs", r.ScanCount, r.RunDurationSeconds)
	}
	fmt.Fprintln(out)
	if r.Error != "" {
		fmt.Fprintf(out, "  FAILED: %s\n", r.Error)
	}
	for _, t := range r.Tickets {
		fmt.Fprintf(out, "  ticket  %s  %s\n", t.FirstSeen.Format(time.RFC3339), poller.CleanText(t.Summary))
	}
	for _, rem := range r.Remediations {
		mode := rem.Mode
		if rem.Grace != "" {
			mode += ", grace " + rem.Grace
		}
		if rem.DryRun {
			mode += ", dry run"
		}
		fmt.Fprintf(out, "  action  %s (%s) for: %s\n", rem.Action, mode, poller.CleanText(rem.Summary))
		text := rem.PlanText
		if rem.Error != "" {
			text = "cannot be planned: " + rem.Error
		}
		for _, line := range strings.Split(text, "\n") {
			fmt.Fprintf(out, "          %s\n", poller.CleanText(line))
		}
	}
}

// meterClock is the backtest meter's clock (nil: time.Now); tests step it.
var meterClock func() time.Time

// backtestMeter counts the objects and bytes a backtest reads (local files,
// S3 objects) and their rate. A backtest is a long job, often run with
// stderr going to a file or a CI log: there it prints plain lines (the
// detection it is at, counts every ten seconds of a long read, a summary
// at the end); on a terminal one line is redrawn in place.
func backtestMeter(errOut io.Writer) *progress.Meter {
	if showProgress(errOut) {
		return liveMeter(errOut, "backtest", meterClock)
	}
	m := progress.New(errOut, "backtest", meterClock)
	m.SetInterval(10 * time.Second)
	return m
}

// progressLine reports where a backtest is through its meter, so the
// detection, the window and the counts never garble each other: every
// window on a terminal, where the meter's line is redrawn in place, and
// one line per detection otherwise.
func progressLine(m *progress.Meter, term bool) func(backtest.Progress) {
	return func(p backtest.Progress) {
		if term {
			// Short: the counts follow on the same line.
			m.Status(fmt.Sprintf("detection %d/%d %s, window %d/%d", p.Index, p.Total, p.Detection, p.Windows, max(p.Spans, p.Windows)))
			return
		}
		m.Status(fmt.Sprintf("detection %d/%d %s (%d window(s))", p.Index, p.Total, p.Detection, p.Spans))
	}
}
