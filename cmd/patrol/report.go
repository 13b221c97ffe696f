package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller/report"
	"github.com/patrolsec/patrol/poller/tuning"
	"github.com/patrolsec/patrol/state"
)

var reportDefaults = map[string]string{"html": "patrol-report.html", "json": "patrol-report.json", "csv": "patrol-report"}

func cmdReport(ctx context.Context, args []string, out, errOut io.Writer) int {
	fs, cfgPath := flags("report", errOut)
	from := fs.String("from", "-30d", "start of the span (inclusive): RFC 3339, a date, a relative span like -90d, or \"all\"")
	to := fs.String("to", "now", "end of the span (exclusive): same forms as --from")
	format := fs.String("format", "html", "html (one self-contained page), csv (a folder of one file per table) or json")
	outPath := fs.String("out", "", "where to write: default patrol-report.html, patrol-report.json or the folder patrol-report/ (csv); - writes html or json to stdout")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if _, ok := reportDefaults[*format]; !ok || fs.NArg() > 0 {
		fmt.Fprintf(errOut, "patrol report: --format must be html, csv or json (got %q), and no arguments follow the flags\n", *format)
		return exitInvalid
	}
	if *outPath == "" {
		*outPath = reportDefaults[*format]
	}
	if *outPath == "-" && *format == "csv" {
		fmt.Fprintln(errOut, "patrol report: --format csv writes a folder of files: give --out DIR")
		return exitInvalid
	}
	now := time.Now().UTC()
	var opt report.Options
	var err error
	if opt.From, err = parseWhen(*from, now); err != nil {
		fmt.Fprintf(errOut, "patrol report: --from: %v\n", err)
		return exitInvalid
	}
	if opt.To, err = parseWhen(*to, now); err != nil || opt.To.IsZero() {
		fmt.Fprintf(errOut, "patrol report: --to: %v\n", orAll(err))
		return exitInvalid
	}
	if !opt.From.IsZero() && !opt.From.Before(opt.To) {
		fmt.Fprintf(errOut, "patrol report: the span is empty: --from (%s) must be before --to (%s)\n", opt.From.Format(time.RFC3339), opt.To.Format(time.RFC3339))
		return exitInvalid
	}
	a, code := setup(ctx, *cfgPath, setupOptions{detect: true}, errOut)
	if a == nil {
		return code
	}
	defer a.close()
	dets := *a.dets.Load()
	cov := coverageOf(dets) // ATT&CK techniques and stage, as patrol coverage reads them
	for i, d := range dets {
		rd := report.Detection{ID: d.ID, Title: d.Title, Severity: d.Severity, Kind: report.KindSearch,
			Attack: cov[i].Techniques, Stage: cov[i].Stage}
		switch {
		case d.Sequence != nil:
			rd.Kind = report.KindSequence
		case d.FirstSeen != nil:
			rd.Kind = report.KindFirstSeen
		}
		if d.Remediation != nil {
			rd.Action, rd.Mode = d.Remediation.Action, d.Remediation.Mode
		}
		opt.Detections = append(opt.Detections, rd)
		for _, e := range d.Exceptions {
			opt.Exceptions = append(opt.Exceptions, report.Exception{Detection: d.ID, Key: e.Key(), Match: e.String(),
				Reason: e.Reason, Owner: e.Owner, Ticket: e.Ticket, Expires: e.Expires})
		}
		if d.Shadow() {
			opt.Shadow = append(opt.Shadow, d.ID)
		}
	}
	silences, err := tuning.LoadSilences(a.cfg.Detections.Silences)
	if err != nil {
		printProblems(errOut, err)
		return exitInvalid
	}
	for _, sl := range silences {
		match := ""
		if len(sl.Match) > 0 {
			match = detections.InlineMatch(sl.Match)
		}
		opt.Silences = append(opt.Silences, report.Silence{ID: sl.ID, Detections: strings.Join(sl.Detections, ", "), Match: match,
			Owner: sl.Owner, Reason: sl.Reason, Starts: sl.Starts, Expires: sl.Expires})
	}
	opt.Now, opt.Source = now, a.cfg.State.Path
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, opt.Source); err == nil && !strings.HasPrefix(rel, "..") {
			opt.Source = rel // the header names the file as the user would
		}
	}
	opt.ApproveLabel, opt.Approvers, opt.DoneStatuses = a.cfg.Tickets.ApproveLabel, a.cfg.Tickets.Approvers, []string{a.cfg.Tickets.DoneTransition}
	db, err := state.OpenReadOnly(a.cfg.State.Path)
	if err != nil {
		fmt.Fprintf(errOut, "patrol report: %v\n(run 'patrol once' or 'patrol run' first, or point --config at the state.path to report on)\n", err)
		return exitFailed
	}
	defer db.Close()
	rep, err := report.Build(ctx, db, opt)
	if err != nil {
		fmt.Fprintf(errOut, "patrol report: %v\n", err)
		return exitFailed
	}
	switch {
	case *outPath == "-" && *format == "json":
		err = rep.WriteJSON(out)
	case *outPath == "-":
		err = rep.WriteHTML(out)
	default:
		err = rep.WriteFile(*outPath, *format)
	}
	if err != nil {
		fmt.Fprintf(errOut, "patrol report: write %s: %v\n", *outPath, err)
		return exitFailed
	}
	if *outPath != "-" {
		fmt.Fprintf(errOut, "patrol report: wrote %s (%s to %s UTC)\n", *outPath, rep.From.Format("2006-01-02 15:04"), rep.To.Format("2006-01-02 15:04"))
	}
	return exitOK
}

func orAll(err error) error {
	if err == nil {
		return fmt.Errorf("the span needs an end: \"all\" is only for --from")
	}
	return err
}
