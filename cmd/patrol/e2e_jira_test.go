package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/patrolsec/patrol/poller/jira/jiratest"
	"github.com/patrolsec/patrol/poller/slack/slackfake"
)

// TestEndToEndJiraSlack runs `patrol once` with local search, Jira Cloud and
// Slack (fakes speaking their wire protocols): one issue and one thread per
// alert, and a second run creates and posts nothing.
func TestEndToEndJiraSlack(t *testing.T) {
	jira := fakeJira(t, jiratest.Options{TimeZone: "America/Los_Angeles"})
	slack := fakeSlack(t, slackfake.Options{})

	dir := detectionsDir(t, map[string]string{"a_stop.toml": e2eStop, "b_key.toml": e2eKey})
	hostile := "<!channel> [~accountid:5b10] {noformat} [x|http://evil] @here"
	writeRecords(t, dir, "ct.json",
		record("StopLogging", "mallory", "AKIAEXAMPLE000001", "192.0.2.66", map[string]any{"name": "org-trail"}),
		record("StopLogging", "mallory", "AKIAEXAMPLE000001", "192.0.2.66", map[string]any{"name": "org-trail"}), // same alert
		record("StopLogging", "eve", "AKIAEXAMPLE000002", "192.0.2.99", map[string]any{"name": hostile}),
	)
	conf := newTestConfig().localLogs().
		jira(jira.URL, "5b10ac8d82e05b22cc7d4ef5").
		slack(slack.URL).
		orgCIDRs().
		set("[teams]", `name = "payments"`, `accounts = ["111122223333"]`, `slack_channel = "#payments-sec"`, `jira_component = "Payments"`).
		write(t, filepath.Join(dir, "config.toml"))

	code, out, errOut := patrol(t, "once", "--config", conf)
	if code != exitOK {
		t.Fatalf("once: exit %d\n%s\n%s", code, out, errOut)
	}
	// Alerts: two trails (StopLogging) and two keys (external use) = 4.
	issues := jira.Issues()
	if len(issues) != 4 {
		t.Fatalf("issues = %d, want 4: %+v", len(issues), issues)
	}
	for _, is := range issues {
		fp, det := 0, 0
		for _, l := range is.Labels {
			if strings.HasPrefix(l, "patrol-fp-") {
				fp++
			}
			if strings.HasPrefix(l, "patrol-det-") {
				det++
			}
		}
		if fp != 1 || det != 1 || !contains(is.Labels, "patrol") {
			t.Errorf("%s labels = %v", is.Key, is.Labels)
		}
		if len(is.Components) != 1 || is.Components[0] != "Payments" {
			t.Errorf("%s components = %v", is.Key, is.Components)
		}
		if strings.ContainsAny(is.Summary, "\n\r") || len([]rune(is.Summary)) > 255 {
			t.Errorf("%s summary = %q", is.Key, is.Summary)
		}
	}
	threads := topLevel(slack)
	if len(threads) != 4 {
		t.Fatalf("slack threads = %d, want one per issue", len(threads))
	}
	for _, m := range slack.Messages() {
		if m.Channel != "C0PAYMENTS" {
			t.Errorf("message routed to %s, want the team's channel", m.Channel)
		}
		if strings.Contains(m.Text+string(m.Blocks), "<!channel>") {
			t.Errorf("a live mention reached Slack: %s", m.Text)
		}
	}
	creates, posts := jira.Count("POST", "/rest/api/3/issue"), slack.Count("chat.postMessage")+slack.Count("chat.update")

	code, out, errOut = patrol(t, "once", "--config", conf)
	if code != exitOK {
		t.Fatalf("second once: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := jira.Count("POST", "/rest/api/3/issue"); got != creates || len(jira.Issues()) != 4 {
		t.Errorf("second run created issues: %d creates, %d issues", got-creates, len(jira.Issues()))
	}
	if got := slack.Count("chat.postMessage") + slack.Count("chat.update"); got != posts {
		t.Errorf("second run posted %d Slack messages", got-posts)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func topLevel(s *slackfake.Server) []slackfake.Message {
	var out []slackfake.Message
	for _, m := range s.Messages() {
		if m.ThreadTS == "" {
			out = append(out, m)
		}
	}
	return out
}
