package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/detections/spl"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/config"
	"github.com/patrolsec/patrol/poller/splunk"
	"github.com/patrolsec/patrol/poller/tuning"
)

func cmdValidate(ctx context.Context, args []string, out, errOut io.Writer) int {
	fs, cfgPath := flags("validate", errOut)
	remote := fs.Bool("remote", false, "also ask each backend who patrol is there (Splunk server info, Jira /myself, Slack auth.test, STS GetCallerIdentity), then have Splunk parse every search")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if !wantArgs(fs, 0, 0) {
		return exitInvalid
	}
	cfg, code := loadConfig(*cfgPath, out)
	if cfg == nil {
		return code
	}
	// Every problem is reported in one run: an invalid detection hides
	// neither a secret that cannot be read nor a backend that does not
	// answer.
	ds, derr := loadDetections(cfg)
	if _, serr := tuning.LoadSilences(cfg.Detections.Silences); serr != nil {
		derr = errors.Join(derr, serr)
	}
	problems := derr
	if err := config.CheckSecrets(cfg); err != nil {
		problems = errors.Join(problems, err)
	}
	if problems != nil {
		printProblems(out, problems)
	}
	for _, w := range config.Warnings(cfg, ds) {
		if derr != nil && w.Key == "detections.dir" {
			continue // the folder has detections, only invalid ones
		}
		fmt.Fprintln(out, w.Error())
	}
	code = exitOK
	if problems != nil {
		code = exitInvalid
	}
	if *remote {
		switch validateRemote(ctx, cfg, ds, out, errOut) {
		case exitInvalid:
			code = exitInvalid
		case exitFailed:
			if code == exitOK {
				code = exitFailed // invalid (2) says more than unreachable (1)
			}
		}
	}
	if code == exitOK {
		fmt.Fprintf(out, "ok: %s and %d detection(s) in %s are valid\n", cfg.File, len(ds), cfg.Detections.Dir)
	}
	return code
}

// validateRemote probes every remote backend at once and prints who patrol
// is on each, or every one that does not answer (exit 1). When Splunk
// answers, it then asks Splunk to parse each detection's expanded search
// and prints file: search: message for each it rejects (exit 2, which
// wins over 1).
func validateRemote(ctx context.Context, cfg *config.Config, ds []*detections.Detection, out, errOut io.Writer) int {
	results := probeBackends(ctx, cfg, true)
	if len(results) == 0 {
		fmt.Fprintln(out, "remote: nothing to check: every backend in the config is local")
		return exitOK
	}
	code := exitOK
	if printProbeFailures(errOut, results) > 0 {
		fmt.Fprintln(errOut, "patrol validate --remote: the backends above failed the check")
		code = exitFailed
	}
	splunkAnswers := false
	for _, r := range results {
		if r.err != nil {
			continue
		}
		splunkAnswers = splunkAnswers || r.backend == "splunk"
		fmt.Fprintf(out, "remote: %-6s %s answers: %s\n", r.backend, r.url, poller.CleanText(r.who))
	}
	if cfg.Search.Backend != "splunk" || !splunkAnswers {
		return code
	}
	s, err := splunk.New(cfg.Search.Splunk, cfg.Dir, nil)
	if err != nil {
		fmt.Fprintf(errOut, "patrol validate --remote: %v\n", err)
		return exitFailed
	}
	bad := 0
	for _, d := range ds {
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := s.Parse(pctx, d.Expanded)
		cancel()
		if err == nil {
			continue
		}
		if r, ok := err.(interface{ Retryable() bool }); ok && r.Retryable() {
			fmt.Fprintf(errOut, "patrol validate --remote: %s: Splunk stopped answering: %s\n", d.File, truncate(cause(err), 300))
			return exitFailed
		}
		bad++
		fmt.Fprintf(out, "%s: search: Splunk: %s\n", d.File, poller.CleanText(truncate(err.Error(), 300)))
	}
	missing, err := missingLookups(ctx, s, ds)
	if err != nil {
		fmt.Fprintf(errOut, "patrol validate --remote: Splunk stopped answering: %s\n", truncate(cause(err), 300))
		return exitFailed
	}
	for _, m := range missing {
		bad++
		fmt.Fprintf(out, "%s: search: lookup %q does not exist in Splunk (app %q): create it (README.md, \"Splunk lookups\")\n", m.file, m.name, cfg.Search.Splunk.App)
	}
	absent, err := orgAccountsNotInSplunk(ctx, s, cfg, ds, missing)
	if err != nil {
		fmt.Fprintf(errOut, "patrol validate --remote: reading Splunk's %s lookup: %s\n", detections.OrgAccountsLookup, truncate(cause(err), 300))
		return exitFailed
	}
	lines := detections.ScanKeyLines(readFile(cfg.File))
	for _, id := range absent {
		p := &detections.Problem{File: cfg.File, Line: lines.Line("aws.accounts"), Key: "aws.accounts",
			Msg: fmt.Sprintf("warning: %s is not in Splunk's %s lookup: searches on Splunk count its VPC endpoints and the shares with it as outside the organization. Add it to the lookup (README.md, \"Splunk lookups\")", id, detections.OrgAccountsLookup)}
		fmt.Fprintln(out, p.Error())
	}
	if bad > 0 {
		return exitInvalid
	}
	fmt.Fprintf(out, "remote: Splunk parses all %d searches and has the lookups they use\n", len(ds))
	return code
}

