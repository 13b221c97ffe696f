package jira

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	gojira "github.com/andygrunwald/go-jira"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/jira/jiratest"
)

// seed stores issues updated at the given offsets from the clock's now.
func seed(t *testing.T, e *env, label string, offsets ...time.Duration) []string {
	t.Helper()
	var keys []string
	for i, off := range offsets {
		at := e.clock.Now().Add(off)
		keys = append(keys, e.fake.AddIssue(jiratest.Issue{
			Summary: fmt.Sprintf("issue %d", i), Labels: []string{label}, Created: at.Add(-time.Hour), Updated: at,
		}))
	}
	return keys
}

func keysOf(ts []poller.Ticket) string {
	var ks []string
	for _, t := range ts {
		ks = append(ks, t.Key)
	}
	return strings.Join(ks, ",")
}

func TestPoll(t *testing.T) {
	tests := []struct {
		name   string
		flavor jiratest.Flavor
		zone   string
		path   string // the search endpoint that must be used
	}{
		{"cloud behind UTC", jiratest.Cloud, "America/Los_Angeles", "/rest/api/2/search/jql"},
		{"cloud ahead of UTC", jiratest.Cloud, "Australia/Sydney", "/rest/api/2/search/jql"},
		{"datacenter behind UTC", jiratest.DataCenter, "America/New_York", "/rest/api/2/search"},
		{"datacenter in UTC", jiratest.DataCenter, "UTC", "/rest/api/2/search"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, tt.flavor, jiratest.Options{TimeZone: tt.zone, MaxPage: 2})
			since := e.clock.Now() // 08:01:02.345 UTC
			// Before since, in since's minute, after since, much later; one
			// without the label; and one in another project's sense: none.
			keys := seed(t, e, "patrol", -2*time.Hour, -90*time.Second, -2*time.Second, 3*time.Second, time.Minute, 5*time.Hour, 26*time.Hour)
			e.fake.AddIssue(jiratest.Issue{Summary: "unlabelled", Updated: since.Add(time.Minute)})

			got, err := e.tr.Poll(context.Background(), since)
			if err != nil {
				t.Fatal(err)
			}
			// From the start of since's minute (JQL has minute precision);
			// the caller dedupes the one just before since.
			want := strings.Join(keys[2:], ",")
			if keysOf(got) != want {
				t.Fatalf("polled %s, want %s", keysOf(got), want)
			}
			for i := 1; i < len(got); i++ {
				if got[i].Updated.Before(got[i-1].Updated) {
					t.Errorf("not oldest update first: %v", got)
				}
			}
			if !got[0].Updated.Equal(since.Add(-2 * time.Second)) {
				t.Errorf("updated = %v, want Jira's exact %v", got[0].Updated, since.Add(-2*time.Second))
			}
			if n := e.fake.Count(http.MethodGet, tt.path); n < 3 {
				t.Errorf("%d requests to %s, want paging over at least 3 pages", n, tt.path)
			}
			for _, r := range e.fake.Requests() {
				if strings.HasPrefix(r.Path, "/rest/api/2/search") && r.Path != tt.path {
					t.Errorf("used %s on %s", r.Path, tt.flavor)
				}
				if r.Path == tt.path {
					jql := r.Query.Get("jql")
					lit := since.In(mustZone(t, tt.zone)).Format("2006/01/02 15:04")
					wantJQL := `project = "SEC" AND labels = "patrol" AND updated >= "` + lit + `" ORDER BY updated ASC, key ASC`
					if jql != wantJQL {
						t.Errorf("jql = %s\nwant  %s", jql, wantJQL)
					}
					if !strings.Contains(r.Query.Get("fields"), "updated") {
						t.Errorf("search without fields: %v", r.Query)
					}
				}
			}
		})
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	z, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// TestPollUTCLiteralWouldMiss shows what the account zone protects
// against: the same instant written in UTC is read in the account's zone,
// seven hours later, and the search misses the issue.
func TestPollUTCLiteralWouldMiss(t *testing.T) {
	e := setup(t, jiratest.Cloud, jiratest.Options{TimeZone: "America/Los_Angeles"})
	seed(t, e, "patrol", time.Minute)
	c := e.tr.client
	utc := e.clock.Now().UTC().Format(jqlLayout)
	issues, _, err := c.Issue.SearchV2JQL(`project = SEC AND updated >= "`+utc+`"`, &gojira.SearchOptionsV2{Fields: []string{"updated"}})
	if err != nil || len(issues) != 0 {
		t.Fatalf("UTC literal found %d issues (err %v); the fake should read it as Los Angeles time", len(issues), err)
	}
	got, err := e.tr.Poll(context.Background(), e.clock.Now())
	if err != nil || len(got) != 1 {
		t.Fatalf("Poll found %d (err %v), want 1", len(got), err)
	}
}

