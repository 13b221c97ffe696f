package detections

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Sequence is the [sequence] table: a detection that fires on its steps'
// alerts, as patrol's own ledger records them, instead of on a search. The
// steps are other detections; their alerts join when the `by` fields of
// each step's alert hold the same values.
type Sequence struct {
	Steps []string
	// By lists, per step id, the fields whose values join the steps; every
	// step has the same number of them, matched in order.
	By     map[string][]string
	Within time.Duration
	// Absent fires when the steps before the last happened and the last did
	// not follow within Within of the first.
	Absent bool
}

// SequenceInstanceField is the result field that names one sequence
// instance: a sequence detection's group_by, so each instance is one alert.
const SequenceInstanceField = "sequence.instance"

// SequenceStepsField is the result field of a sequence alert that lists its
// steps, one line each: detection, time, ticket.
const SequenceStepsField = "sequence.steps"

// FirstSeen is the [first_seen] table: results whose value combination of
// Fields was seen within History are dropped, so only new combinations
// alert. A new detection learns silently for Learn, or, with Backfill,
// learns from its History once before its first window.
type FirstSeen struct {
	Fields   []string
	History  time.Duration
	Learn    time.Duration
	Backfill bool
}

// Defaults of [first_seen].
const (
	DefaultFirstSeenHistory = 30 * 24 * time.Hour
	DefaultFirstSeenLearn   = 7 * 24 * time.Hour
)

type rawSequence struct {
	Steps  []string            `toml:"steps"`
	By     map[string][]string `toml:"by"`
	Within *string             `toml:"within"`
	Absent bool                `toml:"absent"`
}

type rawFirstSeen struct {
	Fields   []string `toml:"fields"`
	History  *string  `toml:"history"`
	Learn    *string  `toml:"learn"`
	Backfill bool     `toml:"backfill"`
}

// validateSequence checks a [sequence] detection. Whether its steps exist is
// checked by Load, which sees every file.
func validateSequence(r *Reporter, d *Detection, raw *rawDetection) {
	rs := raw.Sequence
	if raw.Search != "" {
		r.Add("search", "a [sequence] detection has no search: it runs over its steps' alerts")
	}
	if len(raw.GroupBy) > 0 {
		r.Add("group_by", "a [sequence] detection has no group_by: each sequence instance is one alert")
	}
	if raw.Freshness != nil || raw.FreshSearch != "" {
		r.Add("freshness", "a [sequence] detection has no source of its own to watch; set freshness on its steps")
	}
	if raw.TimeMode != "" {
		r.Add("time_mode", "a [sequence] detection orders its steps by event time; time_mode does not apply")
	}
	if raw.FirstSeen != nil {
		r.Add("first_seen", "cannot be combined with [sequence]")
	}
	seq := &Sequence{Steps: rs.Steps, By: map[string][]string{}, Absent: rs.Absent}
	d.Sequence = seq
	d.GroupBy = []string{SequenceInstanceField}
	d.TimeMode = TimeIndex
	if len(rs.Steps) < 2 {
		r.Add("sequence.steps", "needs at least two detection ids, in the order they must happen")
	}
	seen := map[string]bool{}
	for _, s := range rs.Steps {
		switch {
		case !idRE.MatchString(s):
			r.Add("sequence.steps", "%q is not a detection id", s)
		case seen[s]:
			r.Add("sequence.steps", "%q is listed twice", s)
		case s == raw.ID:
			r.Add("sequence.steps", "a sequence cannot be its own step")
		}
		seen[s] = true
	}
	width := -1
	for _, s := range rs.Steps {
		fields, ok := rs.By[s]
		if !ok {
			r.Add("sequence.by", "step %q has no entry: name the fields of its alerts that join the steps", s)
			continue
		}
		if len(fields) == 0 {
			r.Add("sequence.by", "step %q: name at least one field", s)
		}
		for i, f := range fields {
			if strings.TrimSpace(f) == "" {
				r.Add("sequence.by", "step %q: field %d is empty", s, i+1)
			}
		}
		if width >= 0 && len(fields) != width {
			r.Add("sequence.by", "step %q names %d field(s), the first step %d: every step names the same number, matched in order", s, len(fields), width)
		}
		if width < 0 {
			width = len(fields)
		}
		seq.By[s] = fields
	}
	var extra []string
	for s := range rs.By {
		if !seen[s] {
			extra = append(extra, s)
		}
	}
	sort.Strings(extra)
	for _, s := range extra {
		r.Add("sequence.by", "%q is not one of the steps", s)
	}
	if rs.Within == nil {
		r.Add("sequence.within", "is required: how long after the first step the others must (or, with absent, must not) happen")
	} else if seq.Within = duration(r, "sequence.within", rs.Within, 0); seq.Within <= 0 {
		r.Add("sequence.within", "must be more than 0")
	}
	if raw.Lookback == nil && seq.Within > 0 {
		// A new sequence looks back over step alerts as far as an instance can span.
		d.Lookback = seq.Within
	}
}

// validateFirstSeen checks [first_seen].
func validateFirstSeen(r *Reporter, d *Detection, raw *rawDetection) {
	rf := raw.FirstSeen
	fs := &FirstSeen{Fields: rf.Fields, Backfill: rf.Backfill}
	d.FirstSeen = fs
	if len(rf.Fields) == 0 {
		r.Add("first_seen.fields", "is required: the fields whose value combination is new or known (e.g. [\"userIdentity.arn\", \"network\"])")
	}
	for i, f := range rf.Fields {
		if strings.TrimSpace(f) == "" {
			r.Add("first_seen.fields", "entry %d is empty", i+1)
		}
	}
	fs.History = duration(r, "first_seen.history", rf.History, DefaultFirstSeenHistory)
	fs.Learn = duration(r, "first_seen.learn", rf.Learn, DefaultFirstSeenLearn)
	if fs.History < time.Hour {
		r.Add("first_seen.history", "must be at least 1h")
	}
	if rf.Backfill && rf.Learn != nil {
		r.Add("first_seen.learn", "has no effect with backfill = true (the history searched once is what it learns from)")
	}
	if rf.Backfill {
		fs.Learn = 0
	}
}

// checkSteps checks, across the loaded files, that every sequence's steps
// are detections with a search (not sequences themselves).
func checkSteps(ds []*Detection) []error {
	byID := map[string]*Detection{}
	for _, d := range ds {
		byID[d.ID] = d
	}
	var errs []error
	for _, d := range ds {
		if d.Sequence == nil {
			continue
		}
		src, _ := os.ReadFile(d.File)
		line := ScanKeyLines(string(src)).Line("sequence.steps")
		for _, s := range d.Sequence.Steps {
			step := byID[s]
			msg := ""
			switch {
			case step == nil:
				msg = fmt.Sprintf("step %q is not a loaded detection (a step is the id of another detection in %s)", s, filepath.Dir(d.File))
			case step.Sequence != nil:
				msg = fmt.Sprintf("step %q is itself a sequence; steps are detections with a search", s)
			}
			if msg != "" {
				errs = append(errs, &Problem{File: d.File, Line: line, Key: "sequence.steps", Msg: msg})
			}
		}
	}
	return errs
}
