package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestFlagsAfterArguments: flags may come anywhere on the line, in GNU
// (--json) or Go (-json) style, for every command that takes arguments.
func TestFlagsAfterArguments(t *testing.T) {
	cfg := repoConfigCopy(t)
	if code, out, errOut := patrol(t, "once", "--detection", "cloudtrail-logging-stopped", "--config", cfg); code != exitOK || !strings.Contains(out, "cloudtrail-logging-stopped") {
		t.Fatalf("once: %d\n%s%s", code, out, errOut)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"tickets", "LOCAL-1", "--json", "--config", cfg}, `"key":"LOCAL-1"`},
		{[]string{"tickets", "LOCAL-1", "-json", "-config", cfg}, `"key":"LOCAL-1"`},
		{[]string{"tickets", "LOCAL-1", "--config=" + cfg, "--json"}, `"key":"LOCAL-1"`},
		{[]string{"search", "eventName=StopLogging | table eventName", "--from", "2026-10-01", "--config", cfg}, `"eventName":"StopLogging"`},
		{[]string{"search", "eventName=StopLogging | table eventName", "--config", cfg, "--from", "-36500d"}, `"eventName":"StopLogging"`},
		{[]string{"test", "cloudtrail-logging-stopped", "--config", cfg}, "PASS"},
		{[]string{"status", "--config", cfg, "--json"}, `"id": "cloudtrail-logging-stopped"`},
		{[]string{"validate", "--config", cfg}, "ok:"},
		{[]string{"approve", "LOCAL-1", "--as", "bob", "--config", cfg}, "not in tickets.approvers"},
	} {
		code, out, errOut := patrol(t, tc.args...)
		if code != exitOK || !strings.Contains(out, tc.want) {
			t.Errorf("patrol %s: exit %d, want %q in\n%s%s", strings.Join(tc.args, " "), code, tc.want, out, errOut)
		}
	}
	// undo parses its flags after the id too: the refusal is the action's.
	if code, _, errOut := patrol(t, "undo", "#1", "--as", "alice", "--config", cfg); code != exitFailed || !strings.Contains(errOut, "only a succeeded action") {
		t.Errorf("undo '#1' --as alice: exit %d %s", code, errOut)
	}
}

func TestVersionAndHelp(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-v"}} {
		code, out, _ := patrol(t, args...)
		if code != exitOK || !regexp.MustCompile(`^patrol \S+ \(.*go1\.\d+.*\)\n$`).MatchString(out) {
			t.Errorf("%v: exit %d %q", args, code, out)
		}
	}
	if code, _, errOut := patrol(t, "help", "once"); code != exitOK || !strings.Contains(errOut, "--detection") {
		t.Errorf("help once: exit %d %q", code, errOut)
	}
	if code, _, errOut := patrol(t, "stauts"); code != exitInvalid || !strings.Contains(errOut, "status") {
		t.Errorf("a misspelt command: exit %d %q, want a suggestion", code, errOut)
	}
	if code, out, _ := patrol(t, "completion", "bash"); code != exitOK || !strings.Contains(out, "__start_patrol") {
		t.Errorf("completion bash: exit %d", code)
	}
	// Completion knows each command's own flags.
	if code, out, _ := patrol(t, "__complete", "once", "--de"); code != exitOK || !strings.Contains(out, "--detection") {
		t.Errorf("completing once --de: %q", out)
	}
}

