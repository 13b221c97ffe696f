package splunk

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/splunk/splunktest"
)

// TestFailuresAreErrors: every way Splunk can fail or leave the result set
// in doubt returns an error, also after some rows were emitted, and the job
// is still deleted.
func TestFailuresAreErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		plan      splunktest.JobPlan
		fault     *splunktest.Fault
		spl       string
		rows      int
		edit      func(*Config)
		want      string
		retryable bool
		noJob     bool // the failure comes before a job exists
	}{
		{name: "unknown command", spl: "index=aws | nosuchcmd", want: "HTTP 400: FATAL Unknown search command 'nosuchcmd'.", noJob: true},
		{name: "forbidden", fault: &splunktest.Fault{Endpoint: splunktest.Dispatch, Status: 403, Text: "You do not have permission to dispatch"},
			want: "HTTP 403: ERROR You do not have permission to dispatch", noJob: true},
		{name: "job failed", plan: splunktest.JobPlan{State: "FAILED", Messages: []splunktest.Message{{Type: "FATAL", Text: "Error in 'eval' command"}}},
			want: "failed (dispatchState FAILED): FATAL Error in 'eval' command"},
		{name: "isFailed while DONE", plan: splunktest.JobPlan{Failed: true}, want: "failed (dispatchState DONE)"},
		{name: "zombie", plan: splunktest.JobPlan{Zombie: true}, want: "zombie", retryable: true},
		{name: "user cancel", plan: splunktest.JobPlan{State: "USER_CANCEL"}, want: "cancelled (dispatchState USER_CANCEL)", retryable: true},
		{name: "internal cancel", plan: splunktest.JobPlan{State: "INTERNAL_CANCEL"}, want: "cancelled", retryable: true},
		{name: "bad input cancel", plan: splunktest.JobPlan{State: "BAD_INPUT_CANCEL"}, want: "cancelled"},
		{name: "quit", plan: splunktest.JobPlan{State: "QUIT"}, want: "cancelled (dispatchState QUIT)", retryable: true},
		{name: "error message", plan: splunktest.JobPlan{Messages: []splunktest.Message{{Type: "ERROR", Text: "Search results might be incomplete: peer idx3 ended prematurely"}}},
			want: "reported errors: ERROR Search results might be incomplete"},
		{name: "error message as dict", plan: splunktest.JobPlan{MessagesAsDict: true, Messages: []splunktest.Message{{Type: "FATAL", Text: "boom"}}},
			want: "reported errors: FATAL boom"},
		// Splunk reports a search peer it could not search as a WARN (or
		// INFO) and still answers DONE: the results may lack that peer's
		// events, so the window must not count as searched.
		{name: "peer down (WARN)", plan: splunktest.JobPlan{Messages: []splunktest.Message{{Type: "WARN",
			Text: `Unable to distribute to peer named idx2 at uri https://10.0.0.12:8089 because peer has status = "Down". Please verify uri and/or peer status.`}}},
			want: "results may be incomplete: WARN Unable to distribute to peer named idx2", retryable: true},
		{name: "peers down (dict)", plan: splunktest.JobPlan{MessagesAsDict: true, Messages: []splunktest.Message{{Type: "WARN",
			Text: "The following search peers are down: idx2, idx3. Search results might be incomplete."}}},
			want: "results may be incomplete: WARN The following search peers are down", retryable: true},
		{name: "peer timed out (INFO)", plan: splunktest.JobPlan{Messages: []splunktest.Message{{Type: "INFO",
			Text: "Timed out waiting for peer idx4. Search results might be incomplete! If this occurs frequently, receiveTimeout in distsearch.conf might need to be increased."}}},
			want: "results may be incomplete: INFO Timed out waiting for peer idx4", retryable: true},
		{name: "peer search ended early, in results", plan: splunktest.JobPlan{ResultMessages: []splunktest.Message{{Type: "WARN",
			Text: "[idx3] Search process did not exit cleanly, exit_code=255, description=\"exited with code 255\". Please look in search.log for this peer in the Job Inspector for more info."}}},
			want: "results may be incomplete: WARN [idx3] Search process did not exit cleanly", retryable: true},
		{name: "finalized", plan: splunktest.JobPlan{Finalized: true}, want: "finalized before it finished", retryable: true},
		{name: "max_count reached", rows: 20, edit: func(c *Config) { c.MaxCount = 10 }, want: "results truncated: 10 results reached max_count 10"},
		{name: "events truncated", plan: splunktest.JobPlan{EventTruncated: true}, want: "events truncated"},
		{name: "more reported than sent", rows: 250, plan: splunktest.JobPlan{CountDelta: 1}, want: "results ended at 250 of the 251", retryable: true},
		{name: "rows dropped", rows: 250, plan: splunktest.JobPlan{DropRows: 1}, want: "results ended at 249 of the 250", retryable: true},
		{name: "fewer reported than sent", rows: 250, plan: splunktest.JobPlan{CountDelta: -1}, want: "more results than the 249", retryable: true},
		{name: "empty 200", plan: splunktest.JobPlan{EmptyResults: true}, want: "empty answer where results from 0 of 3 were expected", retryable: true},
		{name: "error in results", plan: splunktest.JobPlan{ResultMessages: []splunktest.Message{{Type: "ERROR", Text: "lookup table missing"}}},
			want: "results carry errors: ERROR lookup table missing"},
		{name: "job expired before results", plan: splunktest.JobPlan{ExpireBeforeResults: true}, want: "HTTP 404: job is gone", retryable: true},
		{name: "job 404 while polling", fault: &splunktest.Fault{Endpoint: splunktest.Status, Status: 404, Text: "Unknown sid.", Type: "FATAL"},
			want: "HTTP 404: job is gone (expired, cancelled or deleted): FATAL Unknown sid.", retryable: true},
		{name: "results never ready", plan: splunktest.JobPlan{ResultsNotReady: 100}, want: "results still not ready", retryable: true},
		{name: "5xx beyond retries", fault: &splunktest.Fault{Endpoint: splunktest.Results, Status: 502, Text: "Bad Gateway", Times: 100},
			edit: func(c *Config) { c.MaxRetries = 2 }, want: "HTTP 502: ERROR Bad Gateway", retryable: true},
		{name: "bad bearer token", fault: &splunktest.Fault{Endpoint: splunktest.Dispatch, Status: 401, Text: "call not properly authenticated", Type: "WARN"},
			want: "HTTP 401: WARN call not properly authenticated", noJob: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, splunktest.Options{}, func(c *Config) {
				c.PageSize = 100
				if tc.edit != nil {
					tc.edit(c)
				}
			})
			rows := tc.rows
			if rows == 0 {
				rows = 3
			}
			e.fake.Generate(rows, func(i int) splunktest.Event {
				return splunktest.Event{Time: t0, Fields: map[string][]string{"i": {strconv.Itoa(i)}}}
			})
			if tc.plan.State != "" || !isZeroPlan(tc.plan) {
				tc.plan.Queued, tc.plan.Running = 1, 1
				e.fake.PlanJobs(tc.plan)
			}
			if tc.fault != nil {
				e.fake.Fail(*tc.fault)
			}
			spl := tc.spl
			if spl == "" {
				spl = "index=aws"
			}
			got, err := e.search(query(spl))
			if err == nil {
				t.Fatalf("no error after %d results", len(got))
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q\nwant it to contain %q", err, tc.want)
			}
			if poller.Retryable(err) != tc.retryable {
				t.Errorf("Retryable = %v, want %v", poller.Retryable(err), tc.retryable)
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Errorf("err is %T, want *Error", err)
			}
			sids := e.fake.Sids()
			if tc.noJob != (len(sids) == 0) {
				t.Errorf("jobs created: %v", sids)
			}
			if live := e.fake.Stats().LiveJobs; live != 0 {
				t.Errorf("%d jobs left behind", live)
			}
		})
	}
}

