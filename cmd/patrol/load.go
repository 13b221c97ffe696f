package main

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/slots"
)

// Why the daemon cancels a run: recorded with the cancelled run.
var (
	errStopping = errors.New("patrol is stopping")
	errRemoved  = errors.New("the detection was removed by a reload")
)

// startSlots gives the daemon its search slots: every detect search waits
// for one, the detection furthest behind first; skipped runs are counted
// per detection; and the load watch judges each minute.
func (a *app) startSlots(sched *poller.Scheduler) {
	n, key := a.cfg.Search.Splunk.MaxConcurrent, "search.splunk.max_concurrent"
	if a.cfg.Search.Backend != "splunk" {
		// The local engine is CPU-bound: one search per CPU.
		n, key = runtime.GOMAXPROCS(0), "the host's CPUs (local search runs one search per CPU)"
	}
	a.slots = slots.New(n, nil)
	a.detector.Slots = a.slots
	a.metrics.SearchSlots(n, a.slots.Queued)
	a.load = &poller.Load{Health: a.detector.Health, Searches: a.slots.Totals, Slots: n, SlotsKey: key,
		Rounds: a.cfg.Health.OverloadMinutes, Logger: a.log}
	sched.OnSkip = a.skipped
}

// skipped records a scheduled run skipped because the job's previous run
// was still going: logged with the detection and why, counted in metrics,
// in the state (for status) and in the load watch.
func (a *app) skipped(name string) {
	id, ok := strings.CutPrefix(name, "detect:")
	if !ok {
		a.log.Warn("previous run still going: this run is skipped", "job", name)
		return
	}
	waiting := a.slots.Waiting(id)
	a.load.Skipped(waiting)
	a.metrics.Skipped(id)
	n, err := a.db.RecordSkip(context.Background(), id)
	if err != nil {
		a.log.Warn("record skipped run", "detection", id, "err", err)
	}
	previous := "searching"
	if waiting {
		previous = "waiting for a search slot"
	}
	a.log.Warn("previous run still going: this run is skipped", "detection", id, "previous_run", previous, "skipped_total", n)
}

// loadRound closes a minute of the load watch.
func (a *app) loadRound(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := a.load.Round(ctx); err != nil {
		a.log.Error("self-alert", "problem", "overload", "err", err)
	}
	a.writeMetrics()
}

// cancelRun cancels the running (or slot-waiting) run of detection id, if any.
func (a *app) cancelRun(id string, why error) {
	a.runsMu.Lock()
	defer a.runsMu.Unlock()
	if cancel := a.runs[id]; cancel != nil {
		a.log.Info("cancelling run", "detection", id, "reason", why.Error())
		cancel(why)
	}
}
