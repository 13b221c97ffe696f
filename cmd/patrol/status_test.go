package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/patrolsec/patrol/poller/slack/slackfake"
)

// TestStatusListsDeadLetters: a notification Slack refuses for good (a
// channel that does not exist) is set aside by `patrol once`, and `patrol
// status` shows it, in its table and under dead_letters in --json.
func TestStatusListsDeadLetters(t *testing.T) {
	fake := slackfake.New(t, slackfake.Options{})
	t.Setenv("SLACK_TOKEN", "xoxb-test")
	conf := tuningDir(t, map[string]string{"a.toml": e2eStop},
		record("StopLogging", "mallory", "AKIAMALLORY000000001", "192.0.2.66", map[string]any{"name": "org-trail"}))
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "[notify]\nbackend = \"slack\"\n[notify.slack]\ntoken_env = \"SLACK_TOKEN\"\napi_url = %q\nallow_insecure_http = true\nchannel = \"#gone\"\n", fake.URL)
	f.Close()

	if code, out, errOut := patrol(t, "once", "--config", conf); code != exitOK {
		t.Fatalf("once: exit %d\n%s%s", code, out, errOut)
	}
	ticket := listTickets(t, conf)[0].Key

	code, out, errOut := patrol(t, "status", "--config", conf)
	if code != exitOK {
		t.Fatalf("status: exit %d\n%s%s", code, out, errOut)
	}
	_, section, ok := strings.Cut(out, "deliveries set aside after a permanent failure")
	if !ok || !strings.Contains(section, ticket) || !strings.Contains(section, "channel_not_found") {
		t.Errorf("status does not list the dead letter of %s:\n%s", ticket, out)
	}

	code, out, errOut = patrol(t, "status", "--config", conf, "--json")
	if code != exitOK {
		t.Fatalf("status --json: exit %d\n%s%s", code, out, errOut)
	}
	var rep struct {
		DeadLetters []struct {
			ID     int64  `json:"id"`
			Ticket string `json:"ticket"`
			Kind   string `json:"kind"`
			Error  string `json:"error"`
			At     string `json:"at"`
		} `json:"dead_letters"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	found := false
	for _, d := range rep.DeadLetters {
		found = found || d.Ticket == ticket && strings.Contains(d.Error, "channel_not_found") && d.ID > 0 && d.Kind != "" && d.At != ""
	}
	if !found {
		t.Errorf("dead_letters holds no entry for %s: %+v", ticket, rep.DeadLetters)
	}
}
