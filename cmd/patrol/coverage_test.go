package main

import (
	"encoding/json"
	"fmt"
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
	pack, _ := filepath.Glob("../../detections/*.toml")
	for _, want := range []string{"Initial Access", "T1562.008  Disable or Modify Cloud Logs", "cloudtrail-logging-stopped",
		"Reconnaissance", "(none)", fmt.Sprintf("%d detection(s) cover", len(pack))} {
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
	// A technique's score is the number of live detections tagged with it.
	tagged := func(id string) int {
		n := 0
		for _, f := range pack {
			b, _ := os.ReadFile(f)
			if strings.Contains(string(b), "\nstage = \"shadow\"") {
				continue // a shadow detection covers nothing yet
			}
			for _, line := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(line, "attack") && strings.Contains(line, `"`+id+`"`) {
					n++
				}
			}
		}
		return n
	}
	top := 0
	for _, id := range []string{"T1562.008", "T1078.004", "T1110"} {
		if scores[id] != tagged(id) || scores[id] == 0 {
			t.Errorf("score of %s: %d, want %d (%v)", id, scores[id], tagged(id), scores)
		}
	}
	for _, v := range scores {
		top = max(top, v)
	}
	if l.Gradient.MaxValue != top || len(l.Gradient.Colors) < 2 {
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