func isZeroPlan(p splunktest.JobPlan) bool {
	return p.State == "" && !p.Failed && !p.Zombie && !p.Finalized && !p.EventTruncated &&
		p.Messages == nil && p.ResultMessages == nil && p.CountDelta == 0 && p.DropRows == 0 &&
		!p.EmptyResults && p.ResultsNotReady == 0 && !p.ExpireBeforeResults
}

// TestPartialEmitIsNotSuccess: rows already handed to emit do not make a
// failed search look successful.
func TestPartialEmitIsNotSuccess(t *testing.T) {
	e := newEnv(t, splunktest.Options{}, func(c *Config) { c.PageSize = 100 })
	e.fake.Generate(250, func(i int) splunktest.Event { return splunktest.Event{Time: t0} })
	e.fake.PlanJobs(splunktest.JobPlan{DropRows: 10})
	got, err := e.search(query("index=aws"))
	if err == nil || len(got) != 240 {
		t.Fatalf("emitted %d, err %v: want 240 emitted and an error", len(got), err)
	}
}

func TestEmitErrorStopsSearch(t *testing.T) {
	e := newEnv(t, splunktest.Options{}, func(c *Config) { c.PageSize = 100 })
	e.fake.Generate(250, func(i int) splunktest.Event { return splunktest.Event{Time: t0} })
	stop := errors.New("ledger full")
	n := 0
	err := e.s.Search(t.Context(), query("index=aws"), func(poller.Result) error {
		n++
		if n == 120 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Fatalf("err = %v, want emit's error untouched", err)
	}
	if sids := e.fake.Sids(); !e.fake.Deleted(sids[0]) {
		t.Error("job not deleted after emit failed")
	}
	for _, r := range e.fake.Requests() {
		if r.Endpoint == splunktest.Results && r.Form.Get("offset") == "200" {
			t.Error("kept paging after emit failed")
		}
	}
}

// TestCancelDeletesJob: a search cancelled while its job runs returns the
// context's error and still deletes the job.
func TestCancelDeletesJob(t *testing.T) {
	e := newEnv(t, splunktest.Options{}, nil)
	hold := make(chan struct{})
	defer close(hold)
	e.fake.PlanJobs(splunktest.JobPlan{Hold: hold})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := e.searchCtx(ctx, query("index=aws"))
		done <- err
	}()
	if err := e.fake.Await(t.Context(), func(s splunktest.Stats) bool { return s.Held == 1 }); err != nil {
		t.Fatal(err)
	}
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if err := e.fake.Await(t.Context(), func(s splunktest.Stats) bool { return s.LiveJobs == 0 }); err != nil {
		t.Fatal(err)
	}
	if !e.fake.Deleted(e.fake.Sids()[0]) {
		t.Error("cancelled job not deleted")
	}
}

