package poller_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/jira"
	"github.com/patrolsec/patrol/poller/jira/jiratest"
)

// keyEvents are n key events a second apart, ending 5 minutes ago.
func (e *env) keyEvents(n int) {
	for i := 0; i < n; i++ {
		e.search.add(keyEvent(e.clock.Now().Add(-5*time.Minute-time.Duration(n-i)*time.Second), fmt.Sprintf("user%02d", i), fmt.Sprintf("AKIAKEY%013d", i)))
	}
}

// duplicates counts issues sharing a fingerprint label.
func (e *env) duplicates() int {
	seen, dup := map[string]bool{}, 0
	for _, is := range e.jira.Issues() {
		for _, l := range is.Labels {
			if strings.HasPrefix(l, "patrol-fp-") {
				if seen[l] {
					dup++
				}
				seen[l] = true
			}
		}
	}
	return dup
}

// TestCreateRecoveryWithoutStalls: only an alert whose create had an
// unknown outcome waits for the tracker's index, measured from when the
// outcome became unknown; every other alert of the window is ticketed in
// the same run; a definite rejection is not ambiguous. No alert ever gets
// two tickets.
func TestCreateRecoveryWithoutStalls(t *testing.T) {
	create := "/rest/api/3/issue"
	tests := []struct {
		name  string
		fault jiratest.Fault
		// first: issues after the first run (its failed create fails it);
		// waiting: alerts that later runs leave waiting for the index.
		first, waiting int
		// later: how long until the run that ticketes the rest.
		later time.Duration
	}{
		{name: "answer lost (504 after Jira made the issue)",
			fault: jiratest.Fault{Method: http.MethodPost, Path: create, Status: 504, After: 1, Apply: true, Header: http.Header{"Content-Type": {"text/html"}}, Body: "<html>Gateway Timeout</html>"},
			first: 3, waiting: 1, later: time.Minute},
		{name: "503 without Retry-After (may have been made)",
			fault: jiratest.Fault{Method: http.MethodPost, Path: create, Status: 503, After: 1},
			first: 2, waiting: 1, later: time.Minute},
		{name: "429 outlasting the retries is definite: no wait",
			fault: jiratest.Fault{Method: http.MethodPost, Path: create, Status: 429, After: 1, Times: 5, Header: http.Header{"Retry-After": {"1"}}},
			first: 2, waiting: 0, later: 0},
		{name: "429 with Retry-After: retried in the run",
			fault: jiratest.Fault{Method: http.MethodPost, Path: create, Status: 429, Times: 1, Header: http.Header{"Retry-After": {"1"}}},
			first: 3, waiting: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{mode: "off", jira: jiratest.Options{IndexLag: 30 * time.Second}})
			e.keyEvents(3)
			e.jira.Fail(tt.fault)
			st, err := e.detect()
			if got := len(e.jira.Issues()); got != tt.first || (err == nil) != (tt.first == 3 && tt.waiting == 0) {
				t.Fatalf("first run: %d issues (want %d), %+v, %v", got, tt.first, st, err)
			}
			if tt.waiting > 0 {
				e.clock.Add(tt.later / 2)
				if st, err := e.detect(); err != nil || st.Waiting != tt.waiting {
					t.Fatalf("inside the index lag: %+v %v (waiting is not a failure)", st, err)
				}
				e.clock.Add(tt.later)
			} else if tt.later == 0 && tt.first < 3 {
				e.clock.Add(time.Second) // no wait: the next run creates
			}
			if st, err := e.detect(); err != nil || st.Waiting != 0 {
				t.Fatalf("last run: %+v %v", st, err)
			}
			if got := len(e.jira.Issues()); got != 3 || e.duplicates() != 0 {
				t.Errorf("issues = %d, duplicates = %d; want 3, 0", got, e.duplicates())
			}
			if tt.name == "429 with Retry-After: retried in the run" && fmt.Sprint(e.clock.sleeps) != "[1s]" {
				t.Errorf("slept %v, want the Retry-After", e.clock.sleeps)
			}
		})
	}
}

// crashingTracker makes its tickets, then stops the goroutine that asked
// (runtime.Goexit): patrol dying in the middle of a create, with nothing
// after the call run.
type crashingTracker struct {
	poller.Tracker
	before func() // runs before the create is sent
}

func (c crashingTracker) Create(ctx context.Context, nt poller.NewTicket) (poller.Ticket, error) {
	if c.before != nil {
		c.before()
	}
	c.Tracker.Create(ctx, nt)
	runtime.Goexit()
	return poller.Ticket{}, nil
}

