package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/digest"
	"github.com/patrolsec/patrol/state"
)

type detectionStatus struct {
	ID            string    `json:"id"`
	Stage         string    `json:"stage"` // live | shadow
	Schedule      string    `json:"schedule"`
	Checkpoint    time.Time `json:"checkpoint,omitzero"`
	LagSeconds    float64   `json:"lag_seconds,omitempty"`
	LastRun       time.Time `json:"last_run,omitzero"`
	LastRunStatus string    `json:"last_run_status,omitempty"` // ok | failed | cancelled | unfinished
	LastSuccess   time.Time `json:"last_success,omitzero"`
	// Unfinished is the start of a run newer than the last finished one
	// that never finished: running now, or stopped by a crash.
	Unfinished    time.Time `json:"unfinished_since,omitzero"`
	FailuresInRow int       `json:"failures_in_row"`
	LastError     string    `json:"last_error,omitempty"`
	OpenAlerts    int       `json:"open_alerts"`
	PendingAlerts int       `json:"pending_alerts"`
	SkippedRuns   int64     `json:"skipped_runs"`
	LastSkipped   time.Time `json:"last_skipped,omitzero"`
	// Tickets people resolved in the last 30 days, as true or false
	// positives (tickets.false_positive_resolutions).
	TruePositives  int `json:"true_positives_30d"`
	FalsePositives int `json:"false_positives_30d"`
}

type statusReport struct {
	Detections       []detectionStatus `json:"detections"`
	Respond          *runView          `json:"respond,omitempty"`
	PendingApprovals []string          `json:"pending_approvals"`
	Deferred         []string          `json:"deferred"`
	InGrace          []string          `json:"in_grace"`
	Breaker          breakerView       `json:"breaker"`
	Verifying        []string          `json:"verifying"`
	QueuedNotices    int               `json:"queued_notifications"`
	QueuedDeliveries int               `json:"queued_deliveries"`
	DeadLetters      []deadLetterView  `json:"dead_letters"`
	UndoRequests     []undoView        `json:"undo_requests"`
	RecentActions    []actionView      `json:"recent_actions"`
	// SocketMode is the Slack Socket Mode connection of the running
	// patrol, when Slack approvals are configured.
	SocketMode *socketState `json:"socket_mode,omitempty"`
	Digests    []digestView `json:"digests"`
}

// digestView is a [[digest]] entry: when it last went out and goes next.
type digestView struct {
	Channel  string    `json:"channel"`
	Schedule string    `json:"schedule"`
	Teams    []string  `json:"teams"`
	LastTick time.Time `json:"last_tick,omitzero"`
	NextTick time.Time `json:"next_tick,omitzero"`
}

// breakerView is the circuit breaker (aws.breaker_failures).
type breakerView struct {
	Open     bool      `json:"open"`
	Failures int       `json:"failures_in_a_row"`
	Limit    int       `json:"limit"`
	ResetAt  time.Time `json:"reset_at,omitzero"`
	ResetBy  string    `json:"reset_by,omitempty"`
}

// deadLetterView is a delivery set aside after a permanent failure.
type deadLetterView struct {
	ID     int64     `json:"id"`
	Ticket string    `json:"ticket"`
	Kind   string    `json:"kind"`
	Error  string    `json:"error"`
	At     time.Time `json:"at"`
}

