package main

// The pieces every end-to-end test starts from: a config.toml built a table
// at a time, the fakes with the credentials such a config names, and a
// folder of detections and CloudTrail logs.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patrolsec/patrol/poller/aws/awstest"
	"github.com/patrolsec/patrol/poller/jira/jiratest"
	"github.com/patrolsec/patrol/poller/slack/slackfake"
	"github.com/patrolsec/patrol/poller/splunk/splunktest"
)

// testConfig is a config.toml for an end-to-end test: each test names the
// backends it points at fakes and adds only the keys that set it apart.
// The text starts with a blank line, then each table in the order first
// named with its keys in the order added, so a test can know a key's line.
type testConfig struct {
	tables []string
	keys   map[string][]string
}

func newTestConfig() *testConfig { return &testConfig{keys: map[string][]string{}} }

// set adds lines (`key = value`) to table, opening the table if it is new.
// A table named "[x]" is the array table [[x]], with one element.
func (c *testConfig) set(table string, lines ...string) *testConfig {
	if _, ok := c.keys[table]; !ok {
		c.tables = append(c.tables, table)
	}
	c.keys[table] = append(c.keys[table], lines...)
	return c
}

func (c *testConfig) String() string {
	var b strings.Builder
	b.WriteString("\n")
	for _, table := range c.tables {
		fmt.Fprintf(&b, "[%s]\n", table)
		for _, l := range c.keys[table] {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// write writes the config to path and returns path.
func (c *testConfig) write(t testing.TB, path string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(c.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// cloudtrail defines the cloudtrail macro the e2e detections search with.
func (c *testConfig) cloudtrail() *testConfig {
	return c.set("search.macros", `cloudtrail = "sourcetype=aws:cloudtrail"`)
}

// localLogs searches every event in the folder's logs/ with the local engine.
func (c *testConfig) localLogs() *testConfig {
	return c.cloudtrail().set("search.local", `paths = ["logs"]`, `first_run = "all"`)
}

// splunk searches on the Splunk at url, with the token fakeSplunk sets.
func (c *testConfig) splunk(url string) *testConfig {
	return c.set("search", `backend = "splunk"`).
		set("search.splunk", fmt.Sprintf("url = %q", url), "allow_insecure_http = true", `token_env = "SPLUNK_TOKEN"`)
}

// localTickets keeps tickets in the state file.
func (c *testConfig) localTickets(approvers ...string) *testConfig {
	c.set("tickets", `backend = "local"`)
	if len(approvers) > 0 {
		c.set("tickets", "approvers = "+tomlList(approvers))
	}
	return c
}

// jira opens tickets in project SEC of the Jira at url, with the
// credentials fakeJira sets.
func (c *testConfig) jira(url string, approvers ...string) *testConfig {
	c.set("tickets", `backend = "jira"`)
	if len(approvers) > 0 {
		c.set("tickets", "approvers = "+tomlList(approvers))
	}
	return c.set("tickets.jira", fmt.Sprintf("url = %q", url), "allow_insecure_http = true",
		`user_env = "JIRA_USER"`, `token_env = "JIRA_TOKEN"`, `project = "SEC"`)
}

// slack notifies #security-alerts on the Slack at url, with the token
// fakeSlack sets.
func (c *testConfig) slack(url string) *testConfig {
	return c.set("notify", `backend = "slack"`).
		set("notify.slack", `token_env = "SLACK_TOKEN"`, fmt.Sprintf("api_url = %q", url), "allow_insecure_http = true",
			`channel = "#security-alerts"`)
}

// aws responds for real (dry run off) on the emulator at endpoint, through
// the responder role of each account, in accounts where any are named.
func (c *testConfig) aws(endpoint string, accounts ...string) *testConfig {
	c.set("aws", fmt.Sprintf("endpoint_url = %q", endpoint), "allow_insecure_http = true",
		`role_arn = "arn:aws:iam::{account}:role/patrol-responder"`)
	if len(accounts) > 0 {
		c.set("aws", "accounts = "+tomlList(accounts))
	}
	return c.set("aws", "dry_run = false")
}

// orgCIDRs makes 203.0.113.0/24 the organisation's own addresses.
func (c *testConfig) orgCIDRs() *testConfig {
	return c.set("enrich", `org_cidrs = ["203.0.113.0/24"]`)
}

// tomlList is strings as a TOML array of basic strings.
func tomlList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// fakeJira starts a Jira fake and sets the credentials testConfig.jira names.
func fakeJira(t *testing.T, opts jiratest.Options) *jiratest.Server {
	t.Helper()
	t.Setenv("JIRA_USER", "bot@example.com")
	t.Setenv("JIRA_TOKEN", "token")
	return jiratest.New(t, opts)
}

// fakeSlack starts a Slack fake and sets the token testConfig.slack names.
func fakeSlack(t *testing.T, opts slackfake.Options) *slackfake.Server {
	t.Helper()
	t.Setenv("SLACK_TOKEN", "xoxb-test")
	return slackfake.New(t, opts)
}

// fakeSplunk starts a Splunk fake taking "splunk-token", the token
// testConfig.splunk names.
func fakeSplunk(t *testing.T, opts splunktest.Options) *splunktest.Server {
	t.Helper()
	opts.Token = "splunk-token"
	t.Setenv("SPLUNK_TOKEN", opts.Token)
	return splunktest.New(t, opts)
}

// awsEmulator returns the emulator's endpoint and sets the keys patrol
// signs its requests to it with.
func awsEmulator(t *testing.T) string {
	t.Helper()
	endpoint := awstest.URL(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAPATROLTEST000001")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
	return endpoint
}

// detectionsDir makes a temporary folder whose detections/ holds dets
// (file name → source) and returns the folder.
func detectionsDir(t *testing.T, dets map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "detections"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, src := range dets {
		if err := os.WriteFile(filepath.Join(dir, "detections", name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// writeRecords writes recs as a CloudTrail log file, name, in dir's logs/.
func writeRecords(t *testing.T, dir, name string, recs ...map[string]any) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"Records": recs})
	if err := os.WriteFile(filepath.Join(dir, "logs", name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
