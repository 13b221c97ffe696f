package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
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

// newSearcher builds the search backend; onSkip hears what the local engine
// skips for being over a limit (metrics), accounts gives the organization's
// accounts (aws.accounts) at each search. The local engine reads the
// s3:// entries of search.local.paths through the S3 reader, which
// remembers the objects detect windows read in ledger (the state file).
func newSearcher(ctx context.Context, cfg *config.Config, log *slog.Logger, ledger s3.Ledger, onSkip func(reason string), accounts func() []string) (poller.Searcher, error) {
	switch cfg.Search.Backend {
	case "local":
		opts := local.Options{BaseDir: cfg.Dir, Lookups: cfg.Search.Lookups, Index: cfg.Search.Local.Index,
			AllowCommands: cfg.Search.Splunk.AllowCommands, Limits: cfg.LocalLimits(), Logger: log, OnSkip: onSkip,
			Rows: orgAccountRows(cfg, accounts)}
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
			if u := cfg.Search.Local.S3.EndpointURL; strings.HasPrefix(u, "http://") {
				log.Warn("search.local.s3 endpoint_url is http:// (allow_insecure_http): the session token and the logs travel in clear text", "url", u)
			}
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
			if _, ok := cfg.Search.Lookups[name]; !ok && (name != detections.OrgAccountsLookup || !cfg.AWS.Accounts.Set()) {
				return fmt.Errorf("lookup %q is not in [search.lookups]", name)
			}
		}
		return nil
	}
}

// newJira builds the Jira tracker and checks the server answers as the
// configured flavor, with working credentials.
func newJira(ctx context.Context, cfg *config.Config, log *slog.Logger) (poller.Tracker, error) {
	t, err := jira.New(cfg.Tickets.Jira, jira.Options{Label: cfg.Tickets.Label, BaseDir: cfg.Dir, Logger: log, Approvers: cfg.Tickets.Approvers})
	if err != nil {
		return nil, err
	}
	if err := t.Check(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// trackerTiming returns the tracker's search lag (how long after a create
// whose outcome is unknown its ticket is looked up) and the longest one
// create may take (its tries and the waits between them). The local store has neither: its creates are
// transactions in the state file.
func trackerTiming(cfg *config.Config) (lag, createTimeout time.Duration) {
	if cfg.Tickets.Backend == "jira" {
		return config.Duration(cfg.Tickets.Jira.IndexLag), jira.CreateDeadline(cfg.Tickets.Jira)
	}
	return 0, 0
}

// newSlack builds the Slack notifier; its token was checked by the probe
// (auth.test) that runs before the jobs are built.
func newSlack(cfg *config.Config, log *slog.Logger) (poller.Notifier, error) {
	return slack.New(cfg.Notify.Slack, slack.Options{BaseDir: cfg.Dir, Logger: log})
}

// newAWS builds the AWS provider (the remediation actions), the enrichers
// and the guardrails. With enrich.aws off (local mode), enrichment uses
// accounts.csv and org_cidrs only and makes no AWS calls; the actions make
// none until applied, which dry run never does. With aws.accounts =
// "organization" the accounts are read from AWS Organizations here.
func newAWS(ctx context.Context, cfg *config.Config, log *slog.Logger) (*aws.Provider, []poller.Enricher, poller.Guard, error) {
	teams := enrich.Teams(cfg.Teams)
	p, err := aws.New(ctx, cfg.AWS, aws.Options{BaseDir: cfg.Dir, Logger: log, Teams: teams,
		AccountsCSV: cfg.Enrich.AccountsCSV, OrgCIDRs: cfg.Enrich.OrgCIDRs})
	if err != nil {
		return nil, nil, poller.Guard{}, err
	}
	guard := poller.Guard{DryRun: cfg.AWS.DryRun, ProtectedPrincipals: cfg.AWS.ProtectedPrincipals,
		ProtectedAccounts: cfg.AWS.ProtectedAccounts, MaxPerHour: cfg.AWS.MaxActionsPerHour,
		BreakerFailures: cfg.AWS.BreakerFailures, ResolvePath: p.ResolvePath}
	if p.HasAccounts() {
		if err := p.LoadAccounts(ctx); err != nil {
			return nil, nil, guard, err
		}
		guard.InAccounts = p.InAccounts
	}
	if cfg.Enrich.AWS {
		return p, p.Enrichers(), guard, nil
	}
	nets, err := enrich.NewNetworks(cfg.Enrich.OrgCIDRs)
	if err != nil {
		return nil, nil, guard, err
	}
	var accounts enrich.Accounts
	if cfg.Enrich.AccountsCSV != "" {
		if accounts, err = enrich.LoadAccounts(cfg.Enrich.AccountsCSV); err != nil {
			return nil, nil, guard, err
		}
	}
	return p, []poller.Enricher{enrich.AccountEnricher{Accounts: accounts, Teams: teams}, enrich.NetworkEnricher{Networks: nets}}, guard, nil
}

// newFileSearcher searches one events file (detection tests) with the
// config's lookups, whatever the production backend. The organization's
// accounts are aws.accounts' ids: a test reads no AWS Organizations.
func newFileSearcher(cfg *config.Config, path string, log *slog.Logger) (poller.Searcher, error) {
	return local.NewSearcher(local.Options{Paths: []string{path}, BaseDir: cfg.Dir, Lookups: cfg.Search.Lookups, Index: cfg.Search.Local.Index,
		AllowCommands: cfg.Search.Splunk.AllowCommands, Limits: cfg.LocalLimits(), Logger: log, Rows: orgAccountRows(cfg, nil)}), nil
}

// orgAccountRows gives the local engine the organization's accounts as
// rows of the org_accounts lookup, so that an account in aws.accounts
// counts as the organization's in every detection that consults it, even
// when the lookup's CSV lists only some, or when there is no CSV at all.
// accounts, when set, gives the current ids (aws.accounts =
// "organization" is read from AWS Organizations, again on reload); nil
// means the ids aws.accounts lists. Without aws.accounts the lookup is the
// CSV alone.
func orgAccountRows(cfg *config.Config, accounts func() []string) func() map[string]spl.Table {
	if !cfg.AWS.Accounts.Set() {
		return nil
	}
	if accounts == nil {
		accounts = func() []string { return cfg.AWS.Accounts.IDs }
	}
	return func() map[string]spl.Table {
		t := spl.Table{Columns: []string{detections.OrgAccountsColumn}}
		for _, id := range accounts() {
			t.Rows = append(t.Rows, []string{id})
		}
		return map[string]spl.Table{detections.OrgAccountsLookup: t}
	}
}
