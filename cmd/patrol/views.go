package main

import (
	"encoding/json"
	"time"

	"github.com/patrolsec/patrol/state"
)

// The --json outputs share one style: snake_case keys, times in RFC 3339,
// and what state keeps as JSON text (plans, snapshots) nested as objects.

// actionView is one row of the action ledger.
type actionView struct {
	ID        int64           `json:"id"`
	At        time.Time       `json:"at"`
	TicketKey string          `json:"ticket_key"`
	Action    string          `json:"action"`
	Phase     string          `json:"phase"`
	DryRun    bool            `json:"dry_run"`
	Target    string          `json:"target"`
	Principal string          `json:"principal,omitempty"`
	Detail    string          `json:"detail,omitempty"`
	Plan      json.RawMessage `json:"plan,omitempty"`
	Snapshot  json.RawMessage `json:"snapshot,omitempty"`
}

func newActionView(e state.ActionEvent) actionView {
	return actionView{ID: e.ID, At: e.At, TicketKey: e.TicketKey, Action: e.Action, Phase: e.Phase, DryRun: e.DryRun,
		Target: e.Target, Principal: e.Principal, Detail: e.Detail, Plan: nested(e.Plan), Snapshot: nested(e.Snapshot)}
}

func actionViews(evs []state.ActionEvent) []actionView {
	out := make([]actionView, 0, len(evs))
	for _, e := range evs {
		out = append(out, newActionView(e))
	}
	return out
}

// runView is the latest run of a job.
type runView struct {
	LastRun       time.Time `json:"last_run,omitzero"`
	LastFinish    time.Time `json:"last_finish,omitzero"`
	LastSuccess   time.Time `json:"last_success,omitzero"`
	FailuresInRow int       `json:"failures_in_row"`
	LastError     string    `json:"last_error,omitempty"`
	LastCancelled bool      `json:"last_cancelled,omitempty"`
	// Unfinished is the start of a run newer than the last finished one
	// that never finished: running now, or stopped by a crash.
	Unfinished time.Time `json:"unfinished_since,omitzero"`
}

func newRunView(r state.RunSummary) *runView {
	return &runView{LastRun: r.LastStart, LastFinish: r.LastFinish, LastSuccess: r.LastSuccess,
		FailuresInRow: r.FailuresInRow, LastError: r.LastError, LastCancelled: r.LastCancelled, Unfinished: r.Unfinished}
}

// nested returns JSON text as itself, to be nested in the output, and any
// other text as a JSON string; "" is left out.
func nested(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	if json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s)
	return b
}
