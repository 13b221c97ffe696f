package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/config"
	"github.com/patrolsec/patrol/poller/digest"
	"github.com/patrolsec/patrol/poller/slack"
	"github.com/patrolsec/patrol/poller/tuning"
)

// Wiring of Slack approvals (Socket Mode, in `patrol run` only) and of the
// [[digest]] jobs.

// socketStateKey is the meta key where `patrol run` keeps its Socket Mode
// connection's state for `patrol status`.
const socketStateKey = "socket_mode"

// socketState is what status shows of the Socket Mode connection.
type socketState struct {
	poller.ConnState
	// CheckedAt is when the running patrol last wrote it (every respond
	// pass): an old one means no patrol runs.
	CheckedAt time.Time `json:"checked_at"`
}

// socketMode reports whether Slack approvals are configured.
func socketMode(cfg *config.Config) bool {
	return cfg.Notify.Backend == "slack" && cfg.Notify.Slack.SocketMode()
}

// startListener connects to Slack's Socket Mode and hands clicks to the
// respond job until ctx ends; wait returns once it has stopped. (The
// app-level token was probed with the other backends.)
func (a *app) startListener(ctx context.Context) (wait func(), err error) {
	if !socketMode(a.cfg) {
		return func() {}, nil
	}
	l, err := slack.NewListener(a.cfg.Notify.Slack, slack.ListenerOptions{BaseDir: a.cfg.Dir, Logger: a.log, OnState: a.saveSocketState})
	if err != nil {
		return nil, fmt.Errorf("slack socket mode: %w", err)
	}
	a.listener = l
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Listen(ctx, a.responder)
	}()
	a.log.Info("slack socket mode: listening for approvals", "approvers", len(a.cfg.Tickets.SlackApprovers))
	return func() { <-done }, nil
}

// saveSocketState keeps the connection's state in the state file.
func (a *app) saveSocketState(st poller.ConnState) {
	b, err := json.Marshal(socketState{ConnState: st, CheckedAt: time.Now().UTC()})
	if err == nil {
		err = a.db.SetMeta(context.Background(), socketStateKey, string(b))
	}
	if err != nil {
		a.log.Warn("record socket mode state", "err", err)
	}
}

// buildDigests makes the jobs of the [[digest]] entries.
func (a *app) buildDigests() error {
	for _, c := range a.cfg.Digests {
		j, err := digest.New(c)
		if err != nil {
			return err
		}
		j.Store, j.Router, j.MaxLag = a.db, poller.Router{Teams: a.cfg.Teams}, config.Duration(a.cfg.Health.MaxLag)
		j.Flush, j.Logger = a.responder.Flush, a.log
		j.Detections = func() []*detections.Detection { return *a.dets.Load() }
		j.Expiring = func(now time.Time) []poller.DigestExpiring {
			return tuning.Expiring(*a.dets.Load(), a.tuner.Silences, now, 7*24*time.Hour)
		}
		a.digests = append(a.digests, j)
	}
	return nil
}

// runDigests queues and sends each digest that is due.
func (a *app) runDigests(ctx context.Context) error {
	var first error
	for _, j := range a.digests {
		if _, err := j.Run(ctx); err != nil {
			a.log.Warn("digest", "digest", j.Config.Name(), "err", err)
			if first == nil {
				first = err
			}
		}
	}
	return first
}

// scheduleDigests adds each digest to the scheduler, and runs each once
// now: a tick missed while patrol was down is sent late.
func (a *app) scheduleDigests(ctx context.Context, sched *poller.Scheduler) {
	timeout := config.Duration(a.cfg.Tickets.RunTimeout)
	for _, j := range a.digests {
		sched.Add("digest:"+j.Config.Name(), j.Schedule, timeout, func(ctx context.Context) error {
			_, err := j.Run(ctx)
			return err
		})
	}
	if len(a.digests) > 0 {
		go a.runDigests(ctx)
	}
}