func TestBadInputNamed(t *testing.T) {
	cfg := repoConfigCopy(t)
	patrol(t, "once", "--detection", "cloudtrail-logging-stopped", "--config", cfg)
	t.Setenv("PATROL_LOG_LEVEL", "bogus")
	if code, _, errOut := patrol(t, "status", "--config", cfg); code != exitInvalid || !strings.Contains(errOut, "PATROL_LOG_LEVEL") {
		t.Errorf("PATROL_LOG_LEVEL=bogus: exit %d %q", code, errOut)
	}
	t.Setenv("PATROL_LOG_LEVEL", "warn")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"search", "eventName=StopLogging", "--from", "2026-11-02", "--to", "2026-11-01"}, "is not before --to"},
		{[]string{"search", "eventName=StopLogging", "--from", "yesterday"}, "is not a time"},
		{[]string{"approve", "LOCAL-1"}, "--as USER"},
		{[]string{"undo", "#x"}, "'#2'"},
		{[]string{"status", "extra"}, `unexpected argument "extra"`},
		{[]string{"tickets", "--jsn"}, "unknown flag: --jsn"},
	} {
		code, _, errOut := patrol(t, append(tc.args, "--config", cfg)...)
		if code != exitInvalid || !strings.Contains(errOut, tc.want) {
			t.Errorf("patrol %s: exit %d, want 2 and %q in %q", strings.Join(tc.args, " "), code, tc.want, errOut)
		}
	}
}

// TestJSONKeyStyle: every --json output uses snake_case keys, and plans
// are nested objects, not JSON in a string.
func TestJSONKeyStyle(t *testing.T) {
	cfg := repoConfigCopy(t)
	patrol(t, "once", "--config", cfg)
	_, statusOut, _ := patrol(t, "status", "--json", "--config", cfg)
	_, ticketsOut, _ := patrol(t, "tickets", "--json", "--config", cfg)
	_, oneOut, _ := patrol(t, "tickets", "LOCAL-2", "--json", "--config", cfg)
	snake := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	plans := 0
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if !snake.MatchString(k) {
					t.Errorf("%s: key %q is not snake_case", path, k)
				}
				if k == "plan" {
					if _, ok := e.(map[string]any); !ok {
						t.Errorf("%s.plan is %T, want an object", path, e)
					}
					plans++
				}
				walk(path+"."+k, e)
			}
		case []any:
			for _, e := range x {
				walk(path+"[]", e)
			}
		}
	}
	for name, text := range map[string]string{"status": statusOut, "tickets": ticketsOut, "tickets KEY": oneOut} {
		for _, doc := range splitJSON(t, text) {
			walk(name, doc)
		}
	}
	if plans == 0 {
		t.Error("no action plan in any output: the trial should have planned remediations")
	}
}

func splitJSON(t *testing.T, text string) []any {
	t.Helper()
	var out []any
	dec := json.NewDecoder(strings.NewReader(text))
	for dec.More() {
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%v in %q", err, text)
		}
		out = append(out, v)
	}
	return out
}

