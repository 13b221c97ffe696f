package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patrolsec/patrol/poller/golden"
	"github.com/patrolsec/patrol/state"
)

// patrol runs the CLI in-process and returns its exit code and output.
func patrol(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := dispatch(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestValidateRepoConfig(t *testing.T) {
	code, out, errOut := patrol(t, "validate", "--config", "../../config.toml")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

func TestValidateBrokenInputs(t *testing.T) {
	for _, name := range []string{"unknown_key", "syntax", "many", "bad_dets"} {
		t.Run(name, func(t *testing.T) {
			code, out, _ := patrol(t, "validate", "--config", "testdata/"+name+".toml")
			if code != exitInvalid {
				t.Fatalf("exit %d, want %d\n%s", code, exitInvalid, out)
			}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if !strings.HasPrefix(line, "testdata/") {
					t.Errorf("line does not start with the file: %q", line)
				}
			}
			golden.Check(t, filepath.Join("testdata", "validate_"+name+".golden"), []byte(out))
		})
	}
}

func TestHelpOnEveryCommand(t *testing.T) {
	for _, c := range commands {
		code, _, errOut := patrol(t, c.name, "--help")
		if code != exitOK || !strings.Contains(errOut, "Usage: patrol "+c.name) {
			t.Errorf("%s --help: exit %d, %q", c.name, code, errOut)
		}
	}
	if code, _, _ := patrol(t, "frobnicate"); code != exitInvalid {
		t.Errorf("unknown command: exit %d", code)
	}
}

// writeConfig writes a local-mode config over dir and returns its path. Its
// detections are a fixture that needs only the cloudtrail macro: the shipped
// pack needs the macros and lookups of the repository's config.toml.
func writeConfig(t *testing.T, dir string) string {
	t.Helper()
	abs, _ := filepath.Abs("../../detections")
	cfg := `[state]
path = "patrol.db"
[detections]
dir = "` + abs + `/testdata/good"
[search.macros]
cloudtrail = "sourcetype=aws:cloudtrail"
[search.local]
paths = ["` + abs + `/samples"]
first_run = "all"
[tickets]
backend = "local"
approvers = ["alice"]
`
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSecondProcessRefusedByLock(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir)
	release, err := state.Lock(filepath.Join(dir, "patrol.db")) // a running patrol holds it
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	for _, cmd := range []string{"once", "run"} {
		code, _, errOut := patrol(t, cmd, "--config", cfg)
		if code != exitFailed || !strings.Contains(errOut, "in use by another patrol process") {
			t.Errorf("%s: exit %d, stderr %q", cmd, code, errOut)
		}
	}
}

func TestConfigStringHasNoSecrets(t *testing.T) {
	t.Setenv("SPLUNK_TOKEN", "s3cr3t-token-value")
	t.Setenv("JIRA_TOKEN", "jira-s3cr3t")
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.toml")
	os.WriteFile(cfgPath, []byte(`[search]
backend = "splunk"
[search.splunk]
url = "https://splunk.example.com:8089"
token_env = "SPLUNK_TOKEN"
[tickets]
backend = "jira"
[tickets.jira]
url = "https://example.atlassian.net"
user_env = "JIRA_USER"
token_env = "JIRA_TOKEN"
project = "SEC"
`), 0o644)
	cfg, code := loadConfig(cfgPath, &bytes.Buffer{})
	if cfg == nil {
		t.Fatalf("load: exit %d", code)
	}
	s := cfg.String()
	if strings.Contains(s, "s3cr3t") || !strings.Contains(s, "SPLUNK_TOKEN") {
		t.Errorf("config string:\n%s", s)
	}
}

// TestLocalTrial is `make run` twice: the shipped detections over the shipped
// samples make tickets once, and never again.
func TestLocalTrial(t *testing.T) {
	cfg := repoConfigCopy(t)
	code, out, errOut := patrol(t, "once", "--config", cfg)
	if code != exitOK {
		t.Fatalf("once: exit %d\n%s\n%s", code, out, errOut)
	}
	tickets := ticketsJSON(t, cfg)
	if len(tickets) == 0 {
		t.Fatal("the trial made no tickets")
	}
	for _, v := range tickets {
		if v.Key == "" || v.Detection == "" || v.Summary == "" || v.Status == "" || len(v.Labels) == 0 {
			t.Errorf("ticket lacks contract fields: %+v", v)
		}
	}
	code, out, _ = patrol(t, "once", "--config", cfg)
	if code != exitOK || strings.Contains(out, "alerts=1") {
		t.Errorf("second once: exit %d\n%s", code, out)
	}
	if again := ticketsJSON(t, cfg); len(again) != len(tickets) {
		t.Errorf("second once made tickets: %d then %d", len(tickets), len(again))
	}
	code, out, _ = patrol(t, "status", "--config", cfg, "--json")
	var rep statusReport
	if code != exitOK || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Detections) == 0 || rep.Detections[0].LastSuccess.IsZero() {
		t.Errorf("status --json: exit %d\n%s", code, out)
	}
	if code, out, _ := patrol(t, "status", "--config", cfg); code != exitOK || !strings.Contains(out, "DETECTION") {
		t.Errorf("status: %s", out)
	}
	code, out, errOut = patrol(t, "search", "--config", cfg, "`cloudtrail` eventName=StopLogging | table eventName recipientAccountId")
	if code != exitOK || !strings.Contains(out, `"eventName":"StopLogging"`) {
		t.Errorf("search: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := patrol(t, "search", "--config", cfg, "| tstats count"); code != exitInvalid || !strings.Contains(errOut, "tstats") {
		t.Errorf("unsupported search: exit %d %s", code, errOut)
	}
}

// repoConfigCopy is the shipped config.toml in a temporary folder, with the
// repo's detections beside it: the trial as shipped, with its own state.
func repoConfigCopy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src, err := os.ReadFile("../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs("../../detections")
	if err := os.Symlink(abs, filepath.Join(dir, "detections")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.toml")
	os.WriteFile(path, src, 0o644)
	return path
}

// TestTestEventsOutsideTheFolder: `patrol test` reads no file a detection
// names outside its folder, and shows none of its content.
func TestTestEventsOutsideTheFolder(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(t.TempDir(), "secret.txt")
	os.WriteFile(secret, []byte("root:TOP-SECRET-HASH:0:0\n"), 0o600)
	os.MkdirAll(filepath.Join(dir, "detections"), 0o755)
	os.WriteFile(filepath.Join(dir, "detections", "x.toml"), []byte(`id = "x"
title = "x"
severity = "low"
schedule = "@every 5m"
search = "eventName=x"
group_by = ["eventName"]
[ticket]
summary = "x"
[[test]]
name = "reads a secret"
events = "`+secret+`"
expect_alerts = 0
`), 0o644)
	conf := filepath.Join(dir, "config.toml")
	os.WriteFile(conf, []byte("[search.local]\npaths = [\"detections\"]\n"), 0o644)
	code, out, errOut := patrol(t, "test", "--config", conf)
	if code != exitInvalid || !strings.Contains(errOut, "x.toml:11: test[1].events") {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, "TOP-SECRET") {
		t.Errorf("patrol test showed the file's content:\n%s%s", out, errOut)
	}
}
