package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/config"
	"github.com/patrolsec/patrol/poller/tuning"
	"github.com/patrolsec/patrol/state"
)

// silenceView is a silence as `patrol silence list` shows it.
type silenceView struct {
	ID         string              `json:"id"`
	State      string              `json:"state"` // active | future | expired
	Detections []string            `json:"detections"`
	Match      map[string][]string `json:"match,omitempty"`
	Starts     time.Time           `json:"starts,omitzero"`
	Expires    time.Time           `json:"expires"`
	Owner      string              `json:"owner"`
	Reason     string              `json:"reason"`
	Alerts     int                 `json:"alerts"`  // alerts it muted
	Results    int                 `json:"results"` // their results
	LastMuted  time.Time           `json:"last_muted,omitzero"`
}

func cmdSilence(ctx context.Context, args []string, out, errOut io.Writer) int {
	fs, cfgPath := flags("silence", errOut)
	var dets, matches multiFlag
	fs.Var(&dets, "detection", "add: a detection id or glob it silences (repeatable)")
	fs.Var(&matches, "match", "add: FIELD=GLOB a result must have to be silenced (repeatable; a field given twice matches either value)")
	forSpan := fs.String("for", "", "add: how long it lasts from --starts, e.g. 2h or 3d")
	until := fs.String("until", "", "add: when it ends: RFC 3339, a date (its end, UTC) or a relative time like +4h")
	starts := fs.String("starts", "now", "add: when it starts: RFC 3339, a relative time like -1h, \"now\", or \"always\" (results of any time before it ends)")
	reason := fs.String("reason", "", "add: why these alerts need no ticket now")
	owner := fs.String("owner", "", "add: who answers for the silence; default: the login name")
	id := fs.String("id", "", "add: the silence's id; default: made from the first detection and the start")
	asJSON := fs.Bool("json", false, "list: print one JSON object per silence")
	if code, stop := parse(fs, args); stop {
		return code
	}
	sub := fs.Arg(0)
	if fs.NArg() != 1 || (sub != "add" && sub != "list") {
		fmt.Fprintln(errOut, "patrol silence: say add or list (patrol silence add --detection ID --for 2h --reason TEXT --owner NAME; patrol silence list)")
		return exitInvalid
	}
	cfg, code := loadConfig(*cfgPath, errOut)
	if cfg == nil {
		return code
	}
	if sub == "list" {
		return silenceList(ctx, cfg.Detections.Silences, cfg.State.Path, *asJSON, out, errOut)
	}
	now := time.Now().UTC().Truncate(time.Second)
	ns := tuning.NewSilence{ID: *id, Detections: dets, Reason: strings.TrimSpace(*reason), Owner: strings.TrimSpace(*owner), Match: map[string][]string{}}
	ns.Owner = orLoginName(ns.Owner)
	var problems []string
	if len(dets) == 0 {
		problems = append(problems, "--detection is required (an id or a glob like \"ec2-*\")")
	}
	if ns.Reason == "" {
		problems = append(problems, "--reason is required")
	}
	if ns.Owner == "" {
		problems = append(problems, "--owner is required")
	}
	for _, m := range matches {
		field, glob, ok := strings.Cut(m, "=")
		if !ok || strings.TrimSpace(field) == "" || glob == "" {
			problems = append(problems, fmt.Sprintf("--match %q: want FIELD=GLOB", m))
			continue
		}
		ns.Match[field] = append(ns.Match[field], glob)
	}
	if *starts != "always" {
		t, err := parseWhen(*starts, now)
		if err != nil {
			problems = append(problems, "--starts: "+err.Error())
		}
		ns.Starts = t
	}
	switch {
	case (*forSpan == "") == (*until == ""):
		problems = append(problems, "give exactly one of --for DURATION and --until TIME")
	case *forSpan != "":
		d, err := detections.ParseDuration(*forSpan)
		if err != nil || d <= 0 {
			problems = append(problems, fmt.Sprintf("--for %q: want a span like 2h or 3d", *forSpan))
		}
		base := ns.Starts
		if base.IsZero() {
			base = now
		}
		ns.Expires = base.Add(d)
	default:
		t, err := parseUntil(*until, now)
		if err != nil {
			problems = append(problems, "--until: "+err.Error())
		}
		ns.Expires = t
	}
	if len(problems) == 0 {
		if err := coverLoaded(cfg, dets); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(errOut, "patrol silence add: %s\n", p)
		}
		return exitInvalid
	}
	s, err := tuning.AppendSilence(cfg.Detections.Silences, ns, now)
	if err != nil {
		fmt.Fprintf(errOut, "patrol silence add: %v\n", err)
		return exitInvalid
	}
	from := "any time"
	if !s.Starts.IsZero() {
		from = s.Starts.Format(time.RFC3339)
	}
	fmt.Fprintf(out, "added silence %q to %s: %s, results from %s until %s. 'patrol run' applies it before its next search.\n",
		s.ID, cfg.Detections.Silences, strings.Join(s.Detections, ", "), from, s.Expires.Format(time.RFC3339))
	return exitOK
}

