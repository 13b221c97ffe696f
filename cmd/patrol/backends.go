package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/patrolsec/patrol/detections/spl"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/aws"
	"github.com/patrolsec/patrol/poller/config"
	"github.com/patrolsec/patrol/poller/enrich"
	"github.com/patrolsec/patrol/poller/jira"
	"github.com/patrolsec/patrol/poller/local"
	"github.com/patrolsec/patrol/poller/slack"
	"github.com/patrolsec/patrol/poller/splunk"
)

func newSearcher(cfg *config.Config, log *slog.Logger, progress io.Writer) (poller.Searcher, error) {
	switch cfg.Search.Backend {
	case "local":
		return local.NewSearcher(local.Options{Paths: cfg.Search.Local.Paths, BaseDir: cfg.Dir, Lookups: cfg.Search.Lookups,
			Index: cfg.Search.Local.Index, Progress: progressWriter(progress)}), nil
	case "splunk":
		return splunk.New(cfg.Search.Splunk, cfg.Dir, log)
	}
	return nil, fmt.Errorf("unknown search.backend %q", cfg.Search.Backend)
}

// progressWriter passes progress lines through only to a terminal.
func progressWriter(w io.Writer) io.Writer {
	if isTerminal(w) {
		return w
	}
	return nil
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

// newSlack builds the Slack notifier; its token was checked by the probe
// (auth.test) that runs before the jobs are built.
func newSlack(cfg *config.Config, log *slog.Logger) (poller.Notifier, error) {
	return slack.New(cfg.Notify.Slack, slack.Options{BaseDir: cfg.Dir, Logger: log})
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
