package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/detections/spl"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/aws"
	"github.com/patrolsec/patrol/poller/config"
	"github.com/patrolsec/patrol/poller/enrich"
	"github.com/patrolsec/patrol/poller/jira"
	"github.com/patrolsec/patrol/poller/local"
	"github.com/patrolsec/patrol/poller/local/s3"
	"github.com/patrolsec/patrol/poller/slack"
	"github.com/patrolsec/patrol/poller/splunk"
)

// newSearcher builds the search backend. The local engine reads the
// s3:// entries of search.local.paths through the S3 reader, which
// remembers the objects detect windows read in ledger (the state file).
func newSearcher(ctx context.Context, cfg *config.Config, log *slog.Logger, ledger s3.Ledger) (poller.Searcher, error) {
	switch cfg.Search.Backend {
	case "local":
		opts := local.Options{BaseDir: cfg.Dir, Lookups: cfg.Search.Lookups, Index: cfg.Search.Local.Index}
		var urls []string
		for _, p := range cfg.Search.Local.Paths {
			if s3.IsURL(p) {
				urls = append(urls, p)
			} else {
				opts.Paths = append(opts.Paths, p)
			}
		}
		if len(urls) > 0 {
			src, err := s3.New(ctx, cfg.Search.Local.S3, urls, s3.Options{Region: cfg.AWS.Region, MaxAttempts: cfg.AWS.MaxAttempts, Ledger: ledger})
			if err != nil {
				return nil, err
			}
			opts.Remotes = []local.Remote{src}
		}
		return local.NewSearcher(opts), nil
	case "splunk":
		return splunk.New(cfg.Search.Splunk, cfg.Dir, log)
	}
	return nil, fmt.Errorf("unknown search.backend %q", cfg.Search.Backend)
}

// checkSPL returns the offline check detections are validated with: the
// local engine parses the search and every lookup it uses must be
// configured. Splunk-only SPL fails it, so on Splunk it is not applied.
func checkSPL(cfg *config.Config) func(string) error {
	if cfg.Search.Backend != "local" {
		return nil
	}
	return func(q string) error {
		parsed, err := spl.Parse(q)
		if err != nil {
			return err
		}
		for _, name := range parsed.Lookups() {
			if _, ok := cfg.Search.Lookups[name]; !ok {
				return fmt.Errorf("lookup %q is not in [search.lookups]", name)
			}
		}
		return nil
	}
}

// newJira builds the Jira tracker and checks the server answers as the
// configured flavor, with working credentials.
func newJira(ctx context.Context, cfg *config.Config, log *slog.Logger) (poller.Tracker, error) {
	t, err := jira.New(cfg.Tickets.Jira, jira.Options{Label: cfg.Tickets.Label, BaseDir: cfg.Dir, Logger: log})
	if err != nil {
		return nil, err
	}
	if err := t.Check(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// recoveryDelay is how long a pending alert waits before its ticket is
// looked up: the tracker's search lag.
func recoveryDelay(cfg *config.Config) time.Duration {
	if cfg.Tickets.Backend == "jira" {
		return config.Duration(cfg.Tickets.Jira.IndexLag)
	}
	return 0
}

func newSlack(cfg *config.Config, log *slog.Logger) (poller.Notifier, error) {
	n, err := slack.New(cfg.Notify.Slack, slack.Options{BaseDir: cfg.Dir, Logger: log})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Check(ctx); err != nil {
		return nil, err
	}
	return n, nil
}

// newAWS builds the remediation actions and the enrichers. With
// enrich.aws off (local mode), enrichment uses accounts.csv and org_cidrs
// only and makes no AWS calls; the actions make none until applied, which
// dry run never does.
func newAWS(ctx context.Context, cfg *config.Config, log *slog.Logger) (map[string]poller.Action, []poller.Enricher, error) {
	teams := enrich.Teams(cfg.Teams)
	p, err := aws.New(ctx, cfg.AWS, aws.Options{BaseDir: cfg.Dir, Logger: log, Teams: teams,
		AccountsCSV: cfg.Enrich.AccountsCSV, OrgCIDRs: cfg.Enrich.OrgCIDRs})
	if err != nil {
		return nil, nil, err
	}
	if cfg.Enrich.AWS {
		return p.Actions(), p.Enrichers(), nil
	}
	nets, err := enrich.NewNetworks(cfg.Enrich.OrgCIDRs)
	if err != nil {
		return nil, nil, err
	}
	var accounts enrich.Accounts
	if cfg.Enrich.AccountsCSV != "" {
		if accounts, err = enrich.LoadAccounts(cfg.Enrich.AccountsCSV); err != nil {
			return nil, nil, err
		}
	}
	return p.Actions(), []poller.Enricher{enrich.AccountEnricher{Accounts: accounts, Teams: teams}, enrich.NetworkEnricher{Networks: nets}}, nil
}

// newFileSearcher searches one events file (detection tests) with the
// config's lookups, whatever the production backend.
func newFileSearcher(cfg *config.Config, path string) (poller.Searcher, error) {
	return local.NewSearcher(local.Options{Paths: []string{path}, BaseDir: cfg.Dir, Lookups: cfg.Search.Lookups, Index: cfg.Search.Local.Index}), nil
}

// validateRemote asks Splunk to parse each detection's expanded search and
// prints file: search: message for each it rejects.
func validateRemote(ctx context.Context, cfg *config.Config, ds []*detections.Detection, out, errOut io.Writer) int {
	if cfg.Search.Backend != "splunk" {
		fmt.Fprintln(errOut, "patrol validate --remote: search.backend is not \"splunk\"")
		return exitInvalid
	}
	s, err := splunk.New(cfg.Search.Splunk, cfg.Dir, newLogger(errOut))
	if err != nil {
		fmt.Fprintf(errOut, "patrol validate --remote: %v\n", err)
		return exitFailed
	}
	bad := 0
	for _, d := range ds {
		if err := s.Parse(ctx, d.Expanded); err != nil {
			bad++
			fmt.Fprintf(out, "%s: search: Splunk: %v\n", d.File, err)
		}
	}
	if bad > 0 {
		return exitInvalid
	}
	return exitOK
}
