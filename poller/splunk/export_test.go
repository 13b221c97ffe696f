package splunk

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/splunk/splunktest"
)

func exportEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, splunktest.Options{Now: func() time.Time { return t0.Add(time.Hour) }}, func(c *Config) { c.Export = true })
	for i := range 5 {
		e.fake.Add(ev(t0.Add(-time.Duration(i+1)*time.Minute), "i", strconv.Itoa(i), "index", "aws"))
	}
	return e
}

func TestExport(t *testing.T) {
	e := exportEnv(t)
	got, err := e.search(query("index=aws"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 || got[0].Get("i") != "0" || got[4].Get("i") != "4" {
		t.Fatalf("got %v", got)
	}
	for _, r := range got {
		if _, ok := r[rowCountField]; ok {
			t.Errorf("row count emitted as a result: %v", r)
		}
	}
	d := e.fake.Dispatches()[0]
	if d.Get("search") != "search index=aws | appendpipe [stats count AS __patrol_rows]" {
		t.Errorf("search = %q", d.Get("search"))
	}
	if d.Get("index_earliest") != epoch(t0.Add(-time.Hour)) || d.Get("index_latest") != epoch(t0) {
		t.Errorf("window params: %v", d)
	}
	if len(e.fake.Sids()) != 0 {
		t.Error("export created a job")
	}
	for _, r := range e.fake.Requests() {
		if r.Endpoint != splunktest.Export || r.Form.Get("output_mode") != "json" {
			t.Errorf("request %s %s (%s)", r.Method, r.Path, r.Endpoint)
		}
	}
}

func TestExportPreviewSkipped(t *testing.T) {
	e := exportEnv(t)
	e.fake.PlanJobs(splunktest.JobPlan{ExportPreview: true})
	got, err := e.search(query("index=aws"))
	if err != nil || len(got) != 5 {
		t.Fatalf("got %d rows, err %v; want the 5 final rows only", len(got), err)
	}
}

func TestExportFailures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		plan      *splunktest.JobPlan
		fault     *splunktest.Fault
		spl       string
		emitted   int
		want      string
		retryable bool
	}{
		{name: "runtime error: 200 and empty body", plan: &splunktest.JobPlan{ExportEmpty: true}, want: "without its row count"},
		{name: "stream cut short", plan: &splunktest.JobPlan{ExportCutAfter: 2}, emitted: 2, want: "ended after 2 rows without its row count"},
		{name: "error message in stream", plan: &splunktest.JobPlan{ResultMessages: []splunktest.Message{{Type: "ERROR", Text: "The lookup table 'threat_domains' does not exist"}}},
			emitted: 5, want: "search reported errors: ERROR The lookup table 'threat_domains' does not exist"},
		{name: "peer down in stream", plan: &splunktest.JobPlan{ResultMessages: []splunktest.Message{{Type: "WARN", Text: "The following search peers are down: idx2"}}},
			emitted: 5, want: "results may be incomplete: WARN The following search peers are down: idx2", retryable: true},
		{name: "parse error", spl: "index=aws | nosuchcmd", want: "HTTP 400: FATAL Unknown search command 'nosuchcmd'."},
		{name: "5xx beyond retries", fault: &splunktest.Fault{Endpoint: splunktest.Export, Status: 500, Text: "oops", Times: 10}, want: "HTTP 500", retryable: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := exportEnv(t)
			if tc.plan != nil {
				e.fake.PlanJobs(*tc.plan)
			}
			if tc.fault != nil {
				e.fake.Fail(*tc.fault)
			}
			spl := tc.spl
			if spl == "" {
				spl = "index=aws"
			}
			got, err := e.search(query(spl))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if len(got) != tc.emitted {
				t.Errorf("emitted %d, want %d", len(got), tc.emitted)
			}
			if poller.Retryable(err) != tc.retryable {
				t.Errorf("Retryable = %v", poller.Retryable(err))
			}
		})
	}
}

func TestExportQuotaRetry(t *testing.T) {
	e := exportEnv(t)
	f := splunktest.QuotaFault(2)
	f.Endpoint = splunktest.Export
	e.fake.Fail(f)
	got, err := e.search(query("index=aws"))
	if err != nil || len(got) != 5 {
		t.Fatalf("got %d, err %v", len(got), err)
	}
	if n := len(e.recordedSleeps()); n != 2 {
		t.Errorf("%d backoff waits, want 2", n)
	}
}