func TestJQLTime(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	tests := []struct {
		name  string
		since time.Time
		zone  *time.Location
		want  string
	}{
		{"utc floors to the minute", time.Date(2026, 11, 22, 8, 1, 59, 999e6, time.UTC), time.UTC, "2026/11/22 08:01"},
		{"account zone", time.Date(2026, 11, 22, 8, 1, 2, 0, time.UTC), mustZone(t, "Australia/Sydney"), "2026/11/22 19:01"},
		// DST ends 2026-11-01 02:00 EDT: 01:00-01:59 happens twice. 05:30
		// UTC is 01:30 EDT, the first time round; Jira could read "01:30"
		// as 01:30 EST, an hour later, so step back.
		{"ambiguous first 01:30", time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC), ny, "2026/11/01 00:30"},
		// 06:30 UTC is 01:30 EST, the second time: both readings are <= since.
		{"ambiguous second 01:30", time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC), ny, "2026/11/01 01:30"},
		// DST starts 2026-03-08 02:00 EST: 07:30 UTC is 03:30 EDT.
		{"after the spring gap", time.Date(2026, 3, 8, 7, 30, 0, 0, time.UTC), ny, "2026/03/08 03:30"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := jqlTime(tt.since, tt.zone)
			if got != tt.want {
				t.Fatalf("jqlTime = %s, want %s", got, tt.want)
			}
			if r := latestReading(got, tt.zone, tt.since); r.After(tt.since) {
				t.Fatalf("literal %s can be read as %v, after since %v", got, r, tt.since)
			}
		})
	}
}

// TestFindEventualConsistency plays the caller's crash-safe create against
// a Cloud whose search lags five minutes behind writes: at no point may a
// second ticket for the fingerprint be made.
func TestFindEventualConsistency(t *testing.T) {
	e := setup(t, jiratest.Cloud, jiratest.Options{IndexLag: 5 * time.Minute}, func(c *Config) { c.IndexLag = "5m" })
	ctx := context.Background()
	fpLabel := "patrol-fp-0123456789abcdef"

	// ensure is what the caller does for a pending alert: look, then make.
	ensure := func(tr *Tracker) (created bool, err error) {
		found, err := tr.Find(ctx, fpLabel)
		if err != nil {
			return false, err // cannot say: try on the next run
		}
		if len(found) > 0 {
			return false, nil
		}
		_, err = tr.Create(ctx, newTicket("0123456789abcdef"))
		return err == nil, err
	}

	// Created in this process: search cannot see it yet, Find still does.
	if created, err := ensure(e.tr); !created || err != nil {
		t.Fatalf("first ensure: created %v err %v", created, err)
	}
	found, err := e.tr.Find(ctx, fpLabel)
	if err != nil || len(found) != 1 {
		t.Fatalf("Find right after create = %d tickets (err %v), want 1", len(found), err)
	}
	polled, err := e.tr.Poll(ctx, e.clock.Now().Add(-time.Minute))
	if err != nil || len(polled) != 1 {
		t.Fatalf("Poll right after create = %d tickets (err %v), want 1 (reconciled)", len(polled), err)
	}
	if q := e.fake.Requests()[len(e.fake.Requests())-1].Query.Get("reconcileIssues"); q != found[0].ID {
		t.Errorf("reconcileIssues = %q, want %s", q, found[0].ID)
	}

	// A restarted process, no memory, index still behind: search alone
	// misses the issue; that is why the caller keeps its own ledger and
	// waits past the index lag after a crash.
	restarted := newTracker(t, e, jiratest.Cloud, func(c *Config) { c.IndexLag = "5m" })
	if found, err := restarted.Find(ctx, fpLabel); err != nil || len(found) != 0 {
		t.Fatalf("fresh Find during index lag = %d (err %v); the fake should hide it", len(found), err)
	}
	e.clock.Advance(6 * time.Minute)
	if created, err := ensure(restarted); created || err != nil {
		t.Fatalf("ensure after the lag: created %v err %v, want found", created, err)
	}

	// A create whose response is lost: the issue exists, the caller does
	// not know it. Find must not say "none" while search may lag.
	fp2 := "patrol-fp-fedcba9876543210"
	e.fake.Fail(jiratest.Fault{Method: http.MethodPost, Path: "/rest/api/3/issue", Status: http.StatusGatewayTimeout, Apply: true})
	nt := newTicket("fedcba9876543210")
	if _, err := restarted.Create(ctx, nt); err == nil || !asError(t, err).Unknown {
		t.Fatalf("lost create: err = %v, want an unknown outcome", err)
	}
	if _, err := restarted.Find(ctx, fp2); err == nil || !poller.Retryable(err) {
		t.Fatalf("Find after an unknown create = %v, want a retryable 'cannot say'", err)
	}
	e.clock.Advance(6 * time.Minute)
	found, err = restarted.Find(ctx, fp2)
	if err != nil || len(found) != 1 {
		t.Fatalf("Find after the lag = %d (err %v), want the issue the lost create made", len(found), err)
	}

	n := map[string]int{}
	for _, is := range e.fake.Issues() {
		for _, l := range is.Labels {
			n[l]++
		}
	}
	if n[fpLabel] != 1 || n[fp2] != 1 {
		t.Fatalf("tickets per fingerprint: %v, want exactly one each", n)
	}
}

