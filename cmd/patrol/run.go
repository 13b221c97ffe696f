package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/config"
	"github.com/robfig/cron/v3"
)

func cmdRun(ctx context.Context, args []string, out, errOut io.Writer) int {
	fs, cfgPath := flags("run", errOut)
	if code, stop := parse(fs, args); stop {
		return code
	}
	a, code := setup(ctx, *cfgPath, setupOptions{lock: true, jobs: true}, errOut)
	if a == nil {
		return code
	}
	defer a.close()
	sched := poller.NewScheduler(a.log)
	a.schedule(sched)
	poll, _ := cron.ParseStandard(a.cfg.Tickets.Poll)
	sched.Add("respond", poll, config.Duration(a.cfg.Tickets.RunTimeout), func(ctx context.Context) error {
		start := time.Now()
		st, err := a.responder.Poll(ctx)
		a.log.Info("respond run", "tickets", st.Tickets, "handled", st.Handled, "actions", st.Actions,
			"duration", time.Since(start).Round(time.Millisecond), "err", err)
		return err
	})
	sched.Start(ctx)
	a.log.Info("patrol running", "detections", len(*a.dets.Load()), "config", a.cfg.File,
		"search", a.cfg.Search.Backend, "tickets", a.cfg.Tickets.Backend, "notify", a.cfg.Notify.Backend, "dry_run", a.cfg.AWS.DryRun)
	<-ctx.Done()
	a.log.Info("stopping: waiting for running jobs")
	sched.Stop()
	a.log.Info("stopped")
	return exitOK
}

// schedule adds every loaded detection to sched.
func (a *app) schedule(sched *poller.Scheduler) {
	timeout := config.Duration(a.cfg.Detections.RunTimeout)
	for _, d := range *a.dets.Load() {
		id := d.ID
		sched.Add("detect:"+id, d.Cron, timeout, func(ctx context.Context) error {
			d := a.detection(id)
			if d == nil {
				return fmt.Errorf("detection %s is no longer loaded", id)
			}
			return a.detectOnce(ctx, d)
		})
	}
}

func (a *app) detectOnce(ctx context.Context, d *detections.Detection) error {
	start := time.Now()
	st, err := a.detector.Run(ctx, d)
	a.log.Info("detect run", "detection", d.ID, "window_start", st.Start, "window_end", st.End, "windows", st.Windows,
		"results", st.Results, "new_alerts", st.Alerts, "repeats", st.Repeats, "tickets", st.Tickets,
		"duration", time.Since(start).Round(time.Millisecond), "err", err)
	return err
}
