package sequence

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/state"
)

// verdict is what a run makes of an open instance.
type verdict int

const (
	wait   verdict = iota // the steps may still come (or, absent, still be missed)
	fire                  // the sequence happened (absent: the last step did not)
	expire                // it can no longer fire
)

// decide settles every open instance of d as of gates (each step's
// detection checkpoint) and stores those that fire with firedAt, the end
// of the window this run is for. It returns how many fired.
func (e *Engine) decide(ctx context.Context, d *detections.Detection, gates []time.Time, firedAt time.Time) (int, error) {
	open, err := e.Store.SeqInstances(ctx, d.ID, state.SeqOpen, time.Time{}, time.Time{})
	if err != nil {
		return 0, fmt.Errorf("sequence %s: read instances: %w", d.ID, err)
	}
	byKey := map[string][]state.SeqObservation{}
	fired := 0
	for _, in := range open {
		obs, ok := byKey[in.Key]
		if !ok {
			if obs, err = e.Store.SeqObservations(ctx, d.ID, in.Key); err != nil {
				return fired, fmt.Errorf("sequence %s: read step alerts: %w", d.ID, err)
			}
			byKey[in.Key] = obs
		}
		v, chain := judge(d.Sequence, in, obs, gates)
		switch v {
		case wait:
			continue
		case expire:
			in.State = state.SeqClosed
		case fire:
			r, err := e.result(ctx, d, in, chain)
			if err != nil {
				return fired, err
			}
			b, err := json.Marshal(r)
			if err != nil {
				return fired, err
			}
			in.State, in.Result, in.FiredAt = state.SeqFired, string(b), firedAt
			fired++
		}
		if err := e.Store.SetSeqInstance(ctx, in); err != nil {
			return fired, fmt.Errorf("sequence %s: record instance: %w", d.ID, err)
		}
	}
	return fired, nil
}

// judge decides one instance from the observations of its key. Each step
// must have an alert whose activity (first to last sight) reaches into the
// span from the previous step's time to the deadline (the first step's time
// plus within); a step's time is the later of the previous step's and its
// alert's first sight. The earliest such alert is taken for each step, so a
// chain is found whenever one exists.
//
// A step that is missing can no longer come once its detection's checkpoint
// (gate) has passed the deadline: then a plain sequence closes, and an
// absent one, whose last step is the missing one, fires.
func judge(seq *detections.Sequence, in state.SeqInstance, obs []state.SeqObservation, gates []time.Time) (verdict, []state.SeqObservation) {
	deadline := in.Start.Add(seq.Within)
	var anchor *state.SeqObservation
	steps := make([][]state.SeqObservation, len(seq.Steps))
	for i := range obs {
		o := obs[i]
		if o.Step == 0 && o.AlertID == in.AnchorID {
			anchor = &obs[i]
		}
		if o.Step > 0 && o.Step < len(steps) {
			steps[o.Step] = append(steps[o.Step], o)
		}
	}
	if anchor == nil {
		return wait, nil // read again on the next run
	}
	chain := []state.SeqObservation{*anchor}
	last := len(seq.Steps) - 1
	upto := last
	if seq.Absent {
		upto = last - 1
	}
	t := in.Start
	for i := 1; i <= upto; i++ {
		o, ok := pick(steps[i], t, deadline)
		if !ok {
			if !gates[i].Before(deadline) {
				return expire, nil
			}
			return wait, nil
		}
		if o.First.After(t) {
			t = o.First
		}
		chain = append(chain, o)
	}
	if !seq.Absent {
		return fire, chain
	}
	if _, ok := pick(steps[last], t, deadline); ok {
		return expire, nil // the last step came in time
	}
	if !gates[last].Before(deadline) {
		return fire, chain
	}
	return wait, nil
}

// pick returns the observation that can follow at the earliest time at or
// after t and no later than deadline.
func pick(obs []state.SeqObservation, t, deadline time.Time) (state.SeqObservation, bool) {
	var best state.SeqObservation
	found := false
	for _, o := range obs {
		if o.Last.Before(t) || o.First.After(deadline) {
			continue
		}
		at := o.First
		if at.Before(t) {
			at = t
		}
		bestAt := best.First
		if bestAt.Before(t) {
			bestAt = t
		}
		if !found || at.Before(bestAt) {
			best, found = o, true
		}
	}
	return best, found
}

// Fields of a sequence alert's result, beside the steps' own fields.
const (
	fieldSteps    = detections.SequenceStepsField
	fieldTickets  = "sequence.tickets"
	fieldKey      = "sequence.key"
	fieldWithin   = "sequence.within"
	fieldMissing  = "sequence.missing"
	fieldDeadline = "sequence.deadline"
)

// result is what a fired instance's alert carries: every step's fields
// prefixed "stepN." (N from 1), the first step's fields also unprefixed (so
// routing, templates and enrichment find the account, the principal, the
// address of what started the sequence), and sequence.* fields naming the
// steps, their times and tickets.
func (e *Engine) result(ctx context.Context, d *detections.Detection, in state.SeqInstance, chain []state.SeqObservation) (poller.Result, error) {
	seq := d.Sequence
	r := poller.Result{}
	var lines, tickets []string
	for i, o := range chain {
		var sr poller.Result
		if err := json.Unmarshal([]byte(o.Result), &sr); err != nil {
			return nil, fmt.Errorf("sequence %s: step alert %d: %w", d.ID, o.AlertID, err)
		}
		names := sr.Fields()
		for _, f := range names {
			r["step"+strconv.Itoa(i+1)+"."+f] = sr[f]
			if i == 0 {
				r[f] = sr[f]
			}
		}
		line := fmt.Sprintf("%d. %s, first seen %s", i+1, o.Detection, o.First.UTC().Format(time.RFC3339))
		if o.TicketKey != "" {
			tickets = append(tickets, o.TicketKey)
			line += ", ticket " + o.TicketKey
			if row, err := e.Store.Ticket(ctx, o.TicketKey); err == nil && row != nil && row.URL != "" {
				line += " " + row.URL
			}
		}
		lines = append(lines, line)
	}
	deadline := in.Start.Add(seq.Within)
	if seq.Absent {
		missing := seq.Steps[len(seq.Steps)-1]
		lines = append(lines, fmt.Sprintf("%d. %s, not seen by %s", len(seq.Steps), missing, deadline.UTC().Format(time.RFC3339)))
		r[fieldMissing] = []string{missing}
		r[fieldDeadline] = []string{deadline.UTC().Format(time.RFC3339)}
	}
	r["_time"] = []string{in.Start.UTC().Format(time.RFC3339)}
	r[detections.SequenceInstanceField] = []string{strconv.FormatInt(in.AnchorID, 10)}
	r[fieldKey] = []string{strings.ReplaceAll(strings.ReplaceAll(in.Key, "\x1f", ", "), "\x1d", " ")}
	r[fieldWithin] = []string{shortDuration(seq.Within)}
	r[fieldSteps] = lines
	if len(tickets) > 0 {
		r[fieldTickets] = tickets
	}
	return r, nil
}

// shortDuration renders 24h0m0s as 24h and 30m0s as 30m.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

func sortedCopy(v []string) []string {
	out := append([]string(nil), v...)
	sort.Strings(out)
	return out
}