// parseUntil reads --until: the forms of --from, "+SPAN" ahead of now, and
// a date meaning the end of that day (UTC).
func parseUntil(s string, now time.Time) (time.Time, error) {
	if rest, ok := strings.CutPrefix(s, "+"); ok {
		d, err := detections.ParseDuration(rest)
		return now.Add(d), err
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.AddDate(0, 0, 1), nil
	}
	t, err := parseWhen(s, now)
	if err == nil && t.IsZero() {
		err = fmt.Errorf("%q is not an end time", s)
	}
	return t, err
}

// coverLoaded checks that each detection id or glob names at least one
// loaded detection: a silence for a mistyped id would silence nothing.
func coverLoaded(cfg *config.Config, dets []string) error {
	ds, _ := loadDetections(cfg) // a broken file elsewhere does not stop a silence
	for _, p := range dets {
		s := tuning.Silence{Detections: []string{p}}
		found := false
		for _, d := range ds {
			found = found || s.Covers(d.ID)
		}
		if !found {
			return fmt.Errorf("--detection %q names no detection in %s", p, cfg.Detections.Dir)
		}
	}
	return nil
}

func silenceList(ctx context.Context, path, statePath string, asJSON bool, out, errOut io.Writer) int {
	ss, err := tuning.LoadSilences(path)
	if err != nil {
		printProblems(errOut, err)
		return exitInvalid
	}
	counts := map[string]state.MuteCount{}
	db, err := openExisting(statePath)
	if err != nil {
		fmt.Fprintf(errOut, "patrol silence list: %v\n", err)
		return exitFailed
	}
	if db != nil {
		defer db.Close()
		cs, err := db.SilenceCounts(ctx, time.Time{}, time.Time{})
		if err != nil {
			fmt.Fprintf(errOut, "patrol silence list: %v\n", err)
			return exitFailed
		}
		for _, c := range cs {
			counts[c.Key] = c
		}
	}
	now := time.Now()
	var views []silenceView
	for _, s := range ss {
		c := counts[s.ID]
		views = append(views, silenceView{ID: s.ID, State: s.State(now), Detections: s.Detections, Match: s.Match, Starts: s.Starts,
			Expires: s.Expires, Owner: s.Owner, Reason: s.Reason, Alerts: c.Alerts, Results: c.Results, LastMuted: c.Last})
	}
	if asJSON {
		for _, v := range views {
			b, _ := json.Marshal(v)
			fmt.Fprintf(out, "%s\n", b)
		}
		return exitOK
	}
	if len(views) == 0 {
		fmt.Fprintf(out, "no silences in %s\n", path)
		return exitOK
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tDETECTIONS\tMATCH\tSTARTS\tEXPIRES\tOWNER\tALERTS MUTED\tREASON")
	for _, v := range views {
		starts := "always"
		if !v.Starts.IsZero() {
			starts = v.Starts.Format(time.RFC3339)
		}
		match := "-"
		if len(v.Match) > 0 {
			match = detections.InlineMatch(v.Match)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d (%d results)\t%s\n", poller.CleanText(v.ID), v.State, poller.CleanText(strings.Join(v.Detections, ",")),
			poller.CleanText(match), starts, v.Expires.Format(time.RFC3339), poller.CleanText(v.Owner), v.Alerts, v.Results, poller.CleanText(truncate(v.Reason, 60)))
	}
	tw.Flush()
	return exitOK
}
