package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// productionFill is what an operator writes on each CHANGE line of
// config.production.toml, keyed by table.key.
var productionFill = map[string]string{
	"search.splunk.url":                    `"https://splunk.corp.test:8089"`,
	"search.macros.cloudtrail":             `"index=cloudtrail sourcetype=aws:cloudtrail"`,
	"search.macros.vpcflow":                `"index=network sourcetype=aws:cloudwatchlogs:vpcflow"`,
	"search.macros.route53_resolver":       `"index=network sourcetype=aws:route53:resolver"`,
	"search.macros.iac_principals":         `"terraform-apply, atlantis-*"`,
	"search.macros.allowed_regions":        `"eu-west-1, eu-central-1"`,
	"search.macros.allowed_instance_types": `"t4g.*, m7g.*"`,
	"tickets.approvers":                    `["712020:2f8e0c1a-4c0f-4b5e-9a43-1d8b5f0e7a21"]`,
	"tickets.jira.url":                     `"https://corp.atlassian.net"`,
	"tickets.jira.project":                 `"SECOPS"`,
	"notify.slack.channel":                 `"#secops-alerts"`,
	"aws.protected_principals":             `["arn:aws:iam::*:user/break-glass", "arn:aws:iam::*:role/terraform-apply"]`,
	"aws.accounts":                         `["111122223333", "444455556666"]`,
	"enrich.org_cidrs":                     `["198.51.100.0/24", "2001:db8:100::/48"]`,
}

// TestProductionExampleWithPack installs the shipped pack and the
// production example under a temporary root (as make install DESTDIR=
// would), with the secrets where systemd hands them over, fills in only
// the CHANGE lines, and validates: no problem and no warning. Unfilled,
// the example still validates, with warnings for what it cannot guess.
func TestProductionExampleWithPack(t *testing.T) {
	root := t.TempDir()
	if err := os.CopyFS(filepath.Join(root, "usr/local/share/patrol/detections"), os.DirFS("../../detections")); err != nil {
		t.Fatal(err)
	}
	creds := filepath.Join(root, "etc/patrol/credentials")
	os.MkdirAll(creds, 0o700)
	for _, name := range []string{"splunk-token", "jira-user", "jira-token", "slack-token"} {
		os.WriteFile(filepath.Join(creds, name), []byte("x-"+name+"\n"), 0o600)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	src, err := os.ReadFile("config.production.toml")
	if err != nil {
		t.Fatal(err)
	}
	installed := string(src)
	for _, dir := range []string{"/usr/local/share/patrol", "/var/lib/patrol", "/var/lib/node_exporter"} {
		installed = strings.ReplaceAll(installed, `"`+dir, `"`+root+dir)
	}

	filled, used := fillChangeLines(t, installed)
	for key := range productionFill {
		if !used[key] {
			t.Errorf("%s is no longer a CHANGE line: update productionFill", key)
		}
	}
	// The README's pilot: the filled example with tickets and notifications
	// kept local, no AWS lookups, no metrics file, and the Splunk token
	// beside the config of a user outside systemd.
	pilot := filled
	for _, edit := range [][2]string{
		{`path = "` + root + `/var/lib/patrol/patrol.db"`, `path = "pilot.db"`},
		{"[tickets]\nbackend = \"jira\"", "[tickets]\nbackend = \"local\""},
		{"[notify]\nbackend = \"slack\"", "[notify]\nbackend = \"log\""},
		{"aws = true", "aws = false"},
		{"[metrics]\ntextfile = \"" + root + "/var/lib/node_exporter/textfile_collector/patrol.prom\"", ""},
	} {
		if !strings.Contains(pilot, edit[0]) {
			t.Fatalf("the pilot edit %q no longer applies to the example", edit[0])
		}
		pilot = strings.Replace(pilot, edit[0], edit[1], 1)
	}
	pilotDir := filepath.Join(root, "home/pilot")
	os.MkdirAll(pilotDir, 0o755)
	os.WriteFile(filepath.Join(pilotDir, "splunk-token"), []byte("x\n"), 0o600)
	pilotPath := filepath.Join(pilotDir, "pilot.toml")
	os.WriteFile(pilotPath, []byte(pilot), 0o644)
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	os.Unsetenv("CREDENTIALS_DIRECTORY")
	if code, out, errOut := patrol(t, "validate", "--config", pilotPath); code != exitOK || strings.Contains(out, "warning:") {
		t.Errorf("pilot: exit %d\n%s%s", code, out, errOut)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", creds)

	for name, text := range map[string]string{"filled": filled, "as shipped": installed} {
		path := filepath.Join(root, "etc/patrol", name+".toml")
		os.WriteFile(path, []byte(text), 0o640)
		code, out, errOut := patrol(t, "validate", "--config", path)
		if code != exitOK || !strings.Contains(out, "ok:") {
			t.Fatalf("%s: exit %d\n%s%s", name, code, out, errOut)
		}
		warned := strings.Contains(out, "warning:")
		if name == "filled" && warned {
			t.Errorf("filled in, the example still warns:\n%s", out)
		}
		if name == "as shipped" && (!strings.Contains(out, "tickets.approvers") || !strings.Contains(out, "enrich.org_cidrs")) {
			t.Errorf("as shipped, the example should warn about the empty approvers and org_cidrs:\n%s", out)
		}
	}
}

// fillChangeLines replaces the value of every line marked CHANGE with the
// operator's value from productionFill; it fails on a CHANGE line it has
// no value for.
func fillChangeLines(t *testing.T, text string) (string, map[string]bool) {
	t.Helper()
	used := map[string]bool{}
	table := ""
	header := regexp.MustCompile(`^\[([a-z_.]+)\]`)
	assign := regexp.MustCompile(`^("?[^ =]+"?)\s*=\s*(.*?)\s+(# CHANGE.*)$`)
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		if m := header.FindStringSubmatch(line); m != nil {
			table = m[1]
			continue
		}
		if strings.HasPrefix(line, "#") || !strings.Contains(line, "# CHANGE") {
			continue
		}
		m := assign.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("line %d: a CHANGE line that is not key = value: %q", i+1, line)
		}
		key := table + "." + strings.Trim(m[1], `"`)
		v, ok := productionFill[key]
		if !ok {
			t.Fatalf("line %d: no value for the CHANGE line %s: add one to productionFill", i+1, key)
		}
		used[key] = true
		lines[i] = m[1] + " = " + v + "  " + m[3]
	}
	return strings.Join(lines, "\n"), used
}

