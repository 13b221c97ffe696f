package poller_test

// Tests of the response path under faults, through the real Jira and Slack
// clients against their fakes (and the real AWS actions against moto where
// a test needs them), over a real state file, on one injected clock.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/jira"
	"github.com/patrolsec/patrol/poller/jira/jiratest"
	"github.com/patrolsec/patrol/poller/slack"
	"github.com/patrolsec/patrol/poller/slack/slackfake"
	"github.com/patrolsec/patrol/state"
)

const (
	account  = "111122223333"
	approver = "5b10ac8d82e05b22cc7d4ef5"
)

// clock is the one clock of a test: patrol, Jira and Slack read it.
type clock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// Sleep records the wait and moves the clock: retries take no real time.
func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.t = c.t.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

// searcher returns the events whose time is in the queried window.
type searcher struct {
	mu     sync.Mutex
	events []poller.Result
}

func (s *searcher) add(rs ...poller.Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, rs...)
}

func (s *searcher) Search(ctx context.Context, q poller.Query, emit func(poller.Result) error) error {
	s.mu.Lock()
	evs := append([]poller.Result(nil), s.events...)
	s.mu.Unlock()
	for _, r := range evs {
		at := poller.ResultTime(r, time.Time{})
		if (!q.Window.Start.IsZero() && !at.After(q.Window.Start)) || at.After(q.Window.End) {
			continue
		}
		if err := emit(r); err != nil {
			return err
		}
	}
	return nil
}

// keyEvent is an access key of user used at a time.
func keyEvent(at time.Time, user, key string) poller.Result {
	return poller.Result{"_time": {at.Format(time.RFC3339)}, "eventName": {"ListBuckets"}, "recipientAccountId": {account},
		"awsRegion": {"us-east-1"}, "userIdentity.userName": {user}, "userIdentity.accessKeyId": {key},
		"userIdentity.arn": {"arn:aws:iam::" + account + ":user/" + user}, "sourceIPAddress": {"192.0.2.66"}}
}

// keyAction stands in for iam.disable_access_key: it plans from its params
// as the real one does, records what it applies, and reads back what it
// applied (a Checker).
type keyAction struct {
	mu       sync.Mutex
	applied  []poller.Plan
	disabled map[string]bool
	// onApply runs inside Apply, after the change is made.
	onApply func(ctx context.Context) error
}

func (a *keyAction) Plan(ctx context.Context, req poller.ActionRequest) (poller.Plan, error) {
	p := req.Params
	if p["account"] == "" || p["user"] == "" || p["key"] == "" {
		return poller.Plan{}, fmt.Errorf("params account, user and key are required, got %v", p)
	}
	return poller.Plan{Target: p["key"], Principal: "arn:aws:iam::" + p["account"] + ":user/" + p["user"], Account: p["account"], Params: p,
		Steps: []string{"iam:UpdateAccessKey UserName=" + p["user"] + " AccessKeyId=" + p["key"] + " Status=Inactive"}}, nil
}

func (a *keyAction) Apply(ctx context.Context, p poller.Plan) (poller.Outcome, error) {
	a.mu.Lock()
	a.applied = append(a.applied, p)
	if a.disabled == nil {
		a.disabled = map[string]bool{}
	}
	a.disabled[p.Params["key"]] = true
	hook := a.onApply
	a.mu.Unlock()
	out := poller.Outcome{Snapshot: `{"status":"Active"}`, Detail: "access key " + p.Params["key"] + " set Inactive", Verified: true}
	if hook != nil {
		if err := hook(ctx); err != nil {
			return out, err
		}
	}
	return out, nil
}

func (a *keyAction) Check(ctx context.Context, p poller.Plan, since time.Time) (poller.Outcome, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	in := a.disabled[p.Params["key"]]
	return poller.Outcome{Verified: in, Detail: fmt.Sprintf("key %s inactive: %v", p.Params["key"], in)}, nil
}

func (a *keyAction) keys() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, p := range a.applied {
		out = append(out, p.Params["key"])
	}
	return out
}

// detectionTOML is a detection over keyEvent results.
func detectionTOML(mode, suppress string) string {
	return `id = "key-used"
title = "Access key used from outside"
severity = "high"
schedule = "@every 5m"
settle = "1m"
lookback = "1h"
suppress = "` + suppress + `"
search = "x"
group_by = ["userIdentity.accessKeyId"]
[ticket]
summary = "Key {userIdentity.accessKeyId} of {userIdentity.userName} used"
[remediation]
action = "iam.disable_access_key"
mode = "` + mode + `"
params = { account = "{recipientAccountId}", user = "{userIdentity.userName}", key = "{userIdentity.accessKeyId}" }
`
}

