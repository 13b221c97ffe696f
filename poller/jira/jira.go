// Package jira is patrol's Jira ticket backend (Cloud and Data Center),
// built on andygrunwald/go-jira.
//
// The flavors differ in more than the URL: Cloud searches with
// /rest/api/2/search/jql (token paging, eventually consistent), takes ADF
// on REST v3 and names people by accountId; Data Center searches with
// /rest/api/2/search (startAt/total), takes wiki markup on REST v2 and
// names people by user name. Check verifies that the configured flavor is
// the one the server reports.
package jira

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // the Jira account's zone must load on hosts without zoneinfo

	gojira "github.com/andygrunwald/go-jira"

	"github.com/patrolsec/patrol/poller"
)

// Options are what the wiring gives a Tracker besides its config section.
type Options struct {
	// Label is [tickets] label: every ticket patrol makes or handles
	// carries it, and Poll searches for it.
	Label string
	// BaseDir is the config file's folder; relative *_file secrets are
	// read from it.
	BaseDir string
	Logger  *slog.Logger
	// HTTPClient is optional; by default a client with the configured
	// timeout is used.
	HTTPClient *http.Client
	// Now and Sleep replace the clock (tests); defaults are time.Now and a
	// context-aware sleep.
	Now   func() time.Time
	Sleep func(context.Context, time.Duration) error
	// Approvers are tickets.approvers. On Data Center they are resolved to
	// user keys (Check), and Approvals reports an approval by its key.
	Approvers []string
}

// Tracker is a poller.Tracker over the Jira REST API.
type Tracker struct {
	cfg    Config
	label  string
	base   string // the site URL without a trailing slash
	client *gojira.Client
	doer   *doer
	log    *slog.Logger
	now    func() time.Time
	fields []string // fields every search and Get asks for

	indexLag time.Duration

	approvers []string

	mu   sync.Mutex
	zone *time.Location // the Jira account's zone: JQL dates are read in it
	me   string         // patrol's account: Cloud accountId, Data Center user name
	// approverKeys maps Data Center user keys to the approvers entry they
	// were resolved from; nil until resolved.
	approverKeys map[string]string
	created      []created // issues this process created, newest last
	// unsure holds the labels of creates whose outcome is unknown, with
	// when they were sent: until the index has caught up, a search that
	// finds nothing for them proves nothing.
	unsure map[string]time.Time
}

var _ poller.Tracker = (*Tracker)(nil)

// New builds a Tracker from its config section. It reads the secrets but
// does not contact Jira; call Check for that.
func New(cfg Config, opts Options) (*Tracker, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		joined := make([]error, len(errs))
		for i, e := range errs {
			joined[i] = e
		}
		return nil, fmt.Errorf("jira config: %w", errors.Join(joined...))
	}
	if Label(opts.Label) != opts.Label || opts.Label == "" {
		return nil, fmt.Errorf("jira: label %q must be non-empty and without spaces", opts.Label)
	}
	token, err := poller.ReadSecret(cfg.TokenEnv, cfg.TokenFile, opts.BaseDir)
	if err != nil {
		return nil, fmt.Errorf("jira token: %w", err)
	}
	var user string
	if cfg.UserEnv != "" || cfg.UserFile != "" {
		if user, err = poller.ReadSecret(cfg.UserEnv, cfg.UserFile, opts.BaseDir); err != nil {
			return nil, fmt.Errorf("jira user: %w", err)
		}
	}
	auth := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) } // Data Center PAT
	if user != "" {
		auth = func(r *http.Request) { r.SetBasicAuth(user, token) } // Cloud API token
	}
	timeout, _ := time.ParseDuration(cfg.Timeout)
	hc := &http.Client{Timeout: timeout}
	if opts.HTTPClient != nil {
		c := *opts.HTTPClient
		hc = &c
	}
	hc.CheckRedirect = poller.NoRedirect // the token must not follow a redirect anywhere
	t := &Tracker{
		cfg:       cfg,
		approvers: opts.Approvers,
		label:     opts.Label,
		base:      strings.TrimRight(cfg.URL, "/"),
		log:       opts.Logger,
		now:       opts.Now,
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if t.now == nil {
		t.now = time.Now
	}
	sleep := opts.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	t.doer = &doer{client: hc, auth: auth, maxRetries: cfg.MaxRetries, sleep: sleep, now: t.now, jitter: defaultJitter, log: t.log}
	t.indexLag, _ = time.ParseDuration(cfg.IndexLag)
	if t.client, err = gojira.NewClient(t.doer, t.base+"/"); err != nil {
		return nil, fmt.Errorf("jira url: %w", err)
	}
	t.fields = []string{"summary", "status", "resolution", "labels", "created", "updated"}
	custom := make([]string, 0, len(cfg.Fields))
	for _, id := range cfg.Fields {
		custom = append(custom, id)
	}
	sort.Strings(custom)
	t.fields = append(t.fields, custom...)
	return t, nil
}

// Flavor is the configured flavor, "cloud" or "datacenter".
func (t *Tracker) Flavor() string { return t.cfg.Flavor }

func (t *Tracker) cloud() bool { return t.cfg.Flavor == FlavorCloud }