func TestSearchFailuresAreErrors(t *testing.T) {
	tests := []struct {
		name   string
		flavor jiratest.Flavor
		fault  jiratest.Fault
		sleeps []time.Duration
		want   string // "" means success
	}{
		{"429 honours Retry-After", jiratest.Cloud,
			jiratest.Fault{Path: "/rest/api/2/search/jql", Status: 429, Header: http.Header{"Retry-After": {"7"}}, Body: `{"errorMessages":["Rate limit exceeded."]}`},
			[]time.Duration{7 * time.Second}, ""},
		{"429 honours X-RateLimit-Reset", jiratest.Cloud,
			jiratest.Fault{Path: "/rest/api/2/search/jql", Status: 429, Header: http.Header{"X-RateLimit-Reset": {"2026-11-22T08:01:32.345Z"}}},
			[]time.Duration{30 * time.Second}, ""},
		{"429 on Data Center with an HTML page", jiratest.DataCenter,
			jiratest.Fault{Path: "/rest/api/2/search", Status: 429, Header: http.Header{"Retry-After": {"2"}, "Content-Type": {"text/html"}}, Body: "<!doctype html><title>HTTP Status 429</title>"},
			[]time.Duration{2 * time.Second}, ""},
		{"a Retry-After too long goes back to the job", jiratest.Cloud,
			jiratest.Fault{Path: "/rest/api/2/search/jql", Status: 429, Header: http.Header{"Retry-After": {"600"}}},
			nil, "retry after 10m0s"},
		{"5xx is retried until max_retries", jiratest.Cloud,
			jiratest.Fault{Path: "/rest/api/2/search/jql", Status: 502, Times: 5, Body: "bad gateway"},
			[]time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 30 * time.Second}, "502 Bad Gateway"},
		{"4xx is not retried", jiratest.Cloud,
			jiratest.Fault{Path: "/rest/api/2/search/jql", Status: 400, Body: `{"errorMessages":["Error in the JQL Query: bad"],"errors":{}}`},
			nil, "Error in the JQL Query: bad"},
		{"a page neither last nor with a token", jiratest.Cloud,
			jiratest.Fault{Path: "/rest/api/2/search/jql", Status: 200, Body: `{"issues":[],"isLast":false}`},
			nil, "has no nextPageToken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, tt.flavor, jiratest.Options{})
			e.tr.doer.jitter = func() float64 { return 0.5 } // the nominal backoff
			seed(t, e, "patrol-fp-0123456789abcdef", 0)
			e.fake.Fail(tt.fault)
			found, err := e.tr.Find(context.Background(), "patrol-fp-0123456789abcdef")
			if tt.want == "" {
				if err != nil || len(found) != 1 {
					t.Fatalf("Find = %d tickets, err %v", len(found), err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tt.want) || found != nil {
				t.Fatalf("Find = %v, err %v, want an error with %q and no tickets", found, err, tt.want)
			}
			if got := e.clock.Sleeps(); fmt.Sprint(got) != fmt.Sprint(tt.sleeps) {
				t.Errorf("slept %v, want %v", got, tt.sleeps)
			}
		})
	}
}

