package aws

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/enrich"
)

// Options are what the provider needs besides its [aws] section.
type Options struct {
	// BaseDir is the config file's folder; relative paths are resolved
	// against it.
	BaseDir string
	Logger  *slog.Logger
	// Now is the clock (tests inject one); nil means time.Now.
	Now func() time.Time
	// Teams is the [[teams]] list, for routing.
	Teams []enrich.Team
	// AccountsCSV is enrich.accounts_csv: the fallback (or, with
	// Organizations off, the only) source of account names and owners.
	AccountsCSV string
	// OrgCIDRs is enrich.org_cidrs.
	OrgCIDRs []string
	// Credentials replaces the SDK's default credential chain (environment,
	// shared files, instance role) as the ambient credentials; nil keeps it.
	Credentials aws.CredentialsProvider

	// apiOptions are added to every client's middleware stack (tests record
	// the calls made).
	apiOptions []func(*middleware.Stack) error
}

// Provider is patrol's AWS integration: it builds per-account clients and
// hands out the enrichers and remediation actions.
type Provider struct {
	cfg        Config
	now        func() time.Time
	log        *slog.Logger
	base       aws.Config
	sts        stsAPI
	externalID string

	accounts enrich.Accounts
	teams    enrich.Teams
	networks *enrich.Networks

	// connect and orgs are replaced by tests that fake AWS.
	connect func(ctx context.Context, account, ticket string) (clientSet, error)
	orgs    func(ctx context.Context) (orgAPI, error)

	orgCache       *ttlCache[orgAnswer]
	principalCache *ttlCache[principalFacts]

	mu             sync.Mutex
	sessions       map[string]*cachedSession
	ambientAccount string
	orgIDs         []string // aws.accounts = "organization": read by LoadAccounts, sorted
}

// New builds the provider. It reads the external ID and accounts.csv but
// makes no AWS calls: credentials are resolved on first use.
func New(ctx context.Context, cfg Config, opts Options) (*Provider, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		es := make([]error, len(errs))
		for i, e := range errs {
			es[i] = e
		}
		return nil, fmt.Errorf("aws config: %w", errors.Join(es...))
	}
	if err := poller.CheckAWSEndpoints(cfg.EndpointURL, cfg.AllowInsecureHTTP); err != nil {
		return nil, fmt.Errorf("aws: %w", err)
	}
	p := &Provider{
		cfg:      cfg,
		now:      opts.Now,
		log:      opts.Logger,
		teams:    enrich.Teams(opts.Teams),
		sessions: map[string]*cachedSession{},
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if strings.HasPrefix(cfg.EndpointURL, "http://") {
		p.log.Warn("aws endpoint_url is http:// (allow_insecure_http): the session token and every answer travel in clear text", "url", cfg.EndpointURL)
	}
	if cfg.ExternalIDEnv != "" || cfg.ExternalIDFile != "" {
		id, err := poller.ReadSecret(cfg.ExternalIDEnv, cfg.ExternalIDFile, opts.BaseDir)
		if err != nil {
			return nil, fmt.Errorf("aws external id: %w", err)
		}
		p.externalID = id
	}
	csvPath := opts.AccountsCSV
	if csvPath != "" && !filepath.IsAbs(csvPath) {
		csvPath = filepath.Join(opts.BaseDir, csvPath)
	}
	var err error
	if p.accounts, err = enrich.LoadAccounts(csvPath); err != nil {
		return nil, err
	}
	if p.networks, err = enrich.NewNetworks(opts.OrgCIDRs); err != nil {
		return nil, err
	}

	loadOpts := []func(*config.LoadOptions) error{
		config.WithRegion(cfg.Region),
		config.WithAppID("patrol"),
		config.WithRetryer(func() aws.Retryer {
			return retry.AddWithMaxAttempts(retry.NewStandard(), cfg.MaxAttempts)
		}),
	}
	if opts.Credentials != nil {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(opts.Credentials))
	}
	if cfg.EndpointURL != "" {
		loadOpts = append(loadOpts, config.WithBaseEndpoint(cfg.EndpointURL))
	}
	if p.base, err = config.LoadDefaultConfig(ctx, loadOpts...); err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	p.base.APIOptions = append(p.base.APIOptions, opts.apiOptions...)
	p.sts = sts.NewFromConfig(p.base)
	p.connect = p.connectSDK
	p.orgs = p.orgClient
	p.orgCache = newTTLCache[orgAnswer](cfg.EnrichCacheTTL, p.now)
	p.principalCache = newTTLCache[principalFacts](cfg.EnrichCacheTTL, p.now)
	return p, nil
}

// Actions returns the remediation registry, keyed by action name.
func (p *Provider) Actions() map[string]poller.Action {
	return map[string]poller.Action{
		ActionStartLogging:       startLogging{p},
		ActionDisableAccessKey:   disableAccessKey{p},
		ActionBlockPublicAccess:  blockPublicAccess{p},
		ActionRevokeOpenIngress:  revokeOpenIngress{p},
		ActionRevokeSessions:     revokeSessions{p: p, kind: "role"},
		ActionRevokeUserSessions: revokeSessions{p: p, kind: "user"},
		ActionQuarantine:         quarantinePrincipal{p},
	}
}

// Enrichers returns the AWS-mode enrichers: account (Organizations when on,
// then accounts.csv), principal (IAM tags, MFA, access key owner) and
// source address (org_cidrs). They replace, not add to, the local ones in
// package enrich.
func (p *Provider) Enrichers() []poller.Enricher {
	return []poller.Enricher{
		accountEnricher{p},
		principalEnricher{p},
		enrich.NetworkEnricher{Networks: p.networks},
	}
}
