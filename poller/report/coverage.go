package report

import (
	"context"
	"fmt"
	"strings"

	"github.com/patrolsec/patrol/detections/attack"
)

// coverageSection shows the MITRE ATT&CK techniques the loaded detections
// cover, per tactic, with the alerts each technique's detections raised in
// the span. It is left out when no loaded detection has attack tags. The
// mapping of techniques to tactics is attack.Cover's, as in patrol coverage.
func coverageSection(_ context.Context, d *data) (*Section, error) {
	var ds []attack.Detection
	tagged := false
	for _, det := range d.opt.Detections {
		stage := det.Stage
		if stage == "" {
			stage = attack.StageLive
		}
		ds = append(ds, attack.Detection{ID: det.ID, Techniques: det.Attack, Stage: stage})
		tagged = tagged || len(det.Attack) > 0
	}
	if !tagged {
		return nil, nil
	}
	m, err := attack.Enterprise()
	if err != nil {
		return nil, err
	}
	cov := m.Cover(ds)
	alerts, shadow := map[string]int{}, map[string]int{}
	for _, a := range d.alerts {
		alerts[a.Detection]++
	}
	for _, a := range d.shadow {
		shadow[a.Detection]++
	}
	s := &Section{ID: "coverage", Title: "ATT&CK coverage",
		Intro: fmt.Sprintf("The MITRE ATT&CK Enterprise (v%s) techniques the loaded detections cover (their attack tags), per tactic, and the alerts those detections raised in the span; an alert counts under each technique its detection covers. A technique covered only by shadow detections opens no ticket yet: their alerts record what patrol would have done. 'patrol coverage' prints the same map, and writes it as an ATT&CK Navigator layer.", cov.AttackVersion)}
	tactics := &Table{Name: "attack_tactics", Title: "Per tactic", Columns: []Column{
		{Key: "tactic", Title: "Tactic"}, {Key: "tactic_id", Title: "Id"},
		{Key: "techniques", Title: "Techniques", Kind: Count, Hint: "techniques and sub-techniques covered"},
		{Key: "live", Title: "Live", Kind: Count, Hint: "covered by at least one live detection"},
		{Key: "shadow_only", Title: "Shadow only", Kind: Count, Hint: "covered by shadow detections only"},
		{Key: "detections", Title: "Detections", Kind: Count},
		{Key: "alerts", Title: "Alerts", Kind: Count, Hint: "alerts of the tactic's live detections in the span, each counted once"},
		{Key: "shadow_alerts", Title: "Shadow alerts", Kind: Count, Hint: "alerts the tactic's shadow detections recorded in the span"}},
		VisualAfter: "shadow_only", VisualTitle: "techniques"}
	techniques := &Table{Name: "attack_techniques", Title: "Covered techniques", Columns: []Column{
		{Key: "tactic", Title: "Tactic"}, {Key: "technique", Title: "Technique"}, {Key: "name", Title: "Name"},
		{Key: "live_detections", Title: "Live detections"}, {Key: "shadow_detections", Title: "Shadow detections"},
		{Key: "alerts", Title: "Alerts", Kind: Count}, {Key: "shadow_alerts", Title: "Shadow alerts", Kind: Count}},
		Empty: "The attack tags name no technique of this ATT&CK release."}
	var bars [][]int
	for _, tac := range cov.Tactics {
		live, dets := 0, map[string]bool{}
		for _, tc := range tac.Techniques {
			if tc.Live() > 0 {
				live++
			}
			var lv, sh []string
			n, ns := 0, 0
			for _, c := range tc.Detections {
				dets[c.ID] = true
				if c.Stage == attack.StageLive {
					lv, n = append(lv, c.ID), n+alerts[c.ID]
				} else {
					sh, ns = append(sh, c.ID), ns+shadow[c.ID]
				}
			}
			techniques.Rows = append(techniques.Rows, []any{tac.Name, tc.ID, tc.Name, strings.Join(lv, ", "), strings.Join(sh, ", "), n, ns})
		}
		n, ns := 0, 0
		for id := range dets {
			n, ns = n+alerts[id], ns+shadow[id]
		}
		tactics.Rows = append(tactics.Rows, []any{tac.Name, tac.ID, len(tac.Techniques), live, len(tac.Techniques) - live, len(dets), n, ns})
		bars = append(bars, []int{live, len(tac.Techniques) - live})
	}
	tactics.Visual = stackedBars(bars, []string{"a-live", "a-shadow"}, []string{"covered by a live detection", "covered by shadow detections only"})
	s.Blocks = append(s.Blocks, Block{Table: tactics, Chart: legend([]string{"covered by a live detection", "covered by shadow detections only"}, []string{"a-live", "a-shadow"})},
		Block{Table: techniques})
	for _, u := range cov.Unknown {
		var ids []string
		for _, c := range u.Detections {
			ids = append(ids, c.ID)
		}
		s.Notes = append(s.Notes, fmt.Sprintf("%s (tagged on %s) is not in ATT&CK v%s: a newer or older release, or a typo.", u.ID, strings.Join(ids, ", "), cov.AttackVersion))
	}
	if len(cov.Untagged) > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("Without attack tags, so not on this map: %s.", strings.Join(cov.Untagged, ", ")))
	}
	return s, nil
}
