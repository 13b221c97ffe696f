package report

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/patrolsec/patrol/detections/attack"
	"github.com/patrolsec/patrol/state"
)

// TestCoverage: the ATT&CK techniques the loaded detections cover, per
// tactic (every tactic listed, gaps included), with their live and shadow
// detections' alerts in the span; tags the tables do not know and
// detections without tags are named; no tags, no section.
func TestCoverage(t *testing.T) {
	path := buildScenario(t)
	now := at(3, 8, 0)
	db, err := state.Open(path, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.RecordWindow(context.Background(), state.WindowChange{New: []state.Alert{
		{Detection: "d-seq", Fingerprint: "w1", FirstSeen: at(3, 7, 0), LastSeen: at(3, 7, 0), Count: 1, State: state.AlertShadow, Result: "{}", Would: "{}"},
	}}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	opt := scenarioOptions()
	rep := buildReport(t, path, opt)
	for _, s := range rep.Sections {
		if s.ID == "coverage" {
			t.Fatal("a coverage section without attack tags")
		}
	}
	tags := map[string][]string{"d-crit": {"T1078.004", "T1098.001"}, "d-high": {"T1562.008"}, "d-seq": {"T1098.001", "T1530", "T9999"}}
	for i, d := range opt.Detections {
		opt.Detections[i].Attack = tags[d.ID]
		if d.ID == "d-seq" {
			opt.Detections[i].Stage = attack.StageShadow
		}
	}
	rep = buildReport(t, path, opt)
	zero := func(name, id string) []any { return []any{name, id, 0, 0, 0, 0, 0, 0} }
	want := map[string][][]any{
		"attack_tactics": {
			zero("Reconnaissance", "TA0043"), zero("Resource Development", "TA0042"),
			{"Initial Access", "TA0001", 1, 1, 0, 1, 2, 0},
			zero("Execution", "TA0002"),
			{"Persistence", "TA0003", 2, 2, 0, 2, 2, 1},
			{"Privilege Escalation", "TA0004", 2, 2, 0, 2, 2, 1},
			{"Defense Evasion", "TA0005", 2, 2, 0, 2, 4, 0},
			zero("Credential Access", "TA0006"), zero("Discovery", "TA0007"), zero("Lateral Movement", "TA0008"),
			{"Collection", "TA0009", 1, 0, 1, 1, 0, 1},
			zero("Command and Control", "TA0011"), zero("Exfiltration", "TA0010"), zero("Impact", "TA0040"),
		},
		"attack_techniques": {
			{"Initial Access", "T1078.004", "Cloud Accounts", "d-crit", "", 2, 0},
			{"Persistence", "T1078.004", "Cloud Accounts", "d-crit", "", 2, 0},
			{"Persistence", "T1098.001", "Additional Cloud Credentials", "d-crit", "d-seq", 2, 1},
			{"Privilege Escalation", "T1078.004", "Cloud Accounts", "d-crit", "", 2, 0},
			{"Privilege Escalation", "T1098.001", "Additional Cloud Credentials", "d-crit", "d-seq", 2, 1},
			{"Defense Evasion", "T1078.004", "Cloud Accounts", "d-crit", "", 2, 0},
			{"Defense Evasion", "T1562.008", "Disable or Modify Cloud Logs", "d-high", "", 2, 0},
			{"Collection", "T1530", "Data from Cloud Storage", "", "d-seq", 0, 1},
		},
	}
	for name, rows := range want {
		got := tableOf(t, rep, name).Rows
		if len(got) != len(rows) {
			t.Errorf("%s: %d rows, want %d:\n%v", name, len(got), len(rows), got)
			continue
		}
		for i := range rows {
			if !reflect.DeepEqual(got[i], rows[i]) {
				t.Errorf("%s row %d:\n got %v\nwant %v", name, i, got[i], rows[i])
			}
		}
	}
	var notes []string
	for _, s := range rep.Sections {
		if s.ID == "coverage" {
			notes = s.Notes
		}
	}
	if want := []string{"T9999 (tagged on d-seq) is not in ATT&CK v" + attack.Version + ": a newer or older release, or a typo.",
		"Without attack tags, so not on this map: d-low."}; !reflect.DeepEqual(notes, want) {
		t.Errorf("coverage notes:\n got %q\nwant %q", notes, want)
	}
}