// Check asks Jira what it is (serverInfo) and who patrol is there
// (myself): a flavor mismatch, bad credentials or an unknown time zone
// fail here, at start, rather than on the first poll.
func (t *Tracker) Check(ctx context.Context) error {
	var info struct {
		DeploymentType string `json:"deploymentType"`
		Version        string `json:"version"`
	}
	if err := t.call(ctx, "read server info", http.MethodGet, "rest/api/2/serverInfo", nil, &info); err != nil {
		return err
	}
	got := FlavorDataCenter // Data Center reports "Server" or "DataCenter"
	if strings.EqualFold(info.DeploymentType, "Cloud") {
		got = FlavorCloud
	}
	if got != t.cfg.Flavor {
		return fmt.Errorf("jira: flavor = %q, but %s reports deploymentType %q (version %s): set flavor = %q",
			t.cfg.Flavor, t.base, info.DeploymentType, info.Version, got)
	}
	if _, err := t.accountZone(ctx); err != nil {
		return err
	}
	if !t.cloud() {
		_, err := t.approverKeyMap(ctx)
		return err
	}
	return nil
}

// accountZone returns the zone Jira reads JQL date literals in: the time
// zone of the account patrol runs as, from /myself, read once.
func (t *Tracker) accountZone(ctx context.Context) (*time.Location, error) {
	t.mu.Lock()
	zone := t.zone
	t.mu.Unlock()
	if zone != nil {
		return zone, nil
	}
	var me struct {
		AccountID string `json:"accountId"`
		Name      string `json:"name"`
		TimeZone  string `json:"timeZone"`
	}
	if err := t.call(ctx, "read own account", http.MethodGet, "rest/api/2/myself", nil, &me); err != nil {
		return nil, err
	}
	zone = time.UTC
	if me.TimeZone != "" {
		var err error
		if zone, err = time.LoadLocation(me.TimeZone); err != nil {
			return nil, fmt.Errorf("jira: account time zone %q: %w", me.TimeZone, err)
		}
	} else {
		t.log.Warn("jira account has no time zone; reading JQL dates as UTC")
	}
	id := me.AccountID
	if !t.cloud() {
		id = me.Name
	}
	t.log.Info("jira account", "account", id, "time_zone", zone.String(), "flavor", t.cfg.Flavor)
	t.mu.Lock()
	t.zone, t.me = zone, id
	t.mu.Unlock()
	return zone, nil
}

// self returns patrol's own account (from /myself, read once).
func (t *Tracker) self(ctx context.Context) (string, error) {
	if _, err := t.accountZone(ctx); err != nil {
		return "", err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.me, nil
}

// call sends one request with a JSON body (or none) and decodes the JSON
// answer into out; out is nil for answers without a body (204).
func (t *Tracker) call(ctx context.Context, op, method, path string, body, out any) error {
	req, err := t.client.NewRequestWithContext(ctx, method, path, body)
	if err != nil {
		return &Error{Op: op, Err: err}
	}
	resp, err := t.client.Do(req, out)
	if resp != nil && resp.Response != nil && (resp.StatusCode < 200 || resp.StatusCode > 299) {
		// A refusal (429, 503 with Retry-After) applied nothing; another
		// 5xx to a POST may have.
		unknown := !idempotent(method) && resp.StatusCode >= 500 && !refused(resp.Response)
		e := responseError(op, resp.Response, t.now())
		e.Unknown = unknown
		return e
	}
	if err != nil {
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		// No response (or a 2xx that did not decode): a POST may have
		// been applied.
		return &Error{Op: op, Err: unwrapNoResponse(err), Unknown: !idempotent(method) && resp == nil}
	}
	if out == nil && resp != nil && resp.Body != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		_ = resp.Body.Close()
	}
	return nil
}

// keyPattern is an issue key (SEC-12) or id (10002); checked so that a
// key is never a path (../) in a URL.
var keyPattern = regexp.MustCompile(`^(?:[A-Za-z][A-Za-z0-9_]*-[0-9]+|[0-9]+)$`)

func issuePath(key string, rest ...string) (string, error) {
	if !keyPattern.MatchString(key) {
		return "", fmt.Errorf("jira: %q is not an issue key", key)
	}
	return "rest/api/2/issue/" + url.PathEscape(key) + strings.Join(rest, ""), nil
}

func (t *Tracker) browse(key string) string { return t.base + "/browse/" + url.PathEscape(key) }

// Get returns one ticket by key (strongly consistent, unlike search).
func (t *Tracker) Get(ctx context.Context, key string) (poller.Ticket, error) {
	if _, err := issuePath(key); err != nil {
		return poller.Ticket{}, err
	}
	is, resp, err := t.client.Issue.GetWithContext(ctx, key, &gojira.GetQueryOptions{Fields: strings.Join(t.fields, ",")})
	if err != nil {
		return poller.Ticket{}, goJiraError("get "+key, resp, err, t.now())
	}
	return t.ticket(*is)
}

// ticket converts an issue as search and Get return it.
func (t *Tracker) ticket(is gojira.Issue) (poller.Ticket, error) {
	if is.Fields == nil {
		return poller.Ticket{}, fmt.Errorf("jira: issue %s came back without fields", is.Key)
	}
	f := is.Fields
	tk := poller.Ticket{
		ID:      is.ID,
		Key:     is.Key,
		URL:     t.browse(is.Key),
		Summary: f.Summary,
		Labels:  f.Labels,
		Created: time.Time(f.Created),
		Updated: time.Time(f.Updated),
		Fields:  eventFields(t.cfg.Fields, f.Unknowns),
	}
	if f.Status != nil {
		tk.Status = f.Status.Name
		tk.Done = f.Status.StatusCategory.Key == "done"
	}
	if f.Resolution != nil {
		tk.Resolution = f.Resolution.Name
	}
	return tk, nil
}