// TestDocumentedExitCodes runs every exit path the README's command table
// documents, and checks that the table documents exactly these.
func TestDocumentedExitCodes(t *testing.T) {
	cfg := repoConfigCopy(t)
	dir := filepath.Dir(cfg)
	missing := filepath.Join(t.TempDir(), "none.toml")
	failing := writeFailingTest(t, dir)
	os.WriteFile(filepath.Join(dir, "logs.json"), []byte("{\"eventName\": }\n"), 0o644)
	badLogs := filepath.Join(dir, "badlogs.toml")
	os.WriteFile(badLogs, []byte("[state]\npath = \"bad.db\"\n[detections]\ndir = \"failing\"\n[search.local]\npaths = [\"logs.json\"]\n"), 0o644)
	// Logs the failing detection's search reads, and cannot.
	os.WriteFile(filepath.Join(dir, "logs2.json"), []byte("{\"eventName\": \"NoSuchEvent\", }\n"), 0o644)
	badSearch := filepath.Join(dir, "badsearch.toml")
	os.WriteFile(badSearch, []byte("[state]\npath = \"bs.db\"\n[detections]\ndir = \"failing\"\n[search.local]\npaths = [\"logs2.json\"]\n"), 0o644)
	// A state file that is not one: reading or writing it fails.
	garbled := repoConfigCopy(t)
	os.WriteFile(filepath.Join(filepath.Dir(garbled), "patrol.db"), []byte("not a database, just text long enough to be read as one"), 0o600)

	type run struct {
		args []string
		want int
	}
	paths := map[string][]run{
		"once": {
			{[]string{"once", "--config", cfg}, exitOK},
			{[]string{"once", "--config", cfg, "--detection", "no-such"}, exitInvalid},
		},
		"validate": {
			{[]string{"validate", "--config", cfg}, exitOK},
			{[]string{"validate", "--config", "testdata/bad_dets.toml"}, exitInvalid},
		},
		"test": {
			{[]string{"test", "--config", cfg, "cloudtrail-logging-stopped"}, exitOK},
			{[]string{"test", "--config", failing}, exitFailed},
			{[]string{"test", "--config", cfg, "no-such"}, exitInvalid},
		},
		"status": {
			{[]string{"status", "--config", cfg}, exitOK},
			{[]string{"status", "--config", badLogs}, exitFailed}, // no state file yet
			{[]string{"status", "--config", missing}, exitInvalid},
		},
		"search": {
			{[]string{"search", "--config", cfg, "eventName=StopLogging"}, exitOK},
			{[]string{"search", "--config", badLogs, "eventName=x"}, exitFailed},
			{[]string{"search", "--config", cfg, "| tstats count"}, exitInvalid},
		},
		"tickets": {
			{[]string{"tickets", "--config", cfg}, exitOK},
			{[]string{"tickets", "--config", cfg, "LOCAL-2"}, exitOK},
			{[]string{"tickets", "--config", cfg, "LOCAL-999"}, exitFailed},
			{[]string{"tickets", "--config", cfg, "A", "B"}, exitInvalid},
		},
		"approve": {
			{[]string{"approve", "--config", cfg, "--as", "alice", "LOCAL-1"}, exitOK},
			{[]string{"approve", "--config", cfg, "--as", "alice", "LOCAL-999"}, exitFailed},
			{[]string{"approve", "--config", cfg, "LOCAL-1"}, exitInvalid},
		},
		"undo": {
			{[]string{"undo", "--config", cfg, "#1"}, exitFailed},
			{[]string{"undo", "--config", cfg, "one"}, exitInvalid},
		},
		"run": {
			{[]string{"run", "--config", missing}, exitInvalid},
		},
		"silence": {
			{[]string{"silence", "add", "--config", cfg, "--detection", "ec2-*", "--for", "1h", "--reason", "maintenance", "--owner", "bob"}, exitOK},
			{[]string{"silence", "add", "--config", cfg, "--detection", "ec2-*"}, exitInvalid},
			{[]string{"silence", "list", "--config", cfg}, exitOK},
			{[]string{"silence", "list", "--config", garbled}, exitFailed},
		},
		"shadow": {
			{[]string{"shadow", "--config", cfg}, exitOK},
			{[]string{"shadow", "--config", cfg, "no-such"}, exitInvalid},
			{[]string{"shadow", "--config", garbled, "cloudtrail-logging-started"}, exitFailed},
		},
		"backtest": {
			{[]string{"backtest", "--config", cfg, "--detection", "cloudtrail-logging-stopped", "--from", "all", "--to", "now"}, exitOK},
			{[]string{"backtest", "--config", badSearch, "--from", "all", "--to", "now"}, exitFailed},
			{[]string{"backtest", "--config", cfg, "--to", "now"}, exitInvalid},
		},
		"resume": {
			{[]string{"resume", "--config", cfg}, exitOK},
			{[]string{"resume", "--config", garbled}, exitFailed},
			{[]string{"resume", "--config", cfg, "now"}, exitInvalid},
		},
		"import": {
			{[]string{"import", "sigma", "--config", cfg, "--out", filepath.Join(dir, "imported"), "../../detections/sigma/testdata/rules/patrol_string_modifiers.yml"}, exitOK},
			{[]string{"import", "sigma", "--config", cfg, "--out", filepath.Join(dir, "imported"), "../../detections/sigma/testdata/skip/unknown_modifier.yml"}, exitFailed},
			{[]string{"import", "sigma", "--config", cfg, "--out", filepath.Join(dir, "imported"), "../../detections/sigma/testdata/skip/broken.yml"}, exitInvalid},
		},
		"report": {
			{[]string{"report", "--config", cfg, "--out", filepath.Join(dir, "report.html")}, exitOK},
			{[]string{"report", "--config", badLogs}, exitFailed}, // no state file yet
			{[]string{"report", "--config", cfg, "--format", "xml"}, exitInvalid},
		},
		"coverage": {
			{[]string{"coverage", "--config", cfg}, exitOK},
			{[]string{"coverage", "--config", "testdata/bad_dets.toml"}, exitInvalid},
		},
	}
	// Paths shown by other tests: run's clean stop and its lock refusal
	// (TestRunNotifiesSystemdReloadsAndStops, TestSecondProcessRefusedByLock),
	// unreachable backends (TestUnreachableBackendsFailFast), once's failed
	// job (TestFailedRemediationShownInRespondLine), a succeeded undo
	// (TestEndToEndAWS).
	shownElsewhere := map[string][]int{"run": {exitOK, exitFailed}, "once": {exitFailed}, "validate": {exitFailed}, "undo": {exitOK}}
	documented := readmeExitCodes(t)
	for _, c := range commands {
		got := map[int]bool{}
		for _, r := range paths[c.name] {
			code, out, errOut := patrol(t, r.args...)
			if code != r.want {
				t.Errorf("patrol %s: exit %d, want %d\n%s%s", strings.Join(r.args, " "), code, r.want, out, errOut)
			}
			got[r.want] = true
		}
		for _, code := range shownElsewhere[c.name] {
			got[code] = true
		}
		var codes []int
		for code := range got {
			codes = append(codes, code)
		}
		sort.Ints(codes)
		if want := documented[c.name]; !equalInts(codes, want) {
			t.Errorf("%s: README documents exit codes %v, tests show %v", c.name, want, codes)
		}
	}
}

