package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/patrolsec/patrol/poller/aws/awstest"
	"github.com/patrolsec/patrol/poller/jira/jiratest"
	"github.com/patrolsec/patrol/poller/slack/slackfake"
	"github.com/patrolsec/patrol/state"
)

const e2eApprover = "5b10ac8d82e05b22cc7d4ef5"

// leakedKey makes an IAM user with an access key in the test account.
func leakedKey(t *testing.T, ic *iam.Client, user string) string {
	t.Helper()
	if _, err := ic.CreateUser(t.Context(), &iam.CreateUserInput{UserName: aws.String(user)}); err != nil {
		t.Fatal(err)
	}
	k, err := ic.CreateAccessKey(t.Context(), &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(k.AccessKey.AccessKeyId)
}

// responseSetup writes a config with the e2e key detection (approve mode)
// over the given CloudTrail records, dry run off against endpoint, and
// the tickets (and notify) tables given; it returns the config's path.
func responseSetup(t *testing.T, endpoint string, tickets *testConfig, recs ...map[string]any) string {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAPATROLTEST000001")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
	dir := detectionsDir(t, map[string]string{"b_key.toml": e2eKey})
	writeRecords(t, dir, "ct.json", append([]map[string]any{}, recs...)...)
	return tickets.localLogs().aws(endpoint, e2eAccount).orgCIDRs().write(t, filepath.Join(dir, "config.toml"))
}

// jiraTickets is tickets in the Jira fake j, with the fields a ticket
// raised elsewhere names its target in, and notices in the Slack fake s.
func jiraTickets(j *jiratest.Server, s *slackfake.Server) *testConfig {
	return newTestConfig().jira(j.URL, e2eApprover).
		set("tickets.jira", `fields = { recipientAccountId = "customfield_10001", "userIdentity.userName" = "customfield_10002", "userIdentity.accessKeyId" = "customfield_10003" }`).
		slack(s.URL)
}

func jiraComments(j *jiratest.Server, key string) []string {
	is, _ := j.Issue(key)
	var out []string
	for _, c := range is.Comments {
		out = append(out, jiratest.PlainText(c.Body))
	}
	return out
}

func countContaining(list []string, s string) int {
	n := 0
	for _, v := range list {
		if strings.Contains(v, s) {
			n++
		}
	}
	return n
}

// TestEndToEndEditedTicketKeepsItsApprovedTarget: a ticket another system
// raised shows the plan for user A's key; a non-approver edits its fields
// to user B's key; an approver approves. patrol disables A's key (the plan
// shown), reports the edit, and never touches B's.
func TestEndToEndEditedTicketKeepsItsApprovedTarget(t *testing.T) {
	endpoint := awstest.URL(t)
	ic := iam.NewFromConfig(awstest.Config(t, e2eAccount))
	runs++
	userA, userB := fmt.Sprintf("alice-edit-%d", runs), fmt.Sprintf("bob-edit-%d", runs)
	keyA, keyB := leakedKey(t, ic, userA), leakedKey(t, ic, userB)
	j := fakeJira(t, jiratest.Options{})
	s := fakeSlack(t, slackfake.Options{})
	conf := responseSetup(t, endpoint, jiraTickets(j, s))
	key := j.AddIssue(jiratest.Issue{Summary: "Splunk alert: access key used from outside", Labels: []string{"patrol", "patrol-det-e2e-external-key"},
		Fields: map[string]any{"customfield_10001": e2eAccount, "customfield_10002": userA, "customfield_10003": keyA}})

	if code, out, errOut := patrol(t, "once", "--config", conf); code != exitOK {
		t.Fatalf("once: exit %d\n%s\n%s", code, out, errOut)
	}
	if c := jiraComments(j, key); countContaining(c, "Plan digest:") != 1 || countContaining(c, keyA) == 0 {
		t.Fatalf("plan for A's key not shown: %q", c)
	}
	j.SetField(key, "customfield_10002", userB, "mallory")
	j.SetField(key, "customfield_10003", keyB, "mallory")
	j.AddLabel(key, "patrol-approve", e2eApprover)
	if code, out, errOut := patrol(t, "once", "--config", conf); code != exitOK {
		t.Fatalf("once after approval: exit %d\n%s\n%s", code, out, errOut)
	}
	if a, b := keyStatus(t, ic, userA, keyA), keyStatus(t, ic, userB, keyB); a != "Inactive" || b != "Active" {
		t.Fatalf("A's key %s, B's key %s; want Inactive, Active", a, b)
	}
	if c := jiraComments(j, key); countContaining(c, "Fields edited") != 1 {
		t.Errorf("the edit was not reported once: %q", c)
	}
	_, show, _ := patrol(t, "tickets", "--config", conf, key)
	if !strings.Contains(show, e2eApprover+" approved digest") {
		t.Errorf("approval not in the ledger:\n%s", show)
	}
}

// TestEndToEndResultCommentRetried: approve mode; one 503 on the result
// comment after the action succeeded. Later runs deliver the result
// comment, the Slack update and the done transition, each exactly once.
func TestEndToEndResultCommentRetried(t *testing.T) {
	endpoint := awstest.URL(t)
	ic := iam.NewFromConfig(awstest.Config(t, e2eAccount))
	runs++
	user := fmt.Sprintf("mallory-503-%d", runs)
	keyID := leakedKey(t, ic, user)
	j := fakeJira(t, jiratest.Options{})
	s := fakeSlack(t, slackfake.Options{})
	conf := responseSetup(t, endpoint, jiraTickets(j, s), record("ListBuckets", user, keyID, "192.0.2.66", nil))
	if code, out, errOut := patrol(t, "once", "--config", conf); code != exitOK {
		t.Fatalf("once: exit %d\n%s\n%s", code, out, errOut)
	}
	key := j.Issues()[0].Key
	j.AddLabel(key, "patrol-approve", e2eApprover)
	comment := "/rest/api/3/issue/" + key + "/comment"
	j.Fail(jiratest.Fault{Method: http.MethodPost, Path: comment, Status: 503, Body: `{"errorMessages":["Service Unavailable"]}`})
	code, out, _ := patrol(t, "once", "--config", conf)
	if code != exitFailed || keyStatus(t, ic, user, keyID) != "Inactive" {
		t.Fatalf("the approved run: exit %d, key %s\n%s", code, keyStatus(t, ic, user, keyID), out)
	}
	for i := 0; i < 2; i++ {
		if code, out, errOut := patrol(t, "once", "--config", conf); code != exitOK {
			t.Fatalf("later run: exit %d\n%s\n%s", code, out, errOut)
		}
	}
	is, _ := j.Issue(key)
	transitions := 0
	for _, h := range is.Changelog {
		for _, it := range h.Items {
			if it.Field == "status" {
				transitions++
			}
		}
	}
	slackResults := 0
	for _, m := range s.Messages() {
		if m.ThreadTS != "" && strings.Contains(m.Text+string(m.Blocks), "done and verified") {
			slackResults++
		}
	}
	if n := countContaining(jiraComments(j, key), "done and verified"); n != 1 || transitions != 1 || is.Status != "Done" || slackResults != 1 {
		t.Errorf("result comments %d, transitions %d (status %s), Slack results %d; want 1, 1 (Done), 1", n, transitions, is.Status, slackResults)
	}
}

// cancellingProxy forwards to moto; the first request carrying action it
// lets moto apply, then stops patrol (cancel) and never answers: patrol
// stopped in the middle of the AWS call, after AWS made the change.
func cancellingProxy(t *testing.T, target, action string, cancel func()) string {
	t.Helper()
	u, _ := url.Parse(target)
	proxy := httputil.NewSingleHostReverseProxy(u)
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		fire := false
		if bytes.Contains(body, []byte("Action="+action)) {
			once.Do(func() { fire = true })
		}
		if !fire {
			proxy.ServeHTTP(w, r)
			return
		}
		proxy.ServeHTTP(httptest.NewRecorder(), r) // AWS applies it
		cancel()
		<-r.Context().Done() // the answer never arrives
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestEndToEndInterruptedActionReadBack: patrol is stopped (as by SIGTERM)
// while UpdateAccessKey is in flight and AWS applied it. The attempt is
// recorded as interrupted, not failed; the next run reads the key back,
// records and comments that the change is in place, closes the ticket; the
// action is not run again, and undo works on it.
func TestEndToEndInterruptedActionReadBack(t *testing.T) {
	endpoint := awstest.URL(t)
	ic := iam.NewFromConfig(awstest.Config(t, e2eAccount))
	runs++
	user := fmt.Sprintf("mallory-int-%d", runs)
	keyID := leakedKey(t, ic, user)
	ctx, cancel := context.WithCancel(context.Background())
	proxied := cancellingProxy(t, endpoint, "UpdateAccessKey", cancel)
	conf := responseSetup(t, proxied, newTestConfig().localTickets("alice"), record("ListBuckets", user, keyID, "192.0.2.66", nil))
	if code, out, errOut := patrol(t, "once", "--config", conf); code != exitOK {
		t.Fatalf("once: exit %d\n%s\n%s", code, out, errOut)
	}
	kt := ticketsJSON(t, conf)["e2e-external-key"]
	patrol(t, "approve", "--config", conf, "--as", "alice", kt.Key)
	var out, errOut bytes.Buffer
	dispatch(ctx, []string{"once", "--config", conf}, &out, &errOut) // stopped inside the AWS call
	if got := keyStatus(t, ic, user, keyID); got != "Inactive" {
		t.Fatalf("key %s: the call did not reach AWS\n%s%s", got, out.String(), errOut.String())
	}
	kt = ticketsJSON(t, conf)["e2e-external-key"]
	if actionPhases(kt.Actions) != "iam.disable_access_key:planned,iam.disable_access_key:started,iam.disable_access_key:interrupted" || kt.Stage != "verify" {
		t.Fatalf("after the stop: %+v", kt)
	}
	if code, out, errOut := patrol(t, "once", "--config", conf); code != exitOK {
		t.Fatalf("read-back run: exit %d\n%s\n%s", code, out, errOut)
	}
	kt = ticketsJSON(t, conf)["e2e-external-key"]
	if !strings.HasSuffix(actionPhases(kt.Actions), "interrupted,iam.disable_access_key:succeeded") || kt.Stage != "done" || kt.Status != "Done" {
		_, show, _ := patrol(t, "tickets", "--config", conf, kt.Key)
		t.Fatalf("after the read-back: %+v\n%s", kt, show)
	}
	_, show, _ := patrol(t, "tickets", "--config", conf, kt.Key)
	if !strings.Contains(show, "shows the change in place") || !strings.Contains(show, "ListAccessKeys reports access key "+keyID+" of "+user+" Inactive") {
		t.Errorf("ticket lacks the read-back:\n%s", show)
	}
	id := lastActionID(t, conf, kt.Key)
	if code, out, errOut := patrol(t, "undo", "--config", conf, "--as", "alice", fmt.Sprint(id)); code != exitOK || keyStatus(t, ic, user, keyID) != "Active" {
		t.Fatalf("undo: exit %d %s %s; key %s", code, out, errOut, keyStatus(t, ic, user, keyID))
	}
}

func lastActionID(t *testing.T, conf, key string) int64 {
	t.Helper()
	db, err := state.Open(filepath.Join(filepath.Dir(conf), "patrol.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	evs, err := db.TicketActions(t.Context(), key)
	if err != nil || len(evs) == 0 {
		t.Fatalf("actions of %s: %v", key, err)
	}
	return evs[len(evs)-1].ID
}

// TestEndToEndUndoBesideDaemonAndInDryRun: an undo refused in dry run
// leaves the undo available; `patrol undo` while another patrol holds the
// state is queued (and says so), and the holder carries it out.
func TestEndToEndUndoBesideDaemonAndInDryRun(t *testing.T) {
	endpoint := awstest.URL(t)
	ic := iam.NewFromConfig(awstest.Config(t, e2eAccount))
	runs++
	user := fmt.Sprintf("mallory-undo-%d", runs)
	keyID := leakedKey(t, ic, user)
	conf := responseSetup(t, endpoint, newTestConfig().localTickets("alice"), record("ListBuckets", user, keyID, "192.0.2.66", nil))
	patrol(t, "once", "--config", conf)
	kt := ticketsJSON(t, conf)["e2e-external-key"]
	patrol(t, "approve", "--config", conf, "--as", "alice", kt.Key)
	patrol(t, "once", "--config", conf)
	if keyStatus(t, ic, user, keyID) != "Inactive" {
		t.Fatal("the approved action did not run")
	}
	id := fmt.Sprint(lastActionID(t, conf, kt.Key))

	src, _ := os.ReadFile(conf)
	os.WriteFile(conf, bytes.Replace(src, []byte("dry_run = false"), []byte("dry_run = true"), 1), 0o644)
	if code, _, errOut := patrol(t, "undo", "--config", conf, "--as", "alice", id); code != exitFailed || !strings.Contains(errOut, "may be asked for again") {
		t.Fatalf("undo in dry run: exit %d %s", code, errOut)
	}
	os.WriteFile(conf, src, 0o644)

	release, err := state.Lock(filepath.Join(filepath.Dir(conf), "patrol.db")) // the daemon
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := patrol(t, "undo", "--config", conf, "--as", "alice", id)
	if code != exitOK || !strings.Contains(out, "queued") || keyStatus(t, ic, user, keyID) != "Inactive" {
		t.Fatalf("undo beside the daemon: exit %d %s %s", code, out, errOut)
	}
	_, status, _ := patrol(t, "status", "--config", conf)
	if !strings.Contains(status, "action #"+id+" by alice") || !strings.Contains(status, "queued") {
		t.Errorf("status lacks the queued undo:\n%s", status)
	}
	release()
	if code, out, errOut := patrol(t, "once", "--config", conf); code != exitOK || keyStatus(t, ic, user, keyID) != "Active" {
		t.Fatalf("the queued undo was not carried out: exit %d %s %s", code, out, errOut)
	}
	var rep statusReport
	_, js, _ := patrol(t, "status", "--config", conf, "--json")
	if json.Unmarshal([]byte(js), &rep) != nil || len(rep.UndoRequests) != 1 || rep.UndoRequests[0].Result != "undone" {
		t.Errorf("status --json undo_requests: %s", js)
	}
}

// actionPhases lists a ticket's ledger rows as "action:phase,...".
func actionPhases(evs []actionView) string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Action+":"+e.Phase)
	}
	return strings.Join(out, ",")
}
