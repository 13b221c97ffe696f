package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/patrolsec/patrol/poller/aws/awstest"
	"github.com/patrolsec/patrol/poller/jira/jiratest"
	"github.com/patrolsec/patrol/poller/slack/slackfake"
)

// TestEndToEndSlackApproval: `patrol once` posts the plan of a leaked
// key with Approve and Hold buttons; `patrol run` connects to Slack's
// Socket Mode (outbound, to the fake); an approver presses Approve; the
// key is disabled at once (moto), the approval is mirrored into Jira and
// the message updated; status shows the connection; after the socket
// drops patrol reconnects.
func TestEndToEndSlackApproval(t *testing.T) {
	endpoint := awstest.URL(t)
	ic := iam.NewFromConfig(awstest.Config(t, e2eAccount))
	runs++
	user := fmt.Sprintf("carol-slack-%d", runs)
	key := leakedKey(t, ic, user)
	j := fakeJira(t, jiratest.Options{})
	s := fakeSlack(t, slackfake.Options{})
	t.Setenv("SLACK_APP_TOKEN", "xapp-test")
	tickets := jiraTickets(j, s).
		set("tickets", `slack_approvers = { "U0CAROL01" = "`+e2eApprover+`" }`).
		set("notify.slack", `app_token_env = "SLACK_APP_TOKEN"`).
		set("[digest]", `channel = "#security-alerts"`, `schedule = "0 9 * * 1-5"`)
	conf := responseSetup(t, endpoint, tickets, record("ListBuckets", user, key, "198.51.100.7", nil))

	if code, out, errOut := patrol(t, "once", "--config", conf); code != exitOK {
		t.Fatalf("once: exit %d\n%s\n%s", code, out, errOut)
	}
	var msg slackfake.Message
	for _, m := range s.Messages() {
		if strings.Contains(string(m.Blocks), `"patrol_approve"`) {
			msg = m
		}
	}
	if msg.TS == "" {
		t.Fatalf("no message with approval buttons: %+v", s.Messages())
	}
	issue := j.Issues()[0].Key

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var errOut syncBuffer
	done := make(chan int, 1)
	go func() { done <- dispatch(ctx, []string{"run", "--config", conf}, io.Discard, &errOut) }()
	if !s.WaitConnections(1, 20*time.Second) {
		t.Fatalf("patrol run did not connect to Socket Mode:\n%s", errOut.String())
	}
	waitStatus := func(want string) map[string]any {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			_, out, _ := patrol(t, "status", "--config", conf, "--json")
			var rep map[string]any
			json.Unmarshal([]byte(out), &rep)
			if sm, _ := rep["socket_mode"].(map[string]any); sm != nil && sm["state"] == want {
				return rep
			}
			if time.Now().After(deadline) {
				t.Fatalf("status never showed socket_mode %q:\n%s", want, out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	rep := waitStatus("connected")
	if ds, _ := rep["digests"].([]any); len(ds) != 1 {
		t.Errorf("status digests: %v", rep["digests"])
	}

	id, err := s.PressButton(slackfake.Press{Channel: msg.Channel, TS: msg.TS, ActionID: "patrol_approve", User: "U0CAROL01", UserName: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	if ack, ok := s.WaitAck(id, 3*time.Second); !ok {
		t.Fatalf("not acknowledged within 3s: %+v", ack)
	}
	deadline := time.Now().Add(30 * time.Second)
	for keyStatus(t, ic, user, key) != "Inactive" {
		if time.Now().After(deadline) {
			t.Fatalf("the key was not disabled after the approval:\n%s", errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	deadline = time.Now().Add(20 * time.Second)
	for !strings.Contains(string(messageOf(s, msg).Blocks), "done and verified") {
		if time.Now().After(deadline) {
			t.Fatalf("message not updated with the result: %s", messageOf(s, msg).Blocks)
		}
		time.Sleep(20 * time.Millisecond)
	}
	is, _ := j.Issue(issue)
	if !contains(is.Labels, "patrol-approve") || countContaining(jiraComments(j, issue), "approved by carol in Slack") != 1 {
		t.Errorf("not mirrored into Jira: labels %v comments %q", is.Labels, jiraComments(j, issue))
	}

	s.Drop()
	if !s.WaitConnections(2, 20*time.Second) {
		t.Fatalf("no reconnection after the socket dropped:\n%s", errOut.String())
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("run: exit %d\n%s", code, errOut.String())
	}
	waitStatus("stopped")
	_, show, _ := patrol(t, "tickets", "--config", conf, issue)
	if !strings.Contains(show, e2eApprover+" approved digest") || !strings.Contains(show, "via slack") ||
		!strings.Contains(show, "approve by carol (slack user U0CAROL01, approver "+e2eApprover+")") {
		t.Errorf("approval not in the ledger:\n%s", show)
	}
	if strings.Contains(errOut.String(), "xapp-test") || strings.Contains(errOut.String(), "xoxb-test") {
		t.Error("a token reached the log")
	}
}

func messageOf(s *slackfake.Server, m slackfake.Message) slackfake.Message {
	for _, x := range s.Messages() {
		if x.Channel == m.Channel && x.TS == m.TS {
			return x
		}
	}
	return slackfake.Message{}
}

// TestSocketModeProbed: validate --remote and run check the app-level
// token with apps.connections.open; a wrong one stops run at start, and
// once (Slack rate-limits the method) does not ask.
func TestSocketModeProbed(t *testing.T) {
	s := fakeSlack(t, slackfake.Options{})
	dir := detectionsDir(t, map[string]string{"a.toml": strings.Replace(hourly, "%s", "first", 1)})
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	conf := newTestConfig().set("search.local", `paths = ["logs"]`).
		set("tickets", `approvers = ["alice"]`, `slack_approvers = { "U0ALICE01" = "alice" }`).
		slack(s.URL).set("notify.slack", `app_token_env = "SLACK_APP_TOKEN"`).
		write(t, filepath.Join(dir, "config.toml"))

	t.Setenv("SLACK_APP_TOKEN", "xapp-test")
	code, out, errOut := patrol(t, "validate", "--remote", "--config", conf)
	if code != exitOK || !strings.Contains(out, "remote: socket") || !strings.Contains(out, "Socket Mode for app A0PATROL") {
		t.Fatalf("validate --remote: exit %d\n%s%s", code, out, errOut)
	}
	t.Setenv("SLACK_APP_TOKEN", "xapp-revoked")
	code, out, errOut = patrol(t, "validate", "--remote", "--config", conf)
	if code != exitFailed || !strings.Contains(errOut, "socket") || !strings.Contains(errOut, "invalid_auth") {
		t.Fatalf("validate --remote, wrong app token: exit %d\n%s%s", code, out, errOut)
	}
	opens := s.Count("apps.connections.open")
	if code, out, errOut = patrol(t, "run", "--config", conf); code != exitFailed || !strings.Contains(errOut, "invalid_auth") {
		t.Fatalf("run, wrong app token: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut = patrol(t, "once", "--config", conf); code != exitOK {
		t.Fatalf("once: exit %d\n%s%s", code, out, errOut)
	}
	if got := s.Count("apps.connections.open"); got != opens+1 {
		t.Errorf("apps.connections.open called %d times by run and once, want once (by run)", got-opens)
	}
}
