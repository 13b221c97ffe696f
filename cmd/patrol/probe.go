package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/aws"
	"github.com/patrolsec/patrol/poller/config"
	"github.com/patrolsec/patrol/poller/jira"
	"github.com/patrolsec/patrol/poller/slack"
	"github.com/patrolsec/patrol/poller/splunk"
)

// probeTimeout bounds each backend's probe; they run at once, so a check
// of every backend takes at most this long.
const probeTimeout = 5 * time.Second

// probeResult is one backend's answer: who patrol is there, or why not.
type probeResult struct {
	backend, url string
	who          string
	err          error
}

// probe is one cheap question to one backend, asked once.
type probe struct {
	backend, url string
	ask          func(ctx context.Context) (string, error)
}

// probes lists a probe for every remote backend the config selects. A
// client that cannot even be built (a secret that cannot be read) is a
// probe that fails at once. socket adds Slack's Socket Mode
// (apps.connections.open, rate-limited by Slack: only for `run` and
// `validate --remote`).
func probes(ctx context.Context, cfg *config.Config, socket bool) []probe {
	var out []probe
	failed := func(backend, url string, err error) probe {
		return probe{backend, url, func(context.Context) (string, error) { return "", err }}
	}
	if cfg.Search.Backend == "splunk" {
		if s, err := splunk.New(cfg.Search.Splunk, cfg.Dir, nil); err != nil {
			out = append(out, failed("splunk", cfg.Search.Splunk.URL, err))
		} else {
			out = append(out, probe{"splunk", s.URL(), func(ctx context.Context) (string, error) {
				v, err := s.Probe(ctx)
				return "Splunk " + v, err
			}})
		}
	}
	if cfg.Tickets.Backend == "jira" {
		if t, err := jira.New(cfg.Tickets.Jira, jira.Options{Label: cfg.Tickets.Label, BaseDir: cfg.Dir}); err != nil {
			out = append(out, failed("jira", cfg.Tickets.Jira.URL, err))
		} else {
			out = append(out, probe{"jira", t.URL(), t.Probe})
		}
	}
	if cfg.Notify.Backend == "slack" {
		if n, err := slack.New(cfg.Notify.Slack, slack.Options{BaseDir: cfg.Dir}); err != nil {
			out = append(out, failed("slack", cfg.Notify.Slack.APIURL, err))
		} else {
			out = append(out, probe{"slack", n.URL(), n.Probe})
		}
		if socket && cfg.Notify.Slack.SocketMode() {
			if l, err := slack.NewListener(cfg.Notify.Slack, slack.ListenerOptions{BaseDir: cfg.Dir}); err != nil {
				out = append(out, failed("socket", cfg.Notify.Slack.APIURL, err))
			} else {
				out = append(out, probe{"socket", l.URL(), l.Probe})
			}
		}
	}
	if usesAWS(cfg) {
		if p, err := aws.New(ctx, cfg.AWS, aws.Options{BaseDir: cfg.Dir}); err != nil {
			out = append(out, failed("aws", "", err))
		} else {
			out = append(out, probe{"aws", p.STSURL(), p.Probe})
		}
	}
	return out
}

// usesAWS reports whether patrol will call AWS: to change something (dry
// run off) or to look principals and accounts up.
func usesAWS(cfg *config.Config) bool {
	return !cfg.AWS.DryRun || cfg.Enrich.AWS || cfg.AWS.Organizations
}

// probeBackends asks every remote backend its question at once, each
// bounded by probeTimeout, and returns the answers in the config's order.
func probeBackends(ctx context.Context, cfg *config.Config, socket bool) []probeResult {
	ps := probes(ctx, cfg, socket)
	results := make([]probeResult, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, probeTimeout)
			defer cancel()
			who, err := p.ask(pctx)
			if err != nil && pctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
				err = fmt.Errorf("no answer within %s: %w", probeTimeout, err)
			}
			results[i] = probeResult{backend: p.backend, url: p.url, who: who, err: err}
		}()
	}
	wg.Wait()
	return results
}

// checkBackends probes the backends before jobs run. Unreachable ones are
// printed, all together, one line each, and it returns exitFailed;
// otherwise one log line says who patrol is on each.
func checkBackends(ctx context.Context, cfg *config.Config, socket bool, log *slog.Logger, errOut io.Writer) int {
	results := probeBackends(ctx, cfg, socket)
	if n := printProbeFailures(errOut, results); n > 0 {
		fmt.Fprintf(errOut, "patrol: %d backend(s) failed the check above; nothing was searched or changed ('patrol validate --remote' checks them again)\n", n)
		return exitFailed
	}
	var attrs []any
	for _, r := range results {
		attrs = append(attrs, r.backend, r.who)
	}
	if len(attrs) > 0 {
		log.Info("backends answer", attrs...)
	}
	return exitOK
}

// printProbeFailures prints one line per failed probe and returns how many.
func printProbeFailures(w io.Writer, results []probeResult) int {
	n := 0
	for _, r := range results {
		if r.err == nil {
			continue
		}
		n++
		where := r.url
		if where != "" {
			where += ": "
		}
		fmt.Fprintf(w, "  %-7s %s%s\n", r.backend, where, poller.CleanText(cause(r.err)))
	}
	return n
}

// cause shortens a client error for a one-line report: a transport
// failure to what the network said (the URL is printed beside it), other
// errors as they are.
func cause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		msg := ue.Err.Error()
		if ue.Timeout() {
			msg = "timed out: " + msg
		}
		return msg
	}
	return strings.TrimSpace(err.Error())
}