// readmeExitCodes reads the exit codes column of the README's command table.
func readmeExitCodes(t *testing.T) map[string][]int {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]map[int]bool{} // a command may have several rows (silence add, silence list)
	row := regexp.MustCompile("(?m)^\\| `patrol ([a-z]+)[^|]*\\|.*\\| ([^|]+) \\|$")
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		if seen[m[1]] == nil {
			seen[m[1]] = map[int]bool{}
		}
		for _, n := range regexp.MustCompile(`\b([0-2])\b`).FindAllString(m[2], -1) {
			seen[m[1]][int(n[0]-'0')] = true
		}
	}
	out := map[string][]int{}
	for name, codes := range seen {
		for code := range codes {
			out[name] = append(out[name], code)
		}
		sort.Ints(out[name])
	}
	return out
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// writeFailingTest writes a config whose one detection's test case expects
// an alert its events do not make.
func writeFailingTest(t *testing.T, dir string) string {
	t.Helper()
	dets := filepath.Join(dir, "failing")
	os.MkdirAll(dets, 0o755)
	events, err := os.ReadFile("../../detections/testdata/good/events/stop_logging.json")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dets, "stop_logging.json"), events, 0o644)
	os.WriteFile(filepath.Join(dets, "a.toml"), []byte(`id = "never-fires"
title = "t"
severity = "low"
schedule = "@every 1h"
search = "eventName=NoSuchEvent | table eventName"
group_by = ["eventName"]
[ticket]
summary = "{eventName}"
[[test]]
name = "expects one"
events = "stop_logging.json"
expect_alerts = 1
`), 0o644)
	path := filepath.Join(dir, "failing.toml")
	os.WriteFile(path, []byte("[state]\npath = \"f.db\"\n[detections]\ndir = \"failing\"\n[search.local]\npaths = [\"failing\"]\n"), 0o644)
	return path
}