// TestValidateNamesEverySecret: offline validate reads every secret the
// selected backends need and names each it cannot read, all at once, with
// key and line, and never prints a value it could read.
func TestValidateNamesEverySecret(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "detections"), 0o755)
	os.WriteFile(filepath.Join(dir, "detections", "a_stop.toml"), []byte(e2eStop), 0o644)
	os.WriteFile(filepath.Join(dir, "slack-token"), []byte("xoxb-readable-secret\n"), 0o600)
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	os.Unsetenv("CREDENTIALS_DIRECTORY")
	t.Setenv("SPLUNK_TOKEN", "")
	os.Unsetenv("SPLUNK_TOKEN")
	conf := filepath.Join(dir, "config.toml")
	os.WriteFile(conf, []byte(`[search]
backend = "splunk"
[search.splunk]
url = "https://splunk.example.com:8089"
token_env = "SPLUNK_TOKEN"
[search.macros]
cloudtrail = "sourcetype=aws:cloudtrail"
[tickets]
backend = "jira"
[tickets.jira]
url = "https://example.atlassian.net"
user_file = "jira-user"
token_file = "jira-token"
project = "SEC"
[notify]
backend = "slack"
[notify.slack]
token_file = "slack-token"
channel = "#security-alerts"
app_token_file = "slack-app-token"
`), 0o644)
	code, out, _ := patrol(t, "validate", "--config", conf)
	if code != exitInvalid {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, want := range []string{
		"config.toml:5: search.splunk.token_env: environment variable SPLUNK_TOKEN is not set",
		"config.toml:12: tickets.jira.user_file: secret file jira-user is not in",
		"config.toml:13: tickets.jira.token_file: secret file jira-token is not in",
		"config.toml:20: notify.slack.app_token_file: secret file slack-app-token is not in",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "notify.slack.token_file") || strings.Contains(out, "xoxb-readable-secret") {
		t.Errorf("the readable Slack token was reported or printed:\n%s", out)
	}
}