// undoView is an undo queued by 'patrol undo' for the running patrol.
type undoView struct {
	ID        int64     `json:"id"`
	Action    int64     `json:"action"`
	By        string    `json:"by"`
	Requested time.Time `json:"requested"`
	Result    string    `json:"result"` // "queued" until the running patrol carries it out
	Detail    string    `json:"detail,omitempty"`
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
	skips, err := db.SkippedRuns(ctx)
	if err != nil {
		return nil, err
	}
	verdicts, err := db.VerdictCounts(ctx, time.Now().Add(-30*24*time.Hour), time.Time{})
	if err != nil {
		return nil, err
	}
	rep := &statusReport{Detections: []detectionStatus{}, PendingApprovals: []string{}, Deferred: []string{}, InGrace: []string{}, Verifying: []string{},
		DeadLetters: []deadLetterView{}, UndoRequests: []undoView{}}
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
		s := detectionStatus{ID: d.ID, Stage: d.Stage, Schedule: d.Schedule, OpenAlerts: counts[d.ID][0], PendingAlerts: counts[d.ID][1],
			SkippedRuns: skips[d.ID].Count, LastSkipped: skips[d.ID].Last,
			TruePositives: verdicts[d.ID][0], FalsePositives: verdicts[d.ID][1]}
		if cp, ok := cps[d.ID]; ok {
			s.Checkpoint = cp
			s.LagSeconds = now.Sub(cp).Seconds()
		}
		if r, ok := byDet[d.ID]; ok {
			s.LastRun, s.LastSuccess, s.FailuresInRow, s.LastError = r.LastStart, r.LastSuccess, r.FailuresInRow, r.LastError
			s.Unfinished = r.Unfinished
			s.LastRunStatus = runStatus(r)
		}
		rep.Detections = append(rep.Detections, s)
	}
	for _, pair := range []struct {
		stage string
		into  *[]string
	}{{state.StageApproval, &rep.PendingApprovals}, {state.StageDeferred, &rep.Deferred}, {state.StageGrace, &rep.InGrace}, {state.StageVerify, &rep.Verifying}} {
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
	rep.QueuedDeliveries = len(queued)
	for _, q := range queued {
		if q.Kind == state.DeliverNotify {
			rep.QueuedNotices++
		}
	}
	dead, err := db.DeadLetters(ctx, 50)
	if err != nil {
		return nil, err
	}
	for _, d := range dead {
		rep.DeadLetters = append(rep.DeadLetters, deadLetterView{ID: d.ID, Ticket: d.TicketKey, Kind: d.Kind, Error: d.LastError, At: d.Dead})
	}
	undos, err := db.RecentUndos(ctx, 10)
	if err != nil {
		return nil, err
	}
	for _, u := range undos {
		v := undoView{ID: u.ID, Action: u.ActionID, By: u.By, Requested: u.Requested, Result: u.Result, Detail: u.Detail}
		if u.Done.IsZero() {
			v.Result = "queued"
		}
		rep.UndoRequests = append(rep.UndoRequests, v)
	}
	recent, err := db.RecentActions(ctx, 10)
	if err != nil {
		return nil, err
	}
	rep.RecentActions = actionViews(recent)
	b, err := poller.Breaker(ctx, db, a.cfg.AWS.BreakerFailures)
	if err != nil {
		return nil, err
	}
	rep.Breaker = breakerView{Open: b.Open, Failures: b.Failures, Limit: b.Limit, ResetAt: b.ResetAt, ResetBy: b.ResetBy}
	if err := chatStatus(ctx, a, db, rep, now); err != nil {
		return nil, err
	}
	return rep, nil
}

// runStatus names how a run ended.
func runStatus(r state.RunSummary) string {
	switch {
	case r.LastCancelled:
		return "cancelled"
	case r.LastFinish.IsZero():
		return "unfinished"
	case r.LastError != "":
		return "failed"
	}
	return "ok"
}

// chatStatus adds the Socket Mode connection and the digests.
func chatStatus(ctx context.Context, a *app, db *state.DB, rep *statusReport, now time.Time) error {
	rep.Digests = []digestView{}
	if socketMode(a.cfg) {
		rep.SocketMode = &socketState{ConnState: poller.ConnState{State: "not started"}}
		raw, err := db.Meta(ctx, socketStateKey)
		if err != nil {
			return err
		}
		if raw != "" {
			if err := json.Unmarshal([]byte(raw), rep.SocketMode); err != nil {
				return fmt.Errorf("socket mode state: %w", err)
			}
		}
	}
	for _, c := range a.cfg.Digests {
		v := digestView{Channel: c.Channel, Schedule: c.Schedule, Teams: c.Teams}
		if v.Teams == nil {
			v.Teams = []string{}
		}
		last, err := db.LastDigest(ctx, c.Name())
		if err != nil {
			return err
		}
		v.LastTick = last
		if j, err := digest.New(c); err == nil {
			v.NextTick = j.Schedule.Next(now).UTC()
		}
		rep.Digests = append(rep.Digests, v)
	}
	return nil
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return time.Since(t).Round(time.Second).String() + " ago"
}

