package jira

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/jira/jiratest"
)

func create(t *testing.T, e *env) poller.Ticket {
	t.Helper()
	tk, err := e.tr.Create(context.Background(), newTicket("0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestApprovals(t *testing.T) {
	for _, flavor := range []jiratest.Flavor{jiratest.Cloud, jiratest.DataCenter} {
		t.Run(string(flavor), func(t *testing.T) {
			// A small page size and a long history make Cloud page its
			// changelog (expand=changelog would cap it at 20).
			e := setup(t, flavor, jiratest.Options{MaxPage: 7})
			if flavor == jiratest.DataCenter {
				e.fake.AddUser("5b10ac8d82e05b22cc7d4ef5", "JIRAUSER20001") // the approver exists before patrol starts
			}
			tk := create(t, e)
			for i := 0; i < 30; i++ {
				e.clock.Advance(time.Second)
				if err := e.fake.AddLabel(tk.Key, fmt.Sprintf("noise-%d", i), "alice"); err != nil {
					t.Fatal(err)
				}
			}
			got, err := e.tr.Approvals(context.Background(), tk.Key, "patrol-approve")
			if err != nil || len(got) != 0 {
				t.Fatalf("approvals before anyone approved = %v (err %v)", got, err)
			}
			e.clock.Advance(time.Minute)
			approvedAt := e.clock.Now()
			_ = e.fake.AddLabel(tk.Key, "patrol-approve", "5b10ac8d82e05b22cc7d4ef5") // an approver
			got, err = e.tr.Approvals(context.Background(), tk.Key, "patrol-approve")
			if err != nil || len(got) != 1 || got[0].By != "5b10ac8d82e05b22cc7d4ef5" || !got[0].At.Equal(approvedAt) {
				t.Fatalf("approvals = %+v (err %v), want the approver at %v", got, err, approvedAt)
			}
			// Someone else removes and re-adds it: the first approval is
			// withdrawn, and only the non-approver's add is left for the
			// caller to reject.
			e.clock.Advance(time.Minute)
			_ = e.fake.RemoveLabel(tk.Key, "patrol-approve", "mallory")
			e.clock.Advance(time.Minute)
			_ = e.fake.AddLabel(tk.Key, "patrol-approve", "mallory")
			got, err = e.tr.Approvals(context.Background(), tk.Key, "patrol-approve")
			if err != nil || len(got) != 1 || !strings.HasPrefix(got[0].By, "mallory") {
				t.Fatalf("approvals = %+v (err %v), want only mallory's", got, err)
			}
			if flavor == jiratest.Cloud && e.fake.Count(http.MethodGet, "/rest/api/2/issue/"+tk.Key+"/changelog") < 5 {
				t.Errorf("Cloud changelog was not paged")
			}
		})
	}
}

func TestSetRouteAddsNotReplaces(t *testing.T) {
	for _, flavor := range []jiratest.Flavor{jiratest.Cloud, jiratest.DataCenter} {
		t.Run(string(flavor), func(t *testing.T) {
			e := setup(t, flavor, jiratest.Options{})
			tk := create(t, e)
			_ = e.fake.AddLabel(tk.Key, "triaged-by-human", "alice")
			err := e.tr.SetRoute(context.Background(), tk.Key, poller.Route{Team: "Payments Team", Assignee: "jdoe", Component: "Payments", SlackChannel: "#p"})
			if err != nil {
				t.Fatal(err)
			}
			is, _ := e.fake.Issue(tk.Key)
			for _, want := range []string{"patrol", "triaged-by-human", "patrol-team-Payments-Team", "patrol-fp-0123456789abcdef"} {
				if !strings.Contains(" "+strings.Join(is.Labels, " ")+" ", " "+want+" ") {
					t.Errorf("labels %q lack %q", is.Labels, want)
				}
			}
			if is.Assignee != "jdoe" || strings.Join(is.Components, ",") != "Payments" {
				t.Errorf("assignee %q components %q", is.Assignee, is.Components)
			}
			reqs := e.fake.Requests()
			last := reqs[len(reqs)-1]
			var body map[string]map[string]json.RawMessage
			_ = json.Unmarshal(last.Body, &body)
			if last.Method != http.MethodPut || body["fields"]["labels"] != nil || body["update"]["labels"] == nil {
				t.Errorf("route sent %s %s", last.Method, last.Body)
			}
			if err := e.tr.AddLabels(context.Background(), tk.Key, "patrol remediated"); err != nil {
				t.Fatal(err)
			}
			is, _ = e.fake.Issue(tk.Key)
			if !strings.Contains(strings.Join(is.Labels, " "), "patrol-remediated") || !strings.Contains(strings.Join(is.Labels, " "), "triaged-by-human") {
				t.Errorf("labels after AddLabels: %q", is.Labels)
			}
		})
	}
}

func TestSetRouteRetriesPut(t *testing.T) {
	e := setup(t, jiratest.Cloud, jiratest.Options{})
	tk := create(t, e)
	e.fake.Fail(jiratest.Fault{Method: http.MethodPut, Path: "/rest/api/2/issue/" + tk.Key, Status: 503, Header: http.Header{"Retry-After": {"4"}}})
	if err := e.tr.SetRoute(context.Background(), tk.Key, poller.Route{Component: "Payments"}); err != nil {
		t.Fatal(err)
	}
	if got := e.clock.Sleeps(); len(got) != 1 || got[0] != 4*time.Second {
		t.Errorf("slept %v, want [4s] (PUT is idempotent, Retry-After honoured)", got)
	}
}

func TestTransition(t *testing.T) {
	e := setup(t, jiratest.DataCenter, jiratest.Options{Transitions: []jiratest.Transition{
		{ID: "11", Name: "Start Progress", To: "In Progress"}, {ID: "31", Name: "Done", To: "Done"},
	}})
	tk := create(t, e)
	ctx := context.Background()
	if err := e.tr.Transition(ctx, tk.Key, "done"); err != nil {
		t.Fatal(err)
	}
	if is, _ := e.fake.Issue(tk.Key); is.Status != "Done" {
		t.Fatalf("status = %s", is.Status)
	}
	if err := e.tr.Transition(ctx, tk.Key, "Done"); err != nil {
		t.Fatalf("repeating a transition into the current status: %v", err)
	}
	err := e.tr.Transition(ctx, tk.Key, "Close Issue")
	if err == nil || !strings.Contains(err.Error(), `SEC-1 to "Close Issue": transition "Close Issue" is not available (available: "Start Progress")`) {
		t.Fatalf("err = %v", err)
	}
	if !poller.Permanent(err) {
		t.Errorf("a transition the workflow lacks is not permanent: %v", err)
	}
	if err := e.tr.Transition(ctx, "../../admin", "Done"); err == nil {
		t.Fatal("a path as key was accepted")
	}
}

// TestTransitionReplaysRecordedList looks the id up in go-jira's recorded
// transitions list and posts it.
func TestTransitionReplaysRecordedList(t *testing.T) {
	var posted string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			var body struct{ Transition struct{ ID string } }
			_ = json.NewDecoder(r.Body).Decode(&body)
			posted = body.Transition.ID
			w.WriteHeader(http.StatusNoContent)
			return
		}
		b, _ := os.ReadFile("testdata/samples/transitions-gojira.json")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	t.Setenv("TEST_JIRA_TOKEN", "t")
	cfg := Defaults()
	cfg.URL, cfg.Flavor, cfg.TokenEnv, cfg.Project, cfg.AllowInsecureHTTP = srv.URL, FlavorDataCenter, "TEST_JIRA_TOKEN", "SEC", true
	tr, err := New(cfg, Options{Label: "patrol"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Transition(context.Background(), "SEC-1", "QA Review"); err != nil || posted != "711" {
		t.Fatalf("posted %q, err %v; want 711", posted, err)
	}
}

func TestComment(t *testing.T) {
	tests := []struct {
		flavor jiratest.Flavor
		path   string
		api    string
	}{
		{jiratest.Cloud, "/rest/api/3/issue/SEC-1/comment", "3"},
		{jiratest.DataCenter, "/rest/api/2/issue/SEC-1/comment", "2"},
	}
	for _, tt := range tests {
		t.Run(string(tt.flavor), func(t *testing.T) {
			e := setup(t, tt.flavor, jiratest.Options{})
			tk := create(t, e)
			m := poller.Message{Title: "Enrichment", Sections: []poller.Section{{Fields: []poller.Field{{Name: "owner", Value: "[~accountid:557058:x] @here"}}}}}
			if err := e.tr.Comment(context.Background(), tk.Key, m); err != nil {
				t.Fatal(err)
			}
			is, _ := e.fake.Issue(tk.Key)
			if len(is.Comments) != 1 || is.Comments[0].API != tt.api {
				t.Fatalf("comments = %+v", is.Comments)
			}
			if !strings.Contains(jiratest.PlainText(is.Comments[0].Body), "[~accountid:557058:x] @here") {
				t.Errorf("comment text = %q", jiratest.PlainText(is.Comments[0].Body))
			}
			for _, r := range e.fake.Requests() {
				if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/comment") {
					var body map[string]any
					_ = json.Unmarshal(r.Body, &body)
					if r.Path != tt.path || len(body) != 1 {
						t.Errorf("comment sent to %s as %s", r.Path, r.Body)
					}
				}
			}
			// Not retried: a comment is not idempotent.
			e.fake.Fail(jiratest.Fault{Method: http.MethodPost, Path: tt.path, Status: 500})
			err := e.tr.Comment(context.Background(), tk.Key, m)
			if err == nil || !asError(t, err).Unknown || e.fake.Count(http.MethodPost, tt.path) != 2 {
				t.Errorf("err = %v after %d posts", err, e.fake.Count(http.MethodPost, tt.path))
			}
		})
	}
}

func TestGetReadsConfiguredFields(t *testing.T) {
	e := setup(t, jiratest.Cloud, jiratest.Options{}, func(c *Config) {
		c.Fields = map[string]string{"recipientAccountId": "customfield_10050", "severity": "customfield_10051", "tags": "customfield_10052"}
	})
	key := e.fake.AddIssue(jiratest.Issue{Summary: "from Splunk", Labels: []string{"patrol"}, Fields: map[string]any{
		"customfield_10050": "111122223333",
		"customfield_10051": map[string]any{"value": "high", "id": "3"},
		"customfield_10052": []any{map[string]any{"value": "a"}, map[string]any{"value": "b"}},
	}})
	tk, err := e.tr.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Fields.Get("recipientAccountId") != "111122223333" || tk.Fields.Get("severity") != "high" || strings.Join(tk.Fields["tags"], ",") != "a,b" {
		t.Errorf("fields = %v", tk.Fields)
	}
}

// TestCommentAtIsJirasTime: the plan comment's time, against which
// approvals (changelog times) are compared, is Jira's own stamp.
func TestCommentAtIsJirasTime(t *testing.T) {
	for _, flavor := range []jiratest.Flavor{jiratest.Cloud, jiratest.DataCenter} {
		t.Run(string(flavor), func(t *testing.T) {
			e := setup(t, flavor, jiratest.Options{})
			tk := create(t, e)
			at, err := e.tr.CommentAt(context.Background(), tk.Key, poller.Message{Title: "plan"})
			if err != nil {
				t.Fatal(err)
			}
			is, _ := e.fake.Issue(tk.Key)
			if len(is.Comments) != 1 || !at.Equal(is.Comments[0].Created.Truncate(time.Millisecond)) {
				t.Errorf("CommentAt = %v, Jira stamped %v", at, is.Comments)
			}
		})
	}
}

// TestFindComment: a comment patrol posted is found by the reference line
// it ends with, with Jira's time, through pages of newer comments; the same
// line in someone else's comment, or another reference, is not it.
func TestFindComment(t *testing.T) {
	for _, flavor := range []jiratest.Flavor{jiratest.Cloud, jiratest.DataCenter} {
		t.Run(string(flavor), func(t *testing.T) {
			e := setup(t, flavor, jiratest.Options{})
			tk := create(t, e)
			ctx := context.Background()
			m := poller.Message{Sections: []poller.Section{{Heading: "Enrichment", Text: "owner: alice"}}, Ref: "3f9a1c0b7e2d"}
			other := m
			other.Ref = "000000000000"
			if _, found, err := e.tr.FindComment(ctx, tk.Key, m); err != nil || found {
				t.Fatalf("before it was posted: found %v, %v", found, err)
			}
			e.fake.AddComment(tk.Key, "mallory", "quoting you:\n"+m.RefLine())
			if _, found, err := e.tr.FindComment(ctx, tk.Key, m); err != nil || found {
				t.Fatalf("someone else's comment with the line counted: %v, %v", found, err)
			}
			at, err := e.tr.CommentAt(ctx, tk.Key, m)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 150; i++ { // newer comments, more than a page
				e.clock.Advance(time.Second)
				e.fake.AddComment(tk.Key, "someone", fmt.Sprintf("comment %d", i))
			}
			got, found, err := e.tr.FindComment(ctx, tk.Key, m)
			if err != nil || !found || !got.Equal(at) {
				t.Errorf("FindComment = %v, %v, %v; want %v", got, found, err, at)
			}
			if _, found, err := e.tr.FindComment(ctx, tk.Key, other); err != nil || found {
				t.Errorf("another reference found: %v, %v", found, err)
			}
			is, _ := e.fake.Issue(tk.Key)
			if text := jiratest.PlainText(is.Comments[1].Body); !strings.HasSuffix(text, "patrol ref 3f9a1c0b7e2d") {
				t.Errorf("comment text = %q", text)
			}
		})
	}
}

// TestDataCenterApproverByKey: Data Center approvers are named in the
// config by user name and matched by their stable user key, resolved at
// start. An administrator who renames the approver and gives the name to
// someone else gives that person no approval; the renamed approver keeps
// theirs.
func TestDataCenterApproverByKey(t *testing.T) {
	c := newClock()
	fake := jiratest.New(t, jiratest.Options{Flavor: jiratest.DataCenter, Now: c.Now, Token: "s3cret-token", Account: "patrol-bot"})
	fake.AddUser("alice", "JIRAUSER10201")
	fake.AddUser("mallory", "JIRAUSER10202")
	e := &env{fake: fake, clock: c, logs: &bytes.Buffer{}}
	e.tr = newTracker(t, e, jiratest.DataCenter, func(o *Options) { o.Approvers = []string{"alice"} })
	if err := e.tr.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.logs.String(), "JIRAUSER10201") {
		t.Errorf("start does not say which key alice is:\n%s", e.logs.String())
	}
	tk := create(t, e)
	if err := fake.RenameUser("alice", "alice.smith"); err != nil {
		t.Fatal(err)
	}
	if err := fake.RenameUser("mallory", "alice"); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Minute)
	fake.AddLabel(tk.Key, "patrol-approve", "alice") // mallory, renamed
	got, err := e.tr.Approvals(context.Background(), tk.Key, "patrol-approve")
	if err != nil || len(got) != 1 || got[0].By == "alice" || !strings.Contains(got[0].By, "JIRAUSER10202") {
		t.Fatalf("approvals = %+v (err %v): the name's new holder must not count as alice", got, err)
	}
	c.Advance(time.Minute)
	fake.RemoveLabel(tk.Key, "patrol-approve", "alice.smith")
	c.Advance(time.Minute)
	fake.AddLabel(tk.Key, "patrol-approve", "alice.smith") // the real alice
	got, err = e.tr.Approvals(context.Background(), tk.Key, "patrol-approve")
	if err != nil || len(got) != 1 || got[0].By != "alice" {
		t.Fatalf("approvals = %+v (err %v), want alice's (key JIRAUSER10201)", got, err)
	}
}