// TestTimeout: a job that never finishes ends with the search's deadline.
func TestTimeout(t *testing.T) {
	e := newEnv(t, splunktest.Options{}, nil)
	hold := make(chan struct{})
	defer close(hold)
	e.fake.PlanJobs(splunktest.JobPlan{Hold: hold})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := e.searchCtx(ctx, query("index=aws"))
	if !errors.Is(err, context.DeadlineExceeded) || !poller.Retryable(err) {
		t.Fatalf("err = %v (retryable %v), want a retryable deadline error", err, poller.Retryable(err))
	}
	if err := e.fake.Await(t.Context(), func(s splunktest.Stats) bool { return s.LiveJobs == 0 }); err != nil {
		t.Fatal(err)
	}
}

func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fault     splunktest.Fault
		wantWaits int
		minWait   time.Duration
		maxWait   time.Duration
	}{
		{"quota 503", splunktest.QuotaFault(3), 3, time.Second, 4 * time.Second},
		{"quota text in a 400", splunktest.Fault{Endpoint: splunktest.Dispatch, Status: 400, Text: "This search could not be dispatched because the role-based concurrency limit of historical searches for user \"svc\" has been reached (usage=3, quota=3)."}, 1, time.Second, 2 * time.Second},
		{"5xx on status", splunktest.Fault{Endpoint: splunktest.Status, Status: 500, Text: "Internal Server Error", Times: 2}, 2, 500 * time.Millisecond, 2 * time.Second},
		{"5xx on results", splunktest.Fault{Endpoint: splunktest.Results, Status: 503, Text: "Service Unavailable"}, 1, 500 * time.Millisecond, time.Second},
		{"Retry-After", splunktest.Fault{Endpoint: splunktest.Dispatch, Status: 503, Text: "busy", RetryAfter: "7"}, 1, 7 * time.Second, 7 * time.Second},
		{"429", splunktest.Fault{Endpoint: splunktest.Dispatch, Status: 429, Text: "Too Many Requests"}, 1, 500 * time.Millisecond, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, splunktest.Options{}, func(c *Config) { c.PollInterval = "1h" })
			e.fake.Add(ev(t0.Add(-time.Minute), "a", "1"))
			e.fake.Fail(tc.fault)
			got, err := e.search(query("*"))
			if err != nil || len(got) != 1 {
				t.Fatalf("got %d results, err %v", len(got), err)
			}
			var waits []time.Duration
			for _, d := range e.recordedSleeps() {
				if d < time.Hour { // the rest are status polls
					waits = append(waits, d)
				}
			}
			if len(waits) != tc.wantWaits {
				t.Fatalf("backoff waits %v, want %d", waits, tc.wantWaits)
			}
			for i, d := range waits {
				if d < tc.minWait || d > tc.maxWait<<i {
					t.Errorf("wait %d = %v, want within [%v, %v]", i, d, tc.minWait, tc.maxWait<<i)
				}
			}
			if !strings.Contains(e.logs.String(), "will be retried") {
				t.Error("retry not logged")
			}
		})
	}
}

