package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCoverageOfThePack runs patrol coverage over the shipped pack: every
// tactic in order, the techniques with their detections, and a Navigator
// layer that loads as JSON with the layer format's keys.
func TestCoverageOfThePack(t *testing.T) {
	layer := filepath.Join(t.TempDir(), "layer.json")
	code, out, errOut := patrol(t, "coverage", "--config", "../../config.toml", "--navigator", layer)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"Initial Access", "T1562.008  Disable or Modify Cloud Logs", "cloudtrail-logging-stopped",
		"Reconnaissance", "(none)", "22 detection(s) cover"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "without attack tags") || strings.Contains(out, "not in ATT&CK") {
		t.Errorf("the pack has untagged or unknown techniques:\n%s", out)
	}
	if !strings.Contains(errOut, "wrote ATT&CK Navigator layer "+layer) {
		t.Errorf("stderr: %s", errOut)
	}

	b, err := os.ReadFile(layer)
	if err != nil {
		t.Fatal(err)
	}
	var l struct {
		Name     string `json:"name"`
		Domain   string `json:"domain"`
		Versions struct {
			Attack, Navigator, Layer string
		} `json:"versions"`
		Techniques []struct {
			TechniqueID string `json:"techniqueID"`
			Score       *int   `json:"score"`
			Comment     string `json:"comment"`
		} `json:"techniques"`
		Gradient struct {
			Colors             []string
			MinValue, MaxValue int
		} `json:"gradient"`
	}
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatalf("layer is not JSON: %v", err)
	}
	if l.Name == "" || l.Domain != "enterprise-attack" || l.Versions.Layer != "4.5" || l.Versions.Attack != "18" || l.Versions.Navigator == "" {
		t.Errorf("layer header: %+v", l)
	}
	scores := map[string]int{}
	for _, tc := range l.Techniques {
		if tc.Score != nil {
			scores[tc.TechniqueID] = *tc.Score
		}
	}
	if scores["T1562.008"] != 4 || scores["T1078.004"] != 4 || scores["T1110"] != 1 {
		t.Errorf("scores: %v", scores)
	}
	if l.Gradient.MaxValue != 4 || len(l.Gradient.Colors) < 2 {
		t.Errorf("gradient: %+v", l.Gradient)
	}

	code, js, _ := patrol(t, "coverage", "--config", "../../config.toml", "--json")
	var r struct {
		Tactics []struct {
			ShortName  string `json:"shortname"`
			Techniques []struct {
				ID         string
				Detections []struct{ ID, Stage string }
			}
		}
		Untagged []string
	}
	if err := json.Unmarshal([]byte(js), &r); code != exitOK || err != nil || len(r.Tactics) != 14 || len(r.Untagged) != 0 {
		t.Fatalf("--json: exit %d, %v\n%s", code, err, js)
	}
	if r.Tactics[2].ShortName != "initial-access" || r.Tactics[2].Techniques[0].Detections[0].Stage != "live" {
		t.Errorf("--json initial access: %+v", r.Tactics[2])
	}
}

// TestCoverageRefusesInvalidDetections: coverage of a broken pack would be
// a lie; it prints the problems and exits 2.
func TestCoverageRefusesInvalidDetections(t *testing.T) {
	code, _, errOut := patrol(t, "coverage", "--config", "testdata/bad_dets.toml")
	if code != exitInvalid || errOut == "" {
		t.Errorf("exit %d: %s", code, errOut)
	}
}
