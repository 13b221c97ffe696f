package attack

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// Stages of a detection: a live one opens tickets, a shadow one only records.
const (
	StageLive   = "live"
	StageShadow = "shadow"
)

// Detection is what coverage needs to know of a detection.
type Detection struct {
	ID         string
	Techniques []string // ATT&CK technique ids
	Stage      string   // StageLive or StageShadow
}

// Covering names a detection that covers a technique.
type Covering struct {
	ID    string `json:"id"`
	Stage string `json:"stage"`
}

// TechniqueCoverage is one technique and the detections that cover it.
type TechniqueCoverage struct {
	ID         string     `json:"id"`
	Name       string     `json:"name,omitempty"`
	Detections []Covering `json:"detections"`
}

// Live counts the live detections among the covering ones.
func (t TechniqueCoverage) Live() int {
	n := 0
	for _, d := range t.Detections {
		if d.Stage == StageLive {
			n++
		}
	}
	return n
}

// TacticCoverage is one tactic with its covered techniques.
type TacticCoverage struct {
	ID         string              `json:"id"`
	ShortName  string              `json:"shortname"`
	Name       string              `json:"name"`
	Techniques []TechniqueCoverage `json:"techniques"`
}

// Report is the coverage of a set of detections.
type Report struct {
	AttackVersion string           `json:"attack_version"`
	Detections    int              `json:"detections"`
	Tactics       []TacticCoverage `json:"tactics"` // every tactic, in matrix order
	// Unknown are tagged ids the embedded tables do not have (a newer or
	// older ATT&CK release, or a typo).
	Unknown []TechniqueCoverage `json:"unknown_techniques"`
	// Untagged lists the detections without any technique.
	Untagged []string `json:"untagged"`
	covered  []TechniqueCoverage
}

// Cover computes which techniques, under which tactics, the detections cover.
func (m *Matrix) Cover(ds []Detection) *Report {
	r := &Report{AttackVersion: Version, Detections: len(ds), Unknown: []TechniqueCoverage{}, Untagged: []string{}}
	by := map[string][]Covering{}
	for _, d := range ds {
		if len(d.Techniques) == 0 {
			r.Untagged = append(r.Untagged, d.ID)
		}
		for _, id := range d.Techniques {
			by[id] = append(by[id], Covering{ID: d.ID, Stage: d.Stage})
		}
	}
	ids := make([]string, 0, len(by))
	for id := range by {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	perTactic := map[string][]TechniqueCoverage{}
	for _, id := range ids {
		cov := by[id]
		sort.Slice(cov, func(i, j int) bool { return cov[i].ID < cov[j].ID })
		t, ok := m.Technique(id)
		if !ok {
			r.Unknown = append(r.Unknown, TechniqueCoverage{ID: id, Detections: cov})
			continue
		}
		tc := TechniqueCoverage{ID: id, Name: t.Name, Detections: cov}
		r.covered = append(r.covered, tc)
		for _, tac := range t.Tactics {
			perTactic[tac] = append(perTactic[tac], tc)
		}
	}
	sort.Strings(r.Untagged)
	for _, tac := range m.Tactics {
		tc := TacticCoverage{ID: tac.ID, ShortName: tac.ShortName, Name: tac.Name, Techniques: perTactic[tac.ShortName]}
		if tc.Techniques == nil {
			tc.Techniques = []TechniqueCoverage{}
		}
		r.Tactics = append(r.Tactics, tc)
	}
	return r
}

// Covered lists every covered technique the tables know, by id.
func (r *Report) Covered() []TechniqueCoverage { return r.covered }

// WriteText prints the report as a table: each tactic, its covered
// techniques and their detections (shadow ones marked), then totals.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TACTIC\tTECHNIQUE\tNAME\tDETECTIONS")
	for _, tac := range r.Tactics {
		if len(tac.Techniques) == 0 {
			fmt.Fprintf(tw, "%s\t-\t\t(none)\n", tac.Name)
			continue
		}
		for i, t := range tac.Techniques {
			name := tac.Name
			if i > 0 {
				name = ""
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, t.ID, t.Name, names(t.Detections))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	tactics := 0
	for _, tac := range r.Tactics {
		if len(tac.Techniques) > 0 {
			tactics++
		}
	}
	live := 0
	for _, t := range r.covered {
		if t.Live() > 0 {
			live++
		}
	}
	fmt.Fprintf(w, "\n%d detection(s) cover %d ATT&CK v%s technique(s) (%d by a live detection) in %d of %d tactics\n",
		r.Detections, len(r.covered), r.AttackVersion, live, tactics, len(r.Tactics))
	for _, t := range r.Unknown {
		fmt.Fprintf(w, "not in ATT&CK v%s: %s (%s)\n", r.AttackVersion, t.ID, names(t.Detections))
	}
	if len(r.Untagged) > 0 {
		fmt.Fprintf(w, "without attack tags: %s\n", strings.Join(r.Untagged, ", "))
	}
	return nil
}

func names(cs []Covering) string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
		if c.Stage != StageLive {
			out[i] += " (" + c.Stage + ")"
		}
	}
	return strings.Join(out, ", ")
}
