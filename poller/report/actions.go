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

// outcomeHints explain the outcome columns on the page.
var outcomeHints = map[string]string{
	outSucceeded:   "the change is in place (including one read back after an interruption, and one whose undo failed or was refused)",
	outFailed:      "the action failed, or was interrupted and a person took over",
	outRefused:     "a guardrail (protected principal or account) refused it before it ran",
	outDryRun:      "aws.dry_run: the plan was recorded and nothing changed",
	outUndone:      "changed, then undone with 'patrol undo'",
	outInterrupted: "patrol stopped while it ran and has not yet read the target back",
	outOther:       "planned and never started, or still running",
}

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
	// Interrupted is when patrol recorded that it stopped while the action
	// ran (zero: it never did); Resent, that the change had never been sent
	// and was sent after; Settled, Settle and SettleDetail, the row that
	// then said whether the change is in place (succeeded) or a person
	// takes over (failed).
	Interrupted  time.Time
	Resent       bool
	Settled      time.Time
	Settle       string
	SettleDetail string
}

// How an interrupted attempt was resolved.
const (
	resVerified = "verified in place"           // read back: the change is there
	resResent   = "sent after the interruption" // read back: never sent, so sent then
	resPerson   = "handed to a person"          // not in place, or cannot be read back
	resPending  = "read-back pending"           // not settled by the span's end
)

// resolution says how an interrupted attempt was resolved ("" when it was
// not interrupted).
func (a *attempt) resolution() string {
	switch {
	case a.Interrupted.IsZero():
		return ""
	case a.Settle == state.PhaseFailed:
		return resPerson
	case a.Settle == state.PhaseSucceeded && a.Resent:
		return resResent
	case a.Settle == state.PhaseSucceeded:
		return resVerified
	}
	return resPending
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
		switch {
		case e.Phase == state.PhaseInterrupted && a.Interrupted.IsZero():
			a.Interrupted = e.At
		case a.Interrupted.IsZero() || !a.Settled.IsZero():
		case e.Phase == state.PhaseStarted:
			a.Resent = true
		case e.Phase == state.PhaseSucceeded || e.Phase == state.PhaseFailed:
			a.Settled, a.Settle, a.SettleDetail = e.At, e.Phase, e.Detail
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].First.Before(out[j].First) })
	return out
}

// Outcome names where the attempt ended.
func (a *attempt) Outcome() string {
	switch a.Phase {
	case state.PhaseSucceeded, state.PhaseRevertFailed, state.PhaseRevertStarted, state.PhaseRevertRefused:
		// an undo that failed, was refused or never finished leaves the change in place
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

// outcomeText says the outcome with what it leaves out, and how an
// interruption was resolved.
func (a *attempt) outcomeText() string {
	switch res := a.resolution(); {
	case res == resPending && a.Phase == state.PhaseInterrupted:
		return "interrupted; " + res
	case res != "":
		return a.plainOutcome() + " (interrupted; " + res + ")"
	}
	return a.plainOutcome()
}

func (a *attempt) plainOutcome() string {
	switch a.Phase {
	case state.PhaseRevertFailed:
		return "succeeded; undo failed"
	case state.PhaseRevertStarted:
		return "succeeded; undo unfinished"
	case state.PhaseRevertRefused:
		return "succeeded; undo refused"
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
		Intro: "Each remediation attempt (ticket, action and target) that began in the span, by where it ended by the span's end. A dry run records the plan and changes nothing; a refused action met a guardrail (protected principal or account). An action patrol was stopped in the middle of is never run twice: patrol reads its target back and records whether the change is in place, or hands the ticket to a person."}
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
		cols = append(cols, Column{Key: snake(o), Title: o, Kind: Count, Hint: outcomeHints[o]})
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
	s.Blocks = append(s.Blocks, Block{Table: t, Chart: legend(outcomes, outcomeClasses())}, Block{Table: interruptedTable(d)})
	held, err := heldTable(ctx, d)
	if err != nil {
		return nil, err
	}
	s.Blocks = append(s.Blocks, Block{Table: held})
	return s, nil
}
