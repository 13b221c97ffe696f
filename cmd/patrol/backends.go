package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/patrolsec/patrol/detections"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/config"
)

var errNotBuilt = errors.New("this backend is not part of this build yet")

func newSearcher(cfg *config.Config, log *slog.Logger, progress io.Writer) (poller.Searcher, error) {
	return nil, errNotBuilt
}

// checkSPL returns the offline parser detections are validated with, or nil.
func checkSPL(cfg *config.Config) func(string) error { return nil }

func newJira(ctx context.Context, cfg *config.Config, log *slog.Logger) (poller.Tracker, error) {
	return nil, errNotBuilt
}

func newSlack(cfg *config.Config, log *slog.Logger) (poller.Notifier, error) {
	return nil, errNotBuilt
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