func printStatus(out io.Writer, rep *statusReport) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DETECTION\tSCHEDULE\tLAST RUN\tLAST SUCCESS\tLAG\tOPEN ALERTS\tTP/FP 30D\tSKIPPED\tFAILURES")
	for _, d := range rep.Detections {
		lag := "-"
		if !d.Checkpoint.IsZero() {
			lag = time.Duration(d.LagSeconds * float64(time.Second)).Round(time.Second).String()
		}
		fails := fmt.Sprint(d.FailuresInRow)
		if d.LastError != "" && d.LastRunStatus != "cancelled" {
			fails += " (" + poller.CleanText(truncate(d.LastError, 60)) + ")"
		}
		last := ago(d.LastRun)
		if d.LastRunStatus == "cancelled" {
			last += " (cancelled)"
		}
		if !d.Unfinished.IsZero() {
			last += " (one unfinished since " + ago(d.Unfinished) + ")"
		}
		skipped := fmt.Sprint(d.SkippedRuns)
		if d.SkippedRuns > 0 {
			skipped += " (last " + ago(d.LastSkipped) + ")"
		}
		id := d.ID
		if d.Stage == detections.StageShadow {
			id += " (shadow)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d/%d\t%s\t%s\n", id, d.Schedule, last, ago(d.LastSuccess), lag, d.OpenAlerts,
			d.TruePositives, d.FalsePositives, skipped, fails)
	}
	tw.Flush()
	if rep.Respond != nil {
		last := ago(rep.Respond.LastRun)
		if rep.Respond.LastCancelled {
			last += " (cancelled)"
		}
		fmt.Fprintf(out, "\nrespond: last run %s, last success %s", last, ago(rep.Respond.LastSuccess))
		if !rep.Respond.Unfinished.IsZero() {
			fmt.Fprintf(out, ", one unfinished since %s", ago(rep.Respond.Unfinished))
		}
		if rep.Respond.LastError != "" && !rep.Respond.LastCancelled {
			fmt.Fprintf(out, ", last error: %s", poller.CleanText(truncate(rep.Respond.LastError, 100)))
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintf(out, "pending approvals: %d %v\n", len(rep.PendingApprovals), rep.PendingApprovals)
	if len(rep.Deferred) > 0 {
		fmt.Fprintf(out, "held (hourly budget or circuit breaker): %v\n", rep.Deferred)
	}
	if len(rep.InGrace) > 0 {
		fmt.Fprintf(out, "automatic remediations in their grace period (add the hold label to stop one): %v\n", rep.InGrace)
	}
	if b := rep.Breaker; b.Open {
		fmt.Fprintf(out, "CIRCUIT BREAKER OPEN: %d actions failed in a row (aws.breaker_failures = %d); no action runs until 'patrol resume'\n", b.Failures, b.Limit)
	}
	if len(rep.Verifying) > 0 {
		fmt.Fprintf(out, "actions interrupted, being read back: %v\n", rep.Verifying)
	}
	if rep.QueuedDeliveries > 0 {
		fmt.Fprintf(out, "deliveries waiting to be sent: %d (%d notifications)\n", rep.QueuedDeliveries, rep.QueuedNotices)
	}
	if len(rep.DeadLetters) > 0 {
		fmt.Fprintf(out, "\ndeliveries set aside after a permanent failure (act on them by hand):\n")
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		for _, d := range rep.DeadLetters {
			fmt.Fprintf(tw, "  #%d\t%s\t%s\t%s\t%s\n", d.ID, d.At.Format(time.RFC3339), d.Ticket, d.Kind, poller.CleanText(truncate(d.Error, 100)))
		}
		tw.Flush()
	}
	if len(rep.UndoRequests) > 0 {
		fmt.Fprintln(out, "\nundo requests:")
		for _, u := range rep.UndoRequests {
			fmt.Fprintf(out, "  action #%d by %s at %s: %s %s\n", u.Action, poller.CleanText(u.By), u.Requested.Format(time.RFC3339), u.Result, poller.CleanText(truncate(u.Detail, 100)))
		}
	}
	if s := rep.SocketMode; s != nil {
		fmt.Fprintf(out, "\nslack socket mode: %s", s.State)
		if !s.Since.IsZero() {
			fmt.Fprintf(out, " since %s", ago(s.Since))
		}
		if s.Error != "" {
			fmt.Fprintf(out, " (%s)", poller.CleanText(truncate(s.Error, 100)))
		}
		if !s.CheckedAt.IsZero() {
			fmt.Fprintf(out, ", %d connection(s), checked %s", s.Connects, ago(s.CheckedAt))
		}
		fmt.Fprintln(out)
	}
	for _, d := range rep.Digests {
		fmt.Fprintf(out, "digest %s (%s): last %s, next %s\n", d.Channel, d.Schedule, ago(d.LastTick), d.NextTick.Format(time.RFC3339))
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
