package attack

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestEnterpriseTables(t *testing.T) {
	m, err := Enterprise()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Tactics) != 14 || m.Tactics[0].ShortName != "reconnaissance" || m.Tactics[13].ShortName != "impact" {
		t.Errorf("tactics: %+v", m.Tactics)
	}
	if m.Len() != 691 {
		t.Errorf("%d techniques, want 691", m.Len())
	}
	tech, ok := m.Technique("T1562.008")
	if !ok || tech.Name != "Disable or Modify Cloud Logs" || tech.Parent() != "T1562" || strings.Join(tech.Tactics, ",") != "defense-evasion" {
		t.Errorf("T1562.008: %+v %v", tech, ok)
	}
	if v, _ := m.Technique("T1078"); len(v.Tactics) != 4 {
		t.Errorf("T1078 tactics: %v", v.Tactics)
	}
}

func TestParseRejectsBadTables(t *testing.T) {
	tactics := []byte("order,id,shortname,name\n1,TA0001,initial-access,Initial Access\n")
	if _, err := parse(tactics, []byte("id,name\nT1,x\n")); err == nil || !strings.Contains(err.Error(), "enterprise-techniques.csv") {
		t.Errorf("bad header: %v", err)
	}
	_, err := parse(tactics, []byte("id,name,tactics,platforms,version\nT1078,Valid Accounts,persistence,IaaS,1.0\n"))
	if err == nil || !strings.Contains(err.Error(), `unknown tactic "persistence"`) {
		t.Errorf("unknown tactic: %v", err)
	}
}

func testReport(t *testing.T) *Report {
	t.Helper()
	m, err := Enterprise()
	if err != nil {
		t.Fatal(err)
	}
	return m.Cover([]Detection{
		{ID: "trail-stopped", Techniques: []string{"T1562.008"}, Stage: StageLive},
		{ID: "trail-deleted", Techniques: []string{"T1562.008", "T1070"}, Stage: StageLive},
		{ID: "sigma-new", Techniques: []string{"T1562.008", "T1685"}, Stage: StageShadow},
		{ID: "cloud-accounts", Techniques: []string{"T1078.004"}, Stage: StageShadow},
		{ID: "untagged", Stage: StageLive},
	})
}

func TestCover(t *testing.T) {
	r := testReport(t)
	var de TacticCoverage
	for _, tac := range r.Tactics {
		if tac.ShortName == "defense-evasion" {
			de = tac
		}
	}
	if len(r.Tactics) != 14 || len(de.Techniques) != 3 {
		t.Fatalf("defense evasion: %+v", de)
	}
	if got := de.Techniques[2]; got.ID != "T1562.008" || got.Live() != 2 || len(got.Detections) != 3 {
		t.Errorf("T1562.008: %+v", got)
	}
	if len(r.Unknown) != 1 || r.Unknown[0].ID != "T1685" || r.Unknown[0].Detections[0].ID != "sigma-new" {
		t.Errorf("unknown: %+v", r.Unknown)
	}
	if strings.Join(r.Untagged, ",") != "untagged" {
		t.Errorf("untagged: %v", r.Untagged)
	}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Defense Evasion", "T1562.008  Disable or Modify Cloud Logs", "sigma-new (shadow), trail-deleted, trail-stopped",
		"Reconnaissance", "(none)", "5 detection(s) cover 3 ATT&CK v18 technique(s) (2 by a live detection) in 4 of 14 tactics",
		"not in ATT&CK v18: T1685 (sigma-new (shadow))", "without attack tags: untagged",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
}

func TestLayer(t *testing.T) {
	b, err := json.Marshal(testReport(t).Layer("patrol"))
	if err != nil {
		t.Fatal(err)
	}
	var l map[string]any
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	v := l["versions"].(map[string]any)
	if l["name"] != "patrol" || l["domain"] != "enterprise-attack" || v["layer"] != "4.5" || v["attack"] != "18" || v["navigator"] == "" {
		t.Errorf("header: %s", b)
	}
	scores := map[string]any{}
	sub := map[string]bool{}
	for _, x := range l["techniques"].([]any) {
		tech := x.(map[string]any)
		scores[tech["techniqueID"].(string)] = tech["score"]
		sub[tech["techniqueID"].(string)] = tech["showSubtechniques"].(bool)
	}
	// live detections score; shadow-only scores 0; parents are expanded, unscored
	if scores["T1562.008"] != 2.0 || scores["T1070"] != 1.0 || scores["T1078.004"] != 0.0 || scores["T1562"] != nil || !sub["T1562"] || !sub["T1078"] {
		t.Errorf("techniques: %v %v", scores, sub)
	}
	if _, ok := scores["T1685"]; ok || !strings.Contains(l["description"].(string), "T1685 (sigma-new (shadow))") {
		t.Errorf("unknown technique in the layer: %s", b)
	}
	g := l["gradient"].(map[string]any)
	if g["minValue"] != 0.0 || g["maxValue"] != 2.0 || len(g["colors"].([]any)) < 2 {
		t.Errorf("gradient: %v", g)
	}
}