func TestBackoffGrowsAndCaps(t *testing.T) {
	s := &Searcher{jitter: func() float64 { return 1 }}
	var got []time.Duration
	for a := range 8 {
		got = append(got, s.backoff(a, &Error{Quota: true}))
	}
	want := []time.Duration{2, 4, 8, 16, 32, 60, 60, 60}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Errorf("quota backoff %d = %v, want %vs", i, got[i], want[i])
		}
	}
	s.jitter = func() float64 { return 0 }
	if d := s.backoff(0, &Error{Status: 500}); d != 500*time.Millisecond {
		t.Errorf("5xx first backoff with zero jitter = %v, want 500ms (never a hot loop)", d)
	}
	if d := s.backoff(0, &Error{Status: 503, RetryAfter: 90 * time.Second}); d != 90*time.Second {
		t.Errorf("Retry-After not honoured: %v", d)
	}
}

func TestHTTPErrorClassification(t *testing.T) {
	for _, tc := range []struct {
		status    int
		body      string
		retryable bool
		quota     bool
		text      string
	}{
		{503, `{"messages":[{"type":"WARN","text":"` + splunktest.QuotaText + `"}]}`, true, true, "maximum number of concurrent"},
		{500, `<response><messages><msg type="ERROR">Internal &amp; error</msg></messages></response>`, true, false, "Internal & error"},
		{400, `{"messages":[{"type":"FATAL","text":"Unknown search command 'x'."}]}`, false, false, "Unknown search command 'x'."},
		{403, `Forbidden`, false, false, "Forbidden"},
		{507, `{"messages":[{"type":"ERROR","text":"Your maximum disk usage quota has been reached."}]}`, true, true, "disk usage quota"},
		{404, ``, false, false, ""},
	} {
		resp := &http.Response{StatusCode: tc.status, Header: http.Header{}}
		e := httpError("dispatch", "", resp, []byte(tc.body), time.Now())
		if e.Retryable() != tc.retryable || e.Quota != tc.quota || !strings.Contains(e.Error(), tc.text) {
			t.Errorf("%d %s: retryable %v quota %v text %q", tc.status, tc.body, e.Retryable(), e.Quota, e.Error())
		}
	}
	if d := retryAfter(time.Unix(1000, 0).UTC().Add(30*time.Second).Format(http.TimeFormat), time.Unix(1000, 0)); d != 30*time.Second {
		t.Errorf("Retry-After date = %v", d)
	}
}