func loadDetection(t *testing.T, src string) *detections.Detection {
	t.Helper()
	path := filepath.Join(t.TempDir(), "d.toml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := detections.LoadFile(path, detections.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

type envOptions struct {
	mode     string // remediation mode (default approve)
	suppress string // default 1h
	jira     jiratest.Options
	// jiraConfig edits the tracker's config.
	jiraConfig func(*jira.Config)
}

// env wires both jobs to Jira, Slack and a recording action.
type env struct {
	t        *testing.T
	clock    *clock
	db       *state.DB
	jira     *jiratest.Server
	tracker  *jira.Tracker
	slack    *slackfake.Server
	search   *searcher
	action   *keyAction
	det      *detections.Detection
	detector *poller.Detector
	resp     *poller.Responder
	health   *poller.Health
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	if o.mode == "" {
		o.mode = "approve"
	}
	if o.suppress == "" {
		o.suppress = "1h"
	}
	c := &clock{t: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}
	e := &env{t: t, clock: c, search: &searcher{}, action: &keyAction{}}
	db, err := state.Open(filepath.Join(t.TempDir(), "patrol.db"), c.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e.db = db
	o.jira.Now = c.Now
	e.jira = jiratest.New(t, o.jira)
	t.Setenv("T_JIRA_USER", "bot@example.com")
	t.Setenv("T_JIRA_TOKEN", "token")
	t.Setenv("T_SLACK_TOKEN", "xoxb-test")
	jc := jira.Defaults()
	jc.URL, jc.UserEnv, jc.TokenEnv, jc.Project, jc.AllowInsecureHTTP = e.jira.URL, "T_JIRA_USER", "T_JIRA_TOKEN", "SEC", true
	jc.Fields = map[string]string{"recipientAccountId": "customfield_10001", "userIdentity.userName": "customfield_10002", "userIdentity.accessKeyId": "customfield_10003"}
	if o.jiraConfig != nil {
		o.jiraConfig(&jc)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if e.tracker, err = jira.New(jc, jira.Options{Label: "patrol", Now: c.Now, Sleep: c.Sleep, Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	e.slack = slackfake.New(t, slackfake.Options{Now: c.Now})
	sc := slack.Defaults()
	sc.TokenEnv, sc.Channel, sc.APIURL, sc.AllowInsecureHTTP = "T_SLACK_TOKEN", "#security-alerts", e.slack.URL, true
	notifier, err := slack.New(sc, slack.Options{Sleep: c.Sleep, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	e.det = loadDetection(t, detectionTOML(o.mode, o.suppress))
	lag, timeout := time.Minute, 30*time.Second
	e.health = &poller.Health{Tracker: e.tracker, Store: db, Label: "patrol", IndexLag: lag, CreateTimeout: timeout, Now: c.Now, Logger: quiet}
	e.resp = &poller.Responder{Tracker: e.tracker, Store: db, Notifier: notifier, Health: e.health,
		Actions:   map[string]poller.Action{"iam.disable_access_key": e.action},
		Detection: func(id string) *detections.Detection { return map[string]*detections.Detection{e.det.ID: e.det}[id] },
		Guard:     poller.Guard{MaxPerHour: 20}, ApproveLabel: "patrol-approve", Approvers: []string{approver},
		DoneTransition: "Done", PollOverlap: 5 * time.Minute, FirstPoll: 24 * time.Hour, Now: c.Now, Logger: quiet}
	e.detector = &poller.Detector{Searcher: e.search, Tracker: e.tracker, Store: db, Notifier: notifier, Label: "patrol",
		MaxWindow: 6 * time.Hour, IndexLag: lag, CreateTimeout: timeout, Health: e.health, Now: c.Now, Logger: quiet}
	return e
}

func (e *env) detect() (poller.DetectStats, error) {
	e.t.Helper()
	return e.detector.Run(context.Background(), e.det)
}

func (e *env) poll() error {
	e.t.Helper()
	_, err := e.resp.Poll(context.Background())
	return err
}

// external adds an issue made by another system, with patrol's labels and
// the event fields in custom fields.
func (e *env) external(user, key string) string {
	return e.jira.AddIssue(jiratest.Issue{Summary: "Splunk alert: key used from outside", Labels: []string{"patrol", "patrol-det-key-used"},
		Fields: map[string]any{"customfield_10001": account, "customfield_10002": user, "customfield_10003": key}})
}

// comments returns the plain text of an issue's comments.
func (e *env) comments(key string) []string {
	is, _ := e.jira.Issue(key)
	var out []string
	for _, c := range is.Comments {
		out = append(out, jiratest.PlainText(c.Body))
	}
	return out
}

func (e *env) stage(key string) string {
	e.t.Helper()
	row, err := e.db.Ticket(context.Background(), key)
	if err != nil || row == nil {
		e.t.Fatalf("ticket %s: %v", key, err)
	}
	return row.Stage
}

func (e *env) phases(key string) string {
	evs, _ := e.db.TicketActions(context.Background(), key)
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Phase)
	}
	return strings.Join(out, ",")
}

// count returns how many comments of key contain s.
func (e *env) count(key, s string) int {
	n := 0
	for _, c := range e.comments(key) {
		if strings.Contains(c, s) {
			n++
		}
	}
	return n
}

// issueKeys returns the keys of the fake's issues, sorted.
func (e *env) issueKeys() []string {
	var out []string
	for _, is := range e.jira.Issues() {
		out = append(out, is.Key)
	}
	sort.Strings(out)
	return out
}
