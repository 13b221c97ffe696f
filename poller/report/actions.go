package report

import (
	"context"
	"sort"
	"time"

	"github.com/patrolsec/patrol/state"
)

// Action outcomes, in the order they are shown.
const (
	outSucceeded   = "succeeded"
	outFailed      = "failed"
	outRefused     = "refused"
	outDryRun      = "dry run"
	outUndone      = "undone"
	outInterrupted = "interrupted"
	outOther       = "other" // planned, running, undo started or failed
)

var outcomes = []string{outSucceeded, outFailed, outRefused, outDryRun, outUndone, outInterrupted, outOther}

// attempt is one remediation attempt (ticket + action + target) as it
// stood at the end of the span.
type attempt struct {
	Ticket, Action, Target string
	DryRun                 bool
	First, Last            time.Time
	LastID                 int64  // the id 'patrol undo' takes, for a succeeded one
	Phase                  string // the last phase
	Detail                 string
	SucceededAt            time.Time // when a real (not dry-run) run succeeded
}

// attempts groups ledger rows (in id order) into attempts, ordered by their
// first row.
func attempts(evs []state.ActionEvent) []*attempt {
	by := map[string]*attempt{}
	var out []*attempt
	for _, e := range evs {
		a := by[e.Attempt]
		if a == nil {
			a = &attempt{Ticket: e.TicketKey, Action: e.Action, Target: e.Target, First: e.At}
			by[e.Attempt] = a
			out = append(out, a)
		}
		a.DryRun = a.DryRun || e.DryRun
		a.Last, a.LastID, a.Phase, a.Detail = e.At, e.ID, e.Phase, e.Detail
		if e.Phase == state.PhaseSucceeded && !e.DryRun && a.SucceededAt.IsZero() {
			a.SucceededAt = e.At
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].First.Before(out[j].First) })
	return out
}

// Outcome names where the attempt ended.
func (a *attempt) Outcome() string {
	switch a.Phase {
	case state.PhaseSucceeded, state.PhaseRevertFailed, state.PhaseRevertStarted:
		// an undo that failed or never finished leaves the change in place
		return outSucceeded
	case state.PhaseFailed:
		return outFailed
	case state.PhaseRefused:
		return outRefused
	case state.PhasePlanned:
		if a.DryRun {
			return outDryRun
		}
	case state.PhaseReverted:
		return outUndone
	case state.PhaseInterrupted:
		return outInterrupted
	}
	return outOther
}

// outcomeText says the outcome with what it leaves out.
func (a *attempt) outcomeText() string {
	switch a.Phase {
	case state.PhaseRevertFailed:
		return "succeeded; undo failed"
	case state.PhaseRevertStarted:
		return "succeeded; undo unfinished"
	case state.PhasePlanned:
		if !a.DryRun {
			return "planned, never started"
		}
	case state.PhaseStarted:
		return "started, no outcome yet"
	}
	return a.Outcome()
}

func actionsSection(ctx context.Context, d *data) (*Section, error) {
	s := &Section{ID: "actions", Title: "Remediation",
		Intro: "Each remediation attempt (ticket, action and target) that began in the span, by where it ended by the span's end. A dry run records the plan and changes nothing; a refused action met a guardrail (protected principal or account)."}
	kinds := map[string]map[string]int{}
	var names []string
	for _, a := range d.attempts {
		if kinds[a.Action] == nil {
			kinds[a.Action] = map[string]int{}
			names = append(names, a.Action)
		}
		kinds[a.Action][a.Outcome()]++
		d.figures.outcomes[a.Outcome()]++
	}
	sort.Strings(names)
	cols := []Column{{Key: "action", Title: "Action"}}
	for _, o := range outcomes {
		cols = append(cols, Column{Key: snake(o), Title: o, Kind: Count})
	}
	t := &Table{Name: "actions_by_kind", Title: "Attempts by action and outcome", Columns: append(cols, Column{Key: "total", Title: "Total", Kind: Count}),
		Empty: "No remediation was attempted in the span."}
	var bars [][]int
	for _, n := range append(names, "") {
		counts := kinds[n]
		label := n
		if n == "" {
			label, counts = "all actions", d.figures.outcomes
		}
		row, seg, total := []any{label}, make([]int, len(outcomes)), 0
		for i, o := range outcomes {
			row, seg[i], total = append(row, counts[o]), counts[o], total+counts[o]
		}
		t.Rows = append(t.Rows, append(row, total))
		bars = append(bars, seg)
	}
	if len(names) == 0 {
		t.Rows, bars = nil, nil
	} else {
		t.Footer = true
		t.Visual = stackedBars(bars, outcomeClasses(), outcomes)
		t.VisualTitle = "outcomes"
	}
	s.Blocks = append(s.Blocks, Block{Table: t, Chart: legend(outcomes, outcomeClasses())})
	held, err := heldTable(ctx, d)
	if err != nil {
		return nil, err
	}
	s.Blocks = append(s.Blocks, Block{Table: held})
	return s, nil
}