// TestSlowCreateBeforeCrashMakesNoDuplicate: a create that takes 25 s,
// then patrol dies before it records the ticket. Jira's search shows the
// issue 50 s after it was made, less than index_lag (60 s). The alert is
// looked up once the create's deadline (recorded before it was sent) plus
// the index lag have passed, never created again.
func TestSlowCreateBeforeCrashMakesNoDuplicate(t *testing.T) {
	e := newEnv(t, envOptions{mode: "off", jira: jiratest.Options{IndexLag: 50 * time.Second}})
	e.search.add(keyEvent(e.clock.Now().Add(-5*time.Minute), "alice", "AKIAALICE00000000001"))
	start := e.clock.Now()
	crashing := *e.detector
	crashing.Tracker = crashingTracker{Tracker: e.tracker, before: func() { e.clock.Add(25 * time.Second) }}
	done := make(chan struct{})
	go func() {
		defer close(done)
		crashing.Run(context.Background(), e.det)
	}()
	<-done
	if n := len(e.jira.Issues()); n != 1 {
		t.Fatalf("issues after the crash = %d", n)
	}

	// patrol restarts: a new process, knowing only the state file.
	restarted := func() *poller.Detector {
		tr, err := jira.New(trackerConfig(e), jira.Options{Label: "patrol", Now: e.clock.Now, Sleep: e.clock.Sleep, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		d := *e.detector
		d.Tracker, d.Health = tr, nil
		return &d
	}
	for _, at := range []time.Duration{26 * time.Second, 61 * time.Second, 91 * time.Second} {
		e.clock.Add(start.Add(at).Sub(e.clock.Now()))
		st, err := restarted().Run(context.Background(), e.det)
		if err != nil {
			t.Fatalf("run at +%s: %v", at, err)
		}
		if n := len(e.jira.Issues()); n != 1 {
			t.Fatalf("run at +%s made a duplicate: %d issues (waiting %d)", at, n, st.Waiting)
		}
		if at < 90*time.Second && st.Waiting != 1 {
			t.Errorf("run at +%s: waiting = %d, want 1 (deadline +30s, then the index lag)", at, st.Waiting)
		}
	}
	a, _ := e.db.LatestAlert(context.Background(), poller.Fingerprint(e.det.ID, e.det.GroupBy, keyEvent(start, "alice", "AKIAALICE00000000001")))
	if a == nil || a.State != "open" || a.TicketKey != e.issueKeys()[0] {
		t.Errorf("alert: %+v", a)
	}
}

// trackerConfig is env's Jira config (a restarted process rebuilds it).
func trackerConfig(e *env) jira.Config {
	jc := jira.Defaults()
	jc.URL, jc.UserEnv, jc.TokenEnv, jc.Project, jc.AllowInsecureHTTP = e.jira.URL, "T_JIRA_USER", "T_JIRA_TOKEN", "SEC", true
	return jc
}

// TestSelfAlertPendingThenCreate: a self-alert's ticket goes through the
// same path: an answer lost after Jira made it is looked up, not made
// twice, and raised once however often the problem is reported.
func TestSelfAlertPendingThenCreate(t *testing.T) {
	e := newEnv(t, envOptions{jira: jiratest.Options{IndexLag: 30 * time.Second}})
	ctx := context.Background()
	e.jira.Fail(jiratest.Fault{Method: http.MethodPost, Path: "/rest/api/3/issue", Status: 504, Apply: true})
	m := poller.Message{Sections: []poller.Section{{Text: "the search keeps failing"}}}
	if err := e.health.Raise(ctx, "failing:x", "patrol: detection x failed 3 runs in a row", m); err == nil {
		t.Fatal("want the lost answer to surface")
	}
	for _, d := range []time.Duration{10 * time.Second, time.Minute, time.Minute} {
		e.clock.Add(d)
		if err := e.health.Raise(ctx, "failing:x", "patrol: detection x failed 4 runs in a row", m); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.jira.Issues()); n != 1 {
		t.Fatalf("self-alert tickets = %d, want 1", n)
	}
	if err := e.health.Clear(ctx, "failing:x", "ran again"); err != nil {
		t.Fatal(err)
	}
	e.detector.FlushOutbox(ctx)
	if c := e.comments(e.issueKeys()[0]); len(c) != 1 || !strings.Contains(c[0], "ran again") {
		t.Errorf("comments = %q", c)
	}
}
