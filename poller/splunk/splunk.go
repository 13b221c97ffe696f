// Package splunk is patrol's Splunk search backend over the splunkd REST API
// (the management port, 8089), in plain net/http.
//
// A search runs as an async job: POST search/jobs, poll the job until it is
// done, page /results with count and offset, DELETE the job. Results reach
// the caller one at a time as they are decoded, so memory stays flat however
// many there are. Anything that makes the result set doubtful (an HTTP
// error, a failed, cancelled or zombie job, ERROR or FATAL messages, a
// result count that does not match the rows received, truncation by
// max_count, a timeout) is an error, never a short result set. Searches may
// instead be streamed from search/jobs/export (Config.Export).
//
// Windows are sent as index-time bounds by default; see windowParams for the
// exact mapping.
package splunk

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
)

// Searcher runs detections' searches on Splunk. It is safe for concurrent
// use; at most Config.MaxConcurrent searches are in flight at once.
type Searcher struct {
	base             string // URL without a trailing slash
	nsOwner, nsApp   string
	http             *http.Client
	auth             *authenticator
	log              *slog.Logger
	slots            chan struct{}
	export           bool
	eventSpan, ahead time.Duration
	timeout          time.Duration
	pollInterval     time.Duration
	pageSize         int
	maxCount         int
	maxRetries       int
	searchLevel      string
	allow            []string // allow_commands

	// Injected so tests never wait on wall time.
	sleep  func(ctx context.Context, d time.Duration) error
	jitter func() float64
	now    func() time.Time
}

var _ poller.Searcher = (*Searcher)(nil)

// Option adjusts a Searcher made by New.
type Option func(*Searcher)

// WithSleep replaces the wait between status polls and before retries.
// Tests pass one that returns at once (or records the durations).
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(s *Searcher) { s.sleep = sleep }
}

// WithTransport replaces the HTTP transport (a proxy, a recording
// transport). TLS settings from the config then do not apply.
func WithTransport(rt http.RoundTripper) Option {
	return func(s *Searcher) { s.http = &http.Client{Transport: rt, CheckRedirect: poller.NoRedirect} }
}

// New returns a Searcher for cfg. baseDir is the config file's folder:
// relative ca_file, token_file and password_file are resolved against it.
// cfg is validated, and the secrets it names are read once here so a
// missing one is reported at start rather than at the first search.
func New(cfg Config, baseDir string, logger *slog.Logger, opts ...Option) (*Searcher, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return nil, fmt.Errorf("splunk config: %s", strings.Join(msgs, "; "))
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// Validate has parsed these; the errors cannot happen here.
	eventSpan, _ := parseSpan(cfg.EventTimeSpan)
	ahead, _ := parseSpan(cfg.EventTimeAhead)
	timeout, _ := parseSpan(cfg.Timeout)
	poll, _ := parseSpan(cfg.PollInterval)

	u, _ := url.Parse(cfg.URL)
	s := &Searcher{
		base:         strings.TrimRight(u.String(), "/"),
		nsApp:        cfg.App,
		nsOwner:      cfg.Owner,
		log:          logger,
		slots:        make(chan struct{}, cfg.MaxConcurrent),
		export:       cfg.Export,
		eventSpan:    eventSpan,
		ahead:        ahead,
		timeout:      timeout,
		pollInterval: poll,
		pageSize:     cfg.PageSize,
		maxCount:     cfg.MaxCount,
		maxRetries:   cfg.MaxRetries,
		searchLevel:  cfg.SearchLevel,
		allow:        cfg.AllowCommands,
		sleep:        sleepCtx,
		jitter:       rand.Float64,
		now:          time.Now,
	}
	if s.nsApp != "" && s.nsOwner == "" {
		s.nsOwner = "-"
	}
	tr, err := newTransport(cfg, baseDir)
	if err != nil {
		return nil, fmt.Errorf("splunk: %w", err)
	}
	s.http = &http.Client{Transport: tr, CheckRedirect: poller.NoRedirect}
	s.auth = &authenticator{mode: authMode(cfg), cfg: cfg, baseDir: baseDir, login: s.login, loggingIn: make(chan struct{}, 1)}
	for _, o := range opts {
		o(s)
	}
	if err := s.auth.load(); err != nil {
		return nil, err
	}
	if cfg.InsecureSkipVerify {
		logger.Warn("splunk TLS certificate verification is off (insecure_skip_verify); anyone on the path can read the searches and the credentials", "url", poller.RedactURL(s.base))
	}
	if strings.HasPrefix(s.base, "http://") {
		logger.Warn("splunk URL is http:// (allow_insecure_http): the credentials and searches travel in clear text", "url", poller.RedactURL(s.base))
	}
	return s, nil
}

// Search runs q and hands every result to emit, in Splunk's order. It
// returns an error, never a short result set, when Splunk failed, truncated
// the results or cannot say which; an error from emit stops the search and
// is returned. The job is deleted at the end, also on error or cancellation.
func (s *Searcher) Search(ctx context.Context, q poller.Query, emit func(poller.Result) error) error {
	// Detections are validated against this too; checking here as well
	// means no path (ad-hoc, freshness, a future caller) sends one.
	if err := detections.CheckCommands(q.SPL, s.allow); err != nil {
		return fmt.Errorf("splunk search %s: %w", q.Detection, err)
	}
	spl, err := normalizeSPL(q.SPL)
	if err != nil {
		return fmt.Errorf("splunk search %s: %w", q.Detection, err)
	}
	params, err := windowParams(q, s.eventSpan, s.ahead)
	if err != nil {
		return fmt.Errorf("splunk search %s: %w", q.Detection, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.acquire(ctx); err != nil {
		e := netError("search", "", err)
		e.Reason = "waiting for a free search slot (max_concurrent)"
		return e
	}
	defer s.release()
	if err := s.auth.load(); err != nil {
		return err
	}
	params.Set("adhoc_search_level", s.searchLevel)
	if s.export {
		return s.runExport(ctx, q.Detection, spl, params, emit)
	}
	return s.runJob(ctx, q.Detection, spl, params, emit)
}

// acquire takes one of the max_concurrent slots, or gives up with ctx.
func (s *Searcher) acquire(ctx context.Context) error {
	select {
	case s.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Searcher) release() { <-s.slots }

// normalizeSPL makes the query start with a command: splunkd parses the
// first word of a job's search as a command, so "index=aws ..." must be sent
// as "search index=aws ...". Generating searches ("| tstats ...") and
// queries that already say "search" are left as they are.
func normalizeSPL(spl string) (string, error) {
	s := strings.TrimSpace(spl)
	if s == "" {
		return "", fmt.Errorf("empty search")
	}
	if strings.HasPrefix(s, "|") {
		return s, nil
	}
	first := s
	if i := strings.IndexFunc(s, isSpace); i >= 0 {
		first = s[:i]
	}
	if strings.EqualFold(first, "search") {
		return s, nil
	}
	return "search " + s, nil
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

// seconds renders d as whole seconds, at least 1, for Splunk's integer
// ttl-like parameters.
func seconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(d/time.Second)))
}
