package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/state"
)

type detectionStatus struct {
	ID            string    `json:"id"`
	Schedule      string    `json:"schedule"`
	Checkpoint    time.Time `json:"checkpoint,omitzero"`
	LagSeconds    float64   `json:"lag_seconds,omitempty"`
	LastRun       time.Time `json:"last_run,omitzero"`
	LastSuccess   time.Time `json:"last_success,omitzero"`
	FailuresInRow int       `json:"failures_in_row"`
	LastError     string    `json:"last_error,omitempty"`
	OpenAlerts    int       `json:"open_alerts"`
	PendingAlerts int       `json:"pending_alerts"`
}

type statusReport struct {
	Detections       []detectionStatus `json:"detections"`
	Respond          *runView          `json:"respond,omitempty"`
	PendingApprovals []string          `json:"pending_approvals"`
	Deferred         []string          `json:"deferred"`
	QueuedNotices    int               `json:"queued_notifications"`
	RecentActions    []actionView      `json:"recent_actions"`
}

func cmdStatus(ctx context.Context, args []string, out, errOut io.Writer) int {
	fs, cfgPath := flags("status", errOut)
	asJSON := fs.Bool("json", false, "print one JSON document for scripts")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if !wantArgs(fs, 0, 0) {
		return exitInvalid
	}
	a, code := setup(ctx, *cfgPath, setupOptions{detect: true}, errOut)
	if a == nil {
		return code
	}
	db, err := state.OpenReadOnly(a.cfg.State.Path)
	if err != nil {
		fmt.Fprintf(errOut, "patrol status: %v\n", err)
		return exitFailed
	}
	defer db.Close()
	rep, err := buildStatus(ctx, a, db)
	if err != nil {
		fmt.Fprintf(errOut, "patrol status: %v\n", err)
		return exitFailed
	}
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
		return exitOK
	}
	printStatus(out, rep)
	return exitOK
}

func buildStatus(ctx context.Context, a *app, db *state.DB) (*statusReport, error) {
	cps, err := db.Checkpoints(ctx)
	if err != nil {
		return nil, err
	}
	runs, err := db.LastRuns(ctx)
	if err != nil {
		return nil, err
	}
	counts, err := db.AlertCounts(ctx)
	if err != nil {
		return nil, err
	}
	rep := &statusReport{Detections: []detectionStatus{}, PendingApprovals: []string{}, Deferred: []string{}}
	byDet := map[string]state.RunSummary{}
	for _, r := range runs {
		if r.Job == "respond" {
			rep.Respond = newRunView(r)
			continue
		}
		byDet[r.Detection] = r
	}
	now := time.Now()
	for _, d := range *a.dets.Load() {
		s := detectionStatus{ID: d.ID, Schedule: d.Schedule, OpenAlerts: counts[d.ID][0], PendingAlerts: counts[d.ID][1]}
		if cp, ok := cps[d.ID]; ok {
			s.Checkpoint = cp
			s.LagSeconds = now.Sub(cp).Seconds()
		}
		if r, ok := byDet[d.ID]; ok {
			s.LastRun, s.LastSuccess, s.FailuresInRow, s.LastError = r.LastStart, r.LastSuccess, r.FailuresInRow, r.LastError
		}
		rep.Detections = append(rep.Detections, s)
	}
	for _, pair := range []struct {
		stage string
		into  *[]string
	}{{state.StageApproval, &rep.PendingApprovals}, {state.StageDeferred, &rep.Deferred}} {
		rows, err := db.TicketsInStage(ctx, pair.stage)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			*pair.into = append(*pair.into, r.Key)
		}
	}
	queued, err := db.PendingOutbox(ctx, 10000)
	if err != nil {
		return nil, err
	}
	rep.QueuedNotices = len(queued)
	recent, err := db.RecentActions(ctx, 10)
	if err != nil {
		return nil, err
	}
	rep.RecentActions = actionViews(recent)
	return rep, nil
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return time.Since(t).Round(time.Second).String() + " ago"
}

func printStatus(out io.Writer, rep *statusReport) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DETECTION\tSCHEDULE\tLAST RUN\tLAST SUCCESS\tLAG\tOPEN ALERTS\tFAILURES")
	for _, d := range rep.Detections {
		lag := "-"
		if !d.Checkpoint.IsZero() {
			lag = time.Duration(d.LagSeconds * float64(time.Second)).Round(time.Second).String()
		}
		fails := fmt.Sprint(d.FailuresInRow)
		if d.LastError != "" {
			fails += " (" + poller.CleanText(truncate(d.LastError, 60)) + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", d.ID, d.Schedule, ago(d.LastRun), ago(d.LastSuccess), lag, d.OpenAlerts, fails)
	}
	tw.Flush()
	if rep.Respond != nil {
		fmt.Fprintf(out, "\nrespond: last run %s, last success %s", ago(rep.Respond.LastRun), ago(rep.Respond.LastSuccess))
		if rep.Respond.LastError != "" {
			fmt.Fprintf(out, ", last error: %s", poller.CleanText(truncate(rep.Respond.LastError, 100)))
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintf(out, "pending approvals: %d %v\n", len(rep.PendingApprovals), rep.PendingApprovals)
	if len(rep.Deferred) > 0 {
		fmt.Fprintf(out, "held by the hourly budget: %v\n", rep.Deferred)
	}
	if rep.QueuedNotices > 0 {
		fmt.Fprintf(out, "notifications waiting to be sent: %d\n", rep.QueuedNotices)
	}
	if len(rep.RecentActions) > 0 {
		fmt.Fprintln(out, "\nrecent actions:")
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		for _, e := range rep.RecentActions {
			dry := ""
			if e.DryRun {
				dry = " (dry run)"
			}
			fmt.Fprintf(tw, "  #%d\t%s\t%s\t%s\t%s%s\t%s\n", e.ID, e.At.Format(time.RFC3339), e.TicketKey, e.Action, e.Phase, dry, truncate(e.Target, 60))
		}
		tw.Flush()
	}
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