// TestCloudSearchQuirks pins the fake's Cloud behaviour that the Tracker
// is built around, through go-jira itself.
func TestCloudSearchQuirks(t *testing.T) {
	e := setup(t, jiratest.Cloud, jiratest.Options{})
	seed(t, e, "patrol", 0)
	c := e.tr.client
	if _, _, err := c.Issue.Search("project = SEC", nil); err == nil || !strings.Contains(err.Error(), "The requested API has been removed") {
		t.Errorf("legacy search on Cloud: err = %v, want the 410 body", err)
	}
	issues, _, err := c.Issue.SearchV2JQL("project = SEC", nil)
	if err != nil || len(issues) != 1 || issues[0].Fields != nil || issues[0].ID == "" {
		t.Errorf("search/jql without fields = %+v (err %v), want ids only", issues, err)
	}
	if _, _, err := c.Issue.SearchV2JQL("ORDER BY key DESC", nil); err == nil || !strings.Contains(err.Error(), "Unbounded JQL") {
		t.Errorf("unbounded JQL: err = %v, want 400", err)
	}
	dc := setup(t, jiratest.DataCenter, jiratest.Options{})
	if _, resp, err := dc.tr.client.Issue.SearchV2JQL("project = SEC", nil); err == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("search/jql on Data Center: err = %v, want 404", err)
	}
}

// TestPollReplaysRecordedPages feeds the Tracker three recorded Cloud
// search pages (the last with an empty nextPageToken).
func TestPollReplaysRecordedPages(t *testing.T) {
	pages := map[string]string{"": "search_page1.json", "token-page-2": "search_page2_mid.json", "token-page-3": "search_page3.json"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		switch r.URL.Path {
		case "/rest/api/2/myself":
			fmt.Fprint(w, `{"accountId":"557058:bot","timeZone":"Europe/Berlin"}`)
		case "/rest/api/2/search/jql":
			b, err := os.ReadFile("testdata/samples/" + pages[r.URL.Query().Get("nextPageToken")])
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			_, _ = w.Write(b)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	t.Setenv("TEST_JIRA_TOKEN", "t")
	t.Setenv("TEST_JIRA_USER", "u")
	cfg := Defaults()
	cfg.URL, cfg.TokenEnv, cfg.UserEnv, cfg.Project, cfg.AllowInsecureHTTP = srv.URL, "TEST_JIRA_TOKEN", "TEST_JIRA_USER", "TEST", true
	tr, err := New(cfg, Options{Label: "patrol"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := tr.Poll(context.Background(), time.Date(2020, 12, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if keysOf(got) != "TEST-1,TEST-2,TEST-3,TEST-4" {
		t.Fatalf("keys = %s", keysOf(got))
	}
	want := time.Date(2020, 12, 3, 13, 5, 20, 974e6, time.UTC)
	if !got[0].Updated.Equal(want) || got[1].Status != "In Progress" || strings.Join(got[1].Labels, ",") != "critical,feature" {
		t.Errorf("first = %+v, second = %+v", got[0], got[1])
	}
}

// TestPollDataCenterIssuesMovingWhilePaging updates issues between pages:
// with ORDER BY updated, each moves to the end and shifts the rest back,
// which plain startAt paging would turn into a skipped issue.
func TestPollDataCenterIssuesMovingWhilePaging(t *testing.T) {
	tests := []struct {
		name  string
		moves map[int][]int // search number → indexes of issues to update before it
	}{
		{"one moves", map[int][]int{2: {0}}},
		{"several move on several pages", map[int][]int{2: {0, 1}, 3: {2}}},
		{"more move than the overlap covers", map[int][]int{2: {0, 1, 2, 3, 4, 5, 6}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, jiratest.DataCenter, jiratest.Options{MaxPage: 4})
			keys := seed(t, e, "patrol", -9*time.Minute, -8*time.Minute, -7*time.Minute, -6*time.Minute, -5*time.Minute, -4*time.Minute, -3*time.Minute, -2*time.Minute, -time.Minute, 0)
			e.fake.OnSearch(func(n int) {
				for _, i := range tt.moves[n] {
					e.clock.Advance(time.Second)
					_ = e.fake.AddLabel(keys[i], fmt.Sprintf("moved-%d", n), "alice")
				}
			})
			got, err := e.tr.Poll(context.Background(), e.clock.Now().Add(-time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, tk := range got {
				if seen[tk.Key] {
					t.Errorf("%s returned twice", tk.Key)
				}
				seen[tk.Key] = true
			}
			for _, k := range keys {
				if !seen[k] {
					t.Errorf("%s skipped; polled %s", k, keysOf(got))
				}
			}
		})
	}
}
