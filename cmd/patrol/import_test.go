package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patrolsec/patrol/poller/splunk/splunktest"
)

const sigmaRules = "../../detections/sigma/testdata/rules"

// importConfig writes a local-mode config whose detections folder is dets
// and whose sample events are the converter's test events.
func importConfig(t *testing.T) (conf, dets string) {
	t.Helper()
	dir := t.TempDir()
	dets = filepath.Join(dir, "dets")
	events, err := filepath.Abs("../../detections/sigma/testdata/events.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	conf = filepath.Join(dir, "config.toml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`
[detections]
dir = "dets"
[search]
backend = "local"
[search.local]
paths = [%q]
first_run = "all"
[search.macros]
cloudtrail = "sourcetype=aws:cloudtrail"
`, events)), 0o644)
	return conf, dets
}

// TestImportSigma converts rules into the config's detections folder,
// validates them, and runs them with the local engine: each imported
// detection, in the shadow stage, records alerts for the events its rule
// selects.
func TestImportSigma(t *testing.T) {
	conf, dets := importConfig(t)
	code, out, errOut := patrol(t, "import", "sigma", "--config", conf, sigmaRules)
	if code != exitOK {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "converted "+sigmaRules+"/patrol_objects_and_mixed.yml -> ") ||
		!strings.HasSuffix(lines[0], filepath.Join("dets", "sigma_patrol_objects_and_mixed.toml")) {
		t.Errorf("output:\n%s", out)
	}
	if !strings.Contains(errOut, "3 converted, 0 skipped") {
		t.Errorf("summary: %s", errOut)
	}
	if code, out, _ := patrol(t, "validate", "--config", conf); code != exitOK {
		t.Fatalf("validate: exit %d\n%s", code, out)
	}
	if code, out, errOut := patrol(t, "once", "--config", conf); code != exitOK {
		t.Fatalf("once: exit %d\n%s%s", code, out, errOut)
	}
	// Imported detections start in the shadow stage: they record what they
	// would open, and open nothing.
	if _, list, _ := patrol(t, "tickets", "--config", conf, "--json"); strings.TrimSpace(list) != "" {
		t.Errorf("imported detections opened tickets:\n%s", list)
	}
	_, list, _ := patrol(t, "shadow", "--config", conf, "--json")
	per := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(list), "\n") {
		var tk struct{ Detection string }
		if err := json.Unmarshal([]byte(l), &tk); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		per[tk.Detection]++
	}
	for _, id := range []string{"sigma-patrol-objects-and-mixed", "sigma-patrol-string-modifiers", "sigma-patrol-type-modifiers"} {
		if per[id] == 0 {
			t.Errorf("%s recorded no alert: %v", id, per)
		}
	}

	// a second import keeps the files; --force rewrites them
	code, out, _ = patrol(t, "import", "sigma", "--config", conf, sigmaRules+"/patrol_type_modifiers.yml")
	if code != exitOK || !strings.Contains(out, "exists (--force overwrites it)") {
		t.Errorf("second import: exit %d\n%s", code, out)
	}
	code, out, _ = patrol(t, "import", "sigma", "--config", conf, "--force", sigmaRules+"/patrol_type_modifiers.yml")
	if code != exitOK || !strings.HasPrefix(out, "converted ") {
		t.Errorf("forced import: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dets, "sigma_patrol_type_modifiers.toml")); err != nil {
		t.Error(err)
	}
}

// TestImportSigmaExitCodes: 1 when a CloudTrail rule cannot be converted
// (the others are still written), 2 on unreadable input, and rules for
// other log sources are skipped without failing.
func TestImportSigmaExitCodes(t *testing.T) {
	conf, dets := importConfig(t)
	skip := "../../detections/sigma/testdata/skip"
	code, out, _ := patrol(t, "import", "sigma", "--config", conf, sigmaRules+"/patrol_type_modifiers.yml", skip+"/windows.yml")
	if code != exitOK || !strings.Contains(out, "skipped "+skip+"/windows.yml: logsource is not AWS CloudTrail") {
		t.Errorf("other logsource: exit %d\n%s", code, out)
	}
	code, out, _ = patrol(t, "import", "sigma", "--config", conf, sigmaRules+"/patrol_string_modifiers.yml", skip+"/unknown_modifier.yml")
	if code != exitFailed || !strings.Contains(out, `unknown modifier "sounds_like"`) || !strings.Contains(out, "converted "+sigmaRules+"/patrol_string_modifiers.yml") {
		t.Errorf("unsupported rule: exit %d\n%s", code, out)
	}
	code, out, _ = patrol(t, "import", "sigma", "--config", conf, skip+"/broken.yml", skip+"/nope.yml")
	if code != exitInvalid || strings.Count(out, "\n") != 2 || !strings.Contains(out, "not valid YAML") || !strings.Contains(out, "cannot read") {
		t.Errorf("unreadable input: exit %d\n%s", code, out)
	}
	if code, _, errOut := patrol(t, "import", "--config", conf, sigmaRules); code != exitInvalid || !strings.Contains(errOut, "patrol import sigma") {
		t.Errorf("no format: exit %d %s", code, errOut)
	}
	if code, _, errOut := patrol(t, "import", "sigma", "--config", conf); code != exitInvalid || !strings.Contains(errOut, "give the Sigma rule files") {
		t.Errorf("no paths: exit %d %s", code, errOut)
	}
	if code, _, errOut := patrol(t, "import", "sigma", "--help"); code != exitOK || !strings.Contains(errOut, "-force") {
		t.Errorf("--help: exit %d %s", code, errOut)
	}
	entries, _ := os.ReadDir(dets)
	if len(entries) != 2 {
		t.Errorf("dets holds %d files, want the 2 converted", len(entries))
	}
}

// TestImportedSearchesParseOnSplunk asks a fake splunkd's search parser
// about every imported detection, as `patrol validate --remote` does.
func TestImportedSearchesParseOnSplunk(t *testing.T) {
	conf, _ := importConfig(t)
	if code, out, errOut := patrol(t, "import", "sigma", "--config", conf, sigmaRules); code != exitOK {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	fake := fakeSplunk(t, splunktest.Options{})
	splunkConf := newTestConfig().set("detections", `dir = "dets"`).
		splunk(fake.URL).set("search.macros", `cloudtrail = "index=aws sourcetype=aws:cloudtrail"`).
		localTickets().
		write(t, filepath.Join(filepath.Dir(conf), "splunk.toml"))
	code, out, errOut := patrol(t, "validate", "--config", splunkConf, "--remote")
	if code != exitOK || !strings.Contains(out, "3 detection(s)") {
		t.Fatalf("validate --remote: exit %d\n%s%s", code, out, errOut)
	}
}
