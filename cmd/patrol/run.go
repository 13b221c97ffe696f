package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/config"
)

func cmdRun(ctx context.Context, args []string, out, errOut io.Writer) int {
	fs, cfgPath := flags("run", errOut)
	if code, stop := parse(fs, args); stop {
		return code
	}
	if !wantArgs(fs, 0, 0) {
		return exitInvalid
	}
	a, code := setup(ctx, *cfgPath, setupOptions{lock: true, jobs: true, socket: true}, errOut)
	if a == nil {
		return code
	}
	defer a.close()
	if a.cfg.Metrics.Listen != "" {
		addr, err := a.metrics.Serve(ctx, a.cfg.Metrics.Listen)
		if err != nil {
			fmt.Fprintf(errOut, "patrol run: %v\n", err)
			return exitFailed
		}
		a.log.Info("metrics served", "addr", addr.String())
	}
	waitListener, err := a.startListener(ctx)
	if err != nil {
		fmt.Fprintf(errOut, "patrol run: %v\n", err)
		return exitFailed
	}
	defer waitListener()
	sched := poller.NewScheduler(a.log)
	a.startSlots(sched)
	a.schedule(sched)
	a.scheduleDigests(ctx, sched)
	poll, _ := cron.ParseStandard(a.cfg.Tickets.Poll)
	sched.Add("respond", poll, config.Duration(a.cfg.Tickets.RunTimeout), func(ctx context.Context) error {
		_, err := a.respondOnce(ctx)
		return err
	})
	// Runs' contexts end with a cause, so a run stopped here is recorded as
	// cancelled and says why.
	base, stopRuns := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopRuns(nil)
	sched.Start(base)
	a.writeMetrics()
	a.log.Info("patrol running", "detections", len(*a.dets.Load()), "config", a.cfg.File,
		"search", a.cfg.Search.Backend, "tickets", a.cfg.Tickets.Backend, "notify", a.cfg.Notify.Backend, "dry_run", a.cfg.AWS.DryRun)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if err := sdNotify("READY=1\nSTATUS=running"); err != nil {
		a.log.Warn("sd_notify", "err", err)
	}
	var watchdog <-chan time.Time
	if d := watchdogInterval(); d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		watchdog = t.C
	}
	rounds := time.NewTicker(time.Minute)
	defer rounds.Stop()
	for {
		select {
		case <-ctx.Done():
			sdNotify("STOPPING=1")
			a.log.Info("stopping: cancelling queued and running jobs; they are recorded as cancelled")
			stopRuns(errStopping)
			sched.Stop()
			a.writeMetrics()
			a.log.Info("stopped")
			return exitOK
		case <-hup:
			sdNotify("RELOADING=1")
			if err := a.reload(sched); err != nil {
				a.log.Error("reload refused: the running config, detections and silences all stay; fix the error and reload again", "err", err)
			}
			sdNotify("READY=1")
		case <-watchdog:
			sdNotify("WATCHDOG=1")
		case <-rounds.C:
			a.loadRound(ctx)
		}
	}
}

// schedule adds every loaded detection to sched and removes detections no
// longer loaded.
func (a *app) schedule(sched *poller.Scheduler) {
	timeout := config.Duration(a.cfg.Detections.RunTimeout)
	want := map[string]bool{"respond": true}
	for _, j := range a.digests {
		want["digest:"+j.Config.Name()] = true
	}
	for _, d := range *a.dets.Load() {
		id := d.ID
		want["detect:"+id] = true
		sched.Add("detect:"+id, d.Cron, timeout, func(ctx context.Context) error {
			d := a.detection(id)
			if d == nil {
				return nil // removed by a reload after this run was scheduled
			}
			a.load.Ran()
			_, err := a.detectOnce(ctx, d)
			return err
		})
	}
	for _, name := range sched.Names() {
		if !want[name] {
			sched.Remove(name)
		}
	}
}