// orgAccountsNotInSplunk lists the aws.accounts ids that Splunk's
// org_accounts lookup lacks, when a detection consults it and it exists.
// The local engine adds them to the lookup itself; on Splunk the lookup is
// Splunk's own table, so an id missing there means a false alert.
// aws.accounts = "organization" is not read here (that needs AWS).
func orgAccountsNotInSplunk(ctx context.Context, s *splunk.Searcher, cfg *config.Config, ds []*detections.Detection, missing []missingLookup) ([]string, error) {
	if len(cfg.AWS.Accounts.IDs) == 0 {
		return nil, nil
	}
	for _, m := range missing {
		if m.name == detections.OrgAccountsLookup {
			return nil, nil // already reported
		}
	}
	used := false
	for _, d := range ds {
		if q, err := spl.Parse(d.Expanded); err == nil && slices.Contains(q.Lookups(), detections.OrgAccountsLookup) {
			used = true
			break
		}
	}
	if !used {
		return nil, nil
	}
	have := map[string]bool{}
	q := poller.Query{SPL: "| inputlookup " + detections.OrgAccountsLookup + " | fields " + detections.OrgAccountsColumn,
		Window: poller.Window{End: time.Now()}, TimeMode: poller.EventTime}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := s.Search(pctx, q, func(r poller.Result) error {
		for _, v := range r[detections.OrgAccountsColumn] {
			have[strings.TrimSpace(v)] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, id := range cfg.AWS.Accounts.IDs {
		if !have[id] {
			out = append(out, id)
		}
	}
	return out, nil
}

type missingLookup struct{ file, name string }

// missingLookups asks Splunk for every lookup the detections use (where
// the local parser can read their searches) and lists those it lacks,
// once per lookup, at the first detection that uses it.
func missingLookups(ctx context.Context, s *splunk.Searcher, ds []*detections.Detection) ([]missingLookup, error) {
	var out []missingLookup
	asked := map[string]bool{}
	for _, d := range ds {
		q, err := spl.Parse(d.Expanded)
		if err != nil {
			continue
		}
		for _, name := range q.Lookups() {
			if asked[name] {
				continue
			}
			asked[name] = true
			pctx, cancel := context.WithTimeout(ctx, probeTimeout)
			ok, err := s.LookupExists(pctx, name)
			cancel()
			if err != nil {
				return nil, err
			}
			if !ok {
				out = append(out, missingLookup{d.File, name})
			}
		}
	}
	return out, nil
}

// readFile returns a file's text, or "" when it cannot be read (a line
// number is then left out).
func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}
