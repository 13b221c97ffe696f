package jira

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/jira/jiratest"
)

// clock is a manual clock shared by the fake and the tracker; sleeping
// advances it, so no test waits on wall time.
type clock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 11, 22, 8, 1, 2, 345e6, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	c.Advance(d)
	return nil
}

func (c *clock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

type env struct {
	fake  *jiratest.Server
	tr    *Tracker
	clock *clock
	logs  *bytes.Buffer
}

// setup starts a fake of the given flavor and a Tracker pointed at it.
func setup(t *testing.T, flavor jiratest.Flavor, opts jiratest.Options, mod ...func(*Config)) *env {
	t.Helper()
	c := newClock()
	opts.Flavor = flavor
	opts.Now = c.Now
	opts.Token = "s3cret-token"
	if opts.Account == "" {
		opts.Account = "557058:bot"
	}
	fake := jiratest.New(t, opts)
	e := &env{fake: fake, clock: c, logs: &bytes.Buffer{}}
	mods := make([]any, len(mod))
	for i, m := range mod {
		mods[i] = m
	}
	e.tr = newTracker(t, e, flavor, mods...)
	return e
}

// newTracker makes another Tracker against the same fake: a restarted
// process, with no memory of the first.
func newTracker(t *testing.T, e *env, flavor jiratest.Flavor, mods ...any) *Tracker {
	t.Helper()
	t.Setenv("TEST_JIRA_TOKEN", "s3cret-token")
	cfg := Defaults()
	cfg.URL, cfg.AllowInsecureHTTP = e.fake.URL, true
	cfg.Flavor = string(flavor)
	cfg.TokenEnv = "TEST_JIRA_TOKEN"
	cfg.Project = "SEC"
	if flavor == jiratest.Cloud {
		t.Setenv("TEST_JIRA_USER", "bot@example.com")
		cfg.UserEnv = "TEST_JIRA_USER"
	}
	opts := Options{
		Label:     "patrol",
		Logger:    slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:       e.clock.Now,
		Sleep:     e.clock.Sleep,
		Approvers: []string{"5b10ac8d82e05b22cc7d4ef5"},
	}
	for _, m := range mods {
		switch m := m.(type) {
		case func(*Config):
			m(&cfg)
		case func(*Options):
			m(&opts)
		}
	}
	tr, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func newTicket(fp string) poller.NewTicket {
	return poller.NewTicket{
		Detection:   "cloudtrail-logging-stopped",
		Fingerprint: fp,
		Summary:     "CloudTrail StopLogging on main in 111122223333",
		Severity:    "critical",
		Priority:    "Highest",
		Labels:      []string{"patrol-fp-" + fp, "patrol-det-cloudtrail-logging-stopped", "cloudtrail"},
		Description: poller.Message{Title: "CloudTrail logging stopped", Sections: []poller.Section{
			{Heading: "Event", Fields: []poller.Field{{Name: "eventName", Value: "StopLogging"}}},
		}},
	}
}

func asError(t *testing.T, err error) *Error {
	t.Helper()
	var je *Error
	if !errors.As(err, &je) {
		t.Fatalf("error %v (%T) is not a *jira.Error", err, err)
	}
	return je
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		fake    jiratest.Flavor
		flavor  string
		wantErr string
	}{
		{"cloud", jiratest.Cloud, FlavorCloud, ""},
		{"datacenter", jiratest.DataCenter, FlavorDataCenter, ""},
		{"cloud configured as datacenter", jiratest.Cloud, FlavorDataCenter, `flavor = "datacenter", but`},
		{"datacenter configured as cloud", jiratest.DataCenter, FlavorCloud, `deploymentType "Server"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, tt.fake, jiratest.Options{TimeZone: "Australia/Sydney", User: "bot@example.com"}, func(c *Config) {
				c.Flavor = tt.flavor
				// Basic auth on both, so that the mismatch, not the
				// credentials, is what fails.
				c.UserEnv = "TEST_JIRA_USER"
				t.Setenv("TEST_JIRA_USER", "bot@example.com")
			})
			err := e.tr.Check(context.Background())
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if e.tr.zone.String() != "Australia/Sydney" {
					t.Errorf("zone = %s, want the account's Australia/Sydney", e.tr.zone)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestCheckBadCredentialsAndSecretNotLogged(t *testing.T) {
	e := setup(t, jiratest.Cloud, jiratest.Options{})
	t.Setenv("TEST_JIRA_BAD_TOKEN", "wrong-token")
	tr := newTracker(t, e, jiratest.Cloud, func(c *Config) { c.TokenEnv = "TEST_JIRA_BAD_TOKEN" })
	err := tr.Check(context.Background())
	if je := asError(t, err); je.Status != http.StatusUnauthorized || je.Retryable() {
		t.Fatalf("err = %v, want a permanent 401", err)
	}
	if err := e.tr.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(e.logs.String(), "s3cret-token") || strings.Contains(err.Error(), "wrong-token") {
		t.Fatal("a token leaked into logs or errors")
	}
}

func TestCreate(t *testing.T) {
	tests := []struct {
		flavor   jiratest.Flavor
		path     string
		assignee string // JSON of the assignee sent
	}{
		{jiratest.Cloud, "/rest/api/3/issue", `{"accountId":"5b10ac8d82e05b22cc7d4ef5"}`},
		{jiratest.DataCenter, "/rest/api/2/issue", `{"name":"5b10ac8d82e05b22cc7d4ef5"}`},
	}
	for _, tt := range tests {
		t.Run(string(tt.flavor), func(t *testing.T) {
			e := setup(t, tt.flavor, jiratest.Options{})
			nt := newTicket("0123456789abcdef")
			nt.Summary = "StopLogging by arn:aws:iam::1:user/x\nINJECTED " + strings.Repeat("ü", 300)
			nt.Labels = append(nt.Labels, "Severity: high", "patrol")
			nt.Route = poller.Route{Assignee: "5b10ac8d82e05b22cc7d4ef5", Component: "Payments"}
			tk, err := e.tr.Create(context.Background(), nt)
			if err != nil {
				t.Fatal(err)
			}
			is, ok := e.fake.Issue(tk.Key)
			if !ok {
				t.Fatalf("issue %s not in the fake", tk.Key)
			}
			if tk.ID != is.ID || tk.URL != e.fake.URL+"/browse/"+is.Key || tk.Status != "To Do" || !tk.Updated.Equal(e.clock.Now().Truncate(time.Millisecond)) {
				t.Errorf("ticket = %+v", tk)
			}
			if strings.Contains(is.Summary, "\n") || jiraLen(is.Summary) > 255 || !strings.HasSuffix(is.Summary, "…") {
				t.Errorf("summary = %q", is.Summary)
			}
			want := []string{"patrol", "patrol-fp-0123456789abcdef", "patrol-det-cloudtrail-logging-stopped", "cloudtrail", "Severity:-high"}
			if strings.Join(is.Labels, ",") != strings.Join(want, ",") {
				t.Errorf("labels = %q, want %q", is.Labels, want)
			}
			if is.Priority != "Highest" || strings.Join(is.Components, ",") != "Payments" || is.Assignee != "5b10ac8d82e05b22cc7d4ef5" {
				t.Errorf("priority %q components %q assignee %q", is.Priority, is.Components, is.Assignee)
			}
			reqs := e.fake.Requests()
			var sent []byte
			for _, r := range reqs {
				if r.Method == http.MethodPost {
					sent = r.Body
					if r.Path != tt.path {
						t.Errorf("created via %s, want %s", r.Path, tt.path)
					}
				}
			}
			var body struct {
				Fields map[string]json.RawMessage
			}
			if err := json.Unmarshal(sent, &body); err != nil {
				t.Fatal(err)
			}
			if got := string(body.Fields["assignee"]); got != tt.assignee {
				t.Errorf("assignee sent as %s, want %s", got, tt.assignee)
			}
			_, isString := is.Description.(string)
			if isString != (tt.flavor == jiratest.DataCenter) {
				t.Errorf("description stored as %T", is.Description)
			}
		})
	}
}

func TestCreateErrors(t *testing.T) {
	rate := func(status int, retryAfter string, times int) *jiratest.Fault {
		f := &jiratest.Fault{Status: status, Times: times, Body: `{"errorMessages":["Rate limit exceeded."]}`}
		if retryAfter != "" {
			f.Header = http.Header{"Retry-After": {retryAfter}}
		}
		return f
	}
	tests := []struct {
		name      string
		fault     *jiratest.Fault
		priority  string
		status    int // 0: the create succeeds
		retryable bool
		unknown   bool
		want      string
		posts     int
		sleeps    []time.Duration
	}{
		{name: "jira's field error surfaces", priority: "Bogus", status: 400, want: "priority: Priority name 'Bogus' is not valid", posts: 1},
		{name: "503 is not retried and may have happened", fault: &jiratest.Fault{Status: 503, Body: `{"errorMessages":["busy"],"errors":{}}`}, status: 503, retryable: true, unknown: true, want: "busy", posts: 1},
		// A 429 is a refusal: nothing was made, so it is sent again after
		// the wait Jira asks for, in the same run.
		{name: "429 with Retry-After is retried in the run", fault: rate(429, "1", 1), posts: 2, sleeps: []time.Duration{time.Second}},
		{name: "503 with Retry-After is a refusal too", fault: rate(503, "2", 1), posts: 2, sleeps: []time.Duration{2 * time.Second}},
		{name: "429 that outlasts the retries is a definite rejection", fault: rate(429, "3", 10), status: 429, retryable: true, want: "retry after 3s",
			posts: 5, sleeps: []time.Duration{3 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second}},
		{name: "a wait beyond the bound is not slept", fault: rate(429, "120", 1), status: 429, retryable: true, want: "retry after 2m0s", posts: 1},
		{name: "lost response", fault: &jiratest.Fault{Status: 504, Apply: true, Header: http.Header{"Content-Type": {"text/html"}}, Body: "<html>Gateway Timeout</html>"}, status: 504, retryable: true, unknown: true, want: "504 Gateway Timeout", posts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, jiratest.Cloud, jiratest.Options{})
			if tt.fault != nil {
				tt.fault.Method, tt.fault.Path = http.MethodPost, "/rest/api/3/issue"
				e.fake.Fail(*tt.fault)
			}
			nt := newTicket("0123456789abcdef")
			if tt.priority != "" {
				nt.Priority = tt.priority
			}
			_, err := e.tr.Create(context.Background(), nt)
			if n := e.fake.Count(http.MethodPost, "/rest/api/3/issue"); n != tt.posts {
				t.Errorf("%d POST /issue, want %d", n, tt.posts)
			}
			if got := e.clock.Sleeps(); fmt.Sprint(got) != fmt.Sprint(tt.sleeps) {
				t.Errorf("slept %v, want %v", got, tt.sleeps)
			}
			if tt.status == 0 {
				if err != nil || len(e.fake.Issues()) != 1 {
					t.Fatalf("err = %v, issues = %d; want exactly one issue", err, len(e.fake.Issues()))
				}
				return
			}
			je := asError(t, err)
			if je.Status != tt.status || je.Retryable() != tt.retryable || je.Unknown != tt.unknown || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v (status %d retryable %v unknown %v)", err, je.Status, je.Retryable(), je.Unknown)
			}
			if poller.Retryable(err) != tt.retryable || poller.OutcomeUnknown(err) != tt.unknown {
				t.Errorf("poller.Retryable = %v, poller.OutcomeUnknown = %v", poller.Retryable(err), poller.OutcomeUnknown(err))
			}
		})
	}
}

// TestCreateLongDescription checks that a description over Jira's limit
// is cut with a marker rather than rejected.
func TestCreateLongDescription(t *testing.T) {
	for _, flavor := range []jiratest.Flavor{jiratest.Cloud, jiratest.DataCenter} {
		t.Run(string(flavor), func(t *testing.T) {
			e := setup(t, flavor, jiratest.Options{})
			nt := newTicket("0123456789abcdef")
			nt.Description.Sections = append(nt.Description.Sections, poller.Section{Heading: "Raw", Pre: strings.Repeat("{\"a\":\"<&>\"}\n", 5000)})
			tk, err := e.tr.Create(context.Background(), nt)
			if err != nil {
				t.Fatal(err)
			}
			is, _ := e.fake.Issue(tk.Key)
			text := jiratest.PlainText(is.Description)
			if !strings.Contains(text, "to fit Jira's field limit") || !strings.Contains(text, "StopLogging") {
				t.Errorf("description lacks the cut marker or the start:\n%.300s", text)
			}
		})
	}
}
