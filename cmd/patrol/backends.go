package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/patrolsec/patrol/detections"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/config"
	"github.com/patrolsec/patrol/poller/jira"
	"github.com/patrolsec/patrol/poller/slack"
)

var errNotBuilt = errors.New("this backend is not part of this build yet")

func newSearcher(cfg *config.Config, log *slog.Logger, progress io.Writer) (poller.Searcher, error) {
	return nil, errNotBuilt
}

// checkSPL returns the offline parser detections are validated with, or nil.
func checkSPL(cfg *config.Config) func(string) error { return nil }

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

func newAWS(ctx context.Context, cfg *config.Config, log *slog.Logger) (map[string]poller.Action, []poller.Enricher, error) {
	return map[string]poller.Action{}, nil, nil
}

// newFileSearcher searches one events file (detection tests).
func newFileSearcher(cfg *config.Config, path string) (poller.Searcher, error) {
	return nil, errNotBuilt
}

func validateRemote(ctx context.Context, cfg *config.Config, ds []*detections.Detection, out, errOut io.Writer) int {
	fmt.Fprintln(errOut, "patrol validate --remote: needs the Splunk backend, which is not part of this build yet")
	return exitFailed
}
