package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller/jira/jiratest"
	"github.com/patrolsec/patrol/poller/slack/slackfake"
	"github.com/patrolsec/patrol/poller/splunk/splunktest"
)

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestUnreachableBackendsFailFast: with Splunk and Jira on closed ports,
// validate --remote and once finish within seconds, with one line per
// backend naming its URL and the cause, and exit 1.
func TestUnreachableBackendsFailFast(t *testing.T) {
	t.Setenv("SPLUNK_TOKEN", "t")
	t.Setenv("JIRA_USER", "bot@example.com")
	t.Setenv("JIRA_TOKEN", "t")
	splunkURL, jiraURL := "https://"+closedPort(t), "http://"+closedPort(t)
	dir := detectionsDir(t, map[string]string{"a_stop.toml": e2eStop})
	conf := newTestConfig().splunk(splunkURL).cloudtrail().jira(jiraURL).write(t, filepath.Join(dir, "config.toml"))

	for _, cmd := range []string{"validate --remote", "once"} {
		start := time.Now()
		code, out, errOut := patrol(t, append(strings.Fields(cmd), "--config", conf)...)
		took := time.Since(start)
		if code != exitFailed {
			t.Errorf("%s: exit %d, want 1\n%s%s", cmd, code, out, errOut)
		}
		if took > 10*time.Second {
			t.Errorf("%s took %s", cmd, took)
		}
		for _, want := range []string{splunkURL, jiraURL, "connection refused"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", cmd, want, errOut)
			}
		}
		if n := strings.Count(errOut, "\n"); n > 4 || len(errOut) > 600 {
			t.Errorf("%s: %d lines, %d bytes:\n%s", cmd, n, len(errOut), errOut)
		}
		if _, err := os.Stat(filepath.Join(dir, "patrol.db")); cmd == "once" && err == nil {
			t.Errorf("once made a state file although nothing could run")
		}
	}
}

// TestValidateRemote: against fakes of Splunk, Jira and Slack, validate
// --remote names who patrol is on each, has Splunk parse every search and
// names the lookups Splunk lacks (exit 2); with them, it passes.
func TestValidateRemote(t *testing.T) {
	for _, tc := range []struct {
		lookups []string
		want    int
	}{{nil, exitInvalid}, {[]string{"threat_ips"}, exitOK}} {
		fake := fakeSplunk(t, splunktest.Options{Lookups: tc.lookups})
		jira := fakeJira(t, jiratest.Options{})
		slack := fakeSlack(t, slackfake.Options{})
		dir := detectionsDir(t, map[string]string{"a.toml": `id = "threat"
title = "t"
severity = "low"
schedule = "@every 5m"
search = "sourcetype=aws:cloudwatchlogs:vpcflow | lookup threat_ips ip AS dstaddr OUTPUT threat_category | where isnotnull(threat_category) | table dstaddr threat_category"
group_by = ["dstaddr"]
[ticket]
summary = "{dstaddr} {threat_category}"
`})
		conf := newTestConfig().splunk(fake.URL).set("search.splunk", `app = "search"`).
			jira(jira.URL).slack(slack.URL).
			write(t, filepath.Join(dir, "config.toml"))
		code, out, errOut := patrol(t, "validate", "--remote", "--config", conf)
		if code != tc.want {
			t.Errorf("lookups %v: exit %d, want %d\n%s%s", tc.lookups, code, tc.want, out, errOut)
		}
		for _, want := range []string{"remote: splunk", "Splunk 9.3.2", "remote: jira", "remote: slack"} {
			if !strings.Contains(out, want) {
				t.Errorf("lookups %v: output lacks %q:\n%s", tc.lookups, want, out)
			}
		}
		if missing := strings.Contains(out, `lookup "threat_ips" does not exist in Splunk`); missing != (tc.want == exitInvalid) {
			t.Errorf("lookups %v: output:\n%s", tc.lookups, out)
		}
	}
}

// TestValidateRemoteOrgAccounts: on Splunk the org_accounts lookup is
// Splunk's own table, which patrol cannot add aws.accounts to as the local
// engine does; validate --remote reads it and warns, with the config's
// line, about each aws.accounts id it lacks (and only those), without
// failing.
func TestValidateRemoteOrgAccounts(t *testing.T) {
	fake := fakeSplunk(t, splunktest.Options{
		LookupRows: map[string][]map[string]string{"org_accounts": {{"account_id": "111122223333", "name": "payments-prod"}}}})
	dir := detectionsDir(t, map[string]string{"a.toml": `id = "vpce"
title = "t"
severity = "low"
schedule = "@every 5m"
search = "sourcetype=aws:cloudtrail | lookup org_accounts account_id AS vpcEndpointAccountId OUTPUT account_id AS own | where isnull(own) | table vpcEndpointAccountId"
group_by = ["vpcEndpointAccountId"]
[ticket]
summary = "{vpcEndpointAccountId}"
`})
	// The config's line 9 is aws.accounts.
	conf := newTestConfig().splunk(fake.URL).
		set("aws", `accounts = ["111122223333", "555566667777", "999900001111"]`).
		write(t, filepath.Join(dir, "config.toml"))
	code, out, errOut := patrol(t, "validate", "--remote", "--config", conf)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, id := range []string{"555566667777", "999900001111"} {
		want := conf + ":9: aws.accounts: warning: " + id + " is not in Splunk's org_accounts lookup"
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "111122223333 is not") {
		t.Errorf("warned about an account the lookup lists:\n%s", out)
	}
}