// detectOnce runs one detection. (The scheduler runs one run per detection
// at a time, also across a reload that replaces its schedule.) A reload
// that removes the detection cancels the run.
func (a *app) detectOnce(ctx context.Context, d *detections.Detection) (poller.DetectStats, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	a.runsMu.Lock()
	if a.runs == nil {
		a.runs = map[string]context.CancelCauseFunc{}
	}
	a.runs[d.ID] = cancel
	a.runsMu.Unlock()
	defer func() {
		a.runsMu.Lock()
		delete(a.runs, d.ID)
		a.runsMu.Unlock()
	}()
	start := time.Now()
	st, err := a.detector.Run(ctx, d)
	a.log.Info("detect run", "detection", d.ID, "window_start", st.Start, "window_end", st.End, "windows", st.Windows,
		"results", st.Results, "new_alerts", st.Alerts, "repeats", st.Repeats, "tickets", st.Tickets, "waiting", st.Waiting,
		"duration_ms", time.Since(start).Milliseconds(), "err", err)
	cp, _, _ := a.db.Checkpoint(context.WithoutCancel(ctx), d.ID)
	a.metrics.Detect(d.ID, st, err, cp, time.Now())
	a.writeMetrics()
	return st, err
}

func (a *app) respondOnce(ctx context.Context) (poller.RespondStats, error) {
	start := time.Now()
	st, err := a.responder.Poll(ctx)
	a.log.Info("respond run", "tickets", st.Tickets, "handled", st.Handled, "actions", st.Actions,
		"duration_ms", time.Since(start).Milliseconds(), "err", err)
	a.metrics.Respond(st, err)
	if a.listener != nil {
		a.saveSocketState(a.listener.State())
	}
	if errors.Is(err, poller.ErrCancelled) {
		return st, err // not a failure: no self-alert
	}
	if herr := a.detector.Health.AfterRespond(context.WithoutCancel(ctx), err); herr != nil {
		a.log.Error("self-alert", "job", "respond", "err", herr)
	}
	a.writeMetrics()
	return st, err
}

func (a *app) writeMetrics() {
	if a.cfg.Metrics.Textfile == "" {
		return
	}
	if err := a.metrics.WriteTextfile(a.cfg.Metrics.Textfile); err != nil {
		a.log.Warn("metrics textfile", "err", err)
	}
}

// reload re-reads the config, the detections and the silences file, and
// applies them only if all three are valid: a reload is all or nothing, so
// a broken silences file also keeps detection changes out (and the error
// names its file and line). Checkpoints are keyed by detection id, so
// added, removed and rescheduled detections keep theirs. Backend settings
// need a restart; a change to them is logged.
func (a *app) reload(sched *poller.Scheduler) error {
	cfg, err := config.Load(a.cfg.File)
	if err != nil {
		a.metrics.Reload(false)
		return err
	}
	ds, err := loadDetections(cfg)
	if err != nil {
		a.metrics.Reload(false)
		return err
	}
	if err := a.tuner.Silences.Reload(); err != nil {
		a.metrics.Reload(false)
		return err
	}
	if cfg.Detections.Silences != a.cfg.Detections.Silences {
		a.log.Warn("config change needs a restart to apply", "key", "detections.silences")
	}
	for _, changed := range restartNeeded(a.cfg, cfg) {
		a.log.Warn("config change needs a restart to apply", "section", changed)
	}
	if a.aws != nil {
		// The organization's accounts change as accounts join and leave it.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := a.aws.LoadAccounts(ctx)
		cancel()
		if err != nil {
			a.log.Error("reload: the organization's accounts could not be read; the previous list stays", "err", err)
		}
	}
	old := a.dets.Load()
	a.dets.Store(&ds)
	a.schedule(sched)
	for _, d := range *old {
		if a.detection(d.ID) == nil {
			a.cancelRun(d.ID, errRemoved)
		}
	}
	a.metrics.Reload(true)
	a.metrics.Detections(len(ds))
	a.log.Info("reloaded", "detections", len(ds), "silences", len(a.tuner.Silences.Current()))
	return nil
}

// restartNeeded names the sections that differ and are only read at start.
func restartNeeded(old, cur *config.Config) []string {
	var out []string
	for name, pair := range map[string][2]any{
		"search":  {old.Search.Splunk, cur.Search.Splunk},
		"tickets": {old.Tickets, cur.Tickets},
		"notify":  {old.Notify, cur.Notify},
		"aws":     {fmt.Sprint(old.AWS), fmt.Sprint(cur.AWS)},
		"state":   {old.State, cur.State},
		"digest":  {old.Digests, cur.Digests},
	} {
		if fmt.Sprint(pair[0]) != fmt.Sprint(pair[1]) {
			out = append(out, name)
		}
	}
	return out
}
