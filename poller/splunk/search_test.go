package splunk

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/splunk/splunktest"
)

func TestSearchReturnsResults(t *testing.T) {
	e := newEnv(t, splunktest.Options{Now: func() time.Time { return t0.Add(time.Hour) }}, nil)
	mv := ev(t0.Add(-30*time.Minute), "eventName", "StopLogging", "index", "aws", "resources{}.ARN", "arn:a", "resources{}.ARN", "arn:b")
	e.fake.Add(
		ev(t0.Add(-50*time.Minute), "eventName", "DeleteTrail", "index", "aws", "errorCode", "success"),
		mv,
		ev(t0.Add(-20*time.Minute), "eventName", "StopLogging", "index", "other"),
	)
	got, err := e.search(query("index=aws eventName=*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d results, want 2: %v", len(got), got)
	}
	if got[0].Get("eventName") != "StopLogging" || got[1].Get("eventName") != "DeleteTrail" {
		t.Errorf("want Splunk's order (newest first): %v", got)
	}
	if v := got[0]["resources{}.ARN"]; !reflect.DeepEqual(v, []string{"arn:a", "arn:b"}) {
		t.Errorf("multivalue = %q", v)
	}
	if _, ok := got[0]["errorCode"]; ok {
		t.Errorf("absent field present: %v", got[0])
	}
	if got[1].Get("_time") != "2024-05-01T03:10:00.000-08:00" || got[1].Get("_indextime") != strconv.FormatInt(t0.Add(-50*time.Minute).Unix(), 10) {
		t.Errorf("_time/_indextime = %q/%q", got[1].Get("_time"), got[1].Get("_indextime"))
	}

	st := e.fake.Stats()
	if st.XMLAnswers != 0 {
		t.Errorf("%d answers in XML: a request lacked output_mode=json", st.XMLAnswers)
	}
	for _, r := range e.fake.Requests() {
		if r.Form.Get("output_mode") != "json" {
			t.Errorf("%s %s without output_mode=json", r.Method, r.Path)
		}
		if r.AuthScheme != "Bearer" {
			t.Errorf("%s %s auth %q", r.Method, r.Path, r.AuthScheme)
		}
	}
	d := e.fake.Dispatches()[0]
	for k, want := range map[string]string{
		"search": "search index=aws eventName=*", "exec_mode": "normal", "max_count": "500000",
		"adhoc_search_level": "smart", "auto_cancel": "900", "timeout": "900",
	} {
		if d.Get(k) != want {
			t.Errorf("dispatch %s = %q, want %q", k, d.Get(k), want)
		}
	}
	sids := e.fake.Sids()
	if len(sids) != 1 || !e.fake.Deleted(sids[0]) || st.LiveJobs != 0 {
		t.Errorf("job not deleted: sids %v, live %d", sids, st.LiveJobs)
	}
}

func TestNormalizeSPL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"index=aws", "search index=aws"},
		{"\n  `x` eventName=A\n| table a\n", "search `x` eventName=A\n| table a"},
		{"search index=aws", "search index=aws"},
		{"SEARCH index=aws", "SEARCH index=aws"},
		{"search\tindex=aws", "search\tindex=aws"},
		{"searchable=1", "search searchable=1"},
		{"| tstats count where index=aws", "| tstats count where index=aws"},
	} {
		got, err := normalizeSPL(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("normalizeSPL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := normalizeSPL(" \n"); err == nil {
		t.Error("empty SPL accepted")
	}
}

func TestWindowParams(t *testing.T) {
	start, end := t0.Add(-5*time.Minute), t0
	ep := func(tm time.Time) string { return strconv.FormatInt(tm.Unix(), 10) }
	for _, tc := range []struct {
		name string
		q    poller.Query
		span time.Duration
		want map[string]string
	}{
		{"index time by default", poller.Query{Window: poller.Window{Start: start, End: end}}, 7 * 24 * time.Hour, map[string]string{
			"index_earliest": ep(start), "index_latest": ep(end), "now": ep(end),
			"earliest_time": ep(start.Add(-7 * 24 * time.Hour)), "latest_time": ep(end.Add(24 * time.Hour)),
		}},
		{"index time, zero start", poller.Query{Window: poller.Window{End: end}, TimeMode: poller.IndexTime}, time.Hour, map[string]string{
			"index_earliest": "0", "index_latest": ep(end), "earliest_time": "0", "latest_time": ep(end.Add(24 * time.Hour)), "now": ep(end),
		}},
		{"index time, all event time", poller.Query{Window: poller.Window{Start: start, End: end}}, 0, map[string]string{
			"index_earliest": ep(start), "earliest_time": "0",
		}},
		{"event time", poller.Query{Window: poller.Window{Start: start, End: end}, TimeMode: poller.EventTime}, time.Hour, map[string]string{
			"earliest_time": ep(start), "latest_time": ep(end), "now": ep(end), "index_earliest": "", "index_latest": "",
		}},
		{"event time, zero start", poller.Query{Window: poller.Window{End: end}, TimeMode: poller.EventTime}, time.Hour, map[string]string{
			"earliest_time": "0", "latest_time": ep(end),
		}},
		{"fractional seconds", poller.Query{Window: poller.Window{Start: start.Add(250 * time.Millisecond), End: end.Add(1500 * time.Nanosecond)}, TimeMode: poller.EventTime}, 0, map[string]string{
			"earliest_time": ep(start) + ".25", "latest_time": ep(end) + ".000001",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := windowParams(tc.q, tc.span, 24*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tc.want {
				if v.Get(k) != want {
					t.Errorf("%s = %q, want %q", k, v.Get(k), want)
				}
			}
		})
	}
	for _, w := range []poller.Window{{Start: end, End: end}, {Start: end, End: start}, {Start: start}} {
		if _, err := windowParams(poller.Query{Window: w}, 0, 0); err == nil {
			t.Errorf("window %v accepted", w)
		}
	}
	if _, err := windowParams(poller.Query{Window: poller.Window{End: end}, TimeMode: "wall"}, 0, 0); err == nil {
		t.Error("unknown time mode accepted")
	}
}

// TestWindowsTile runs consecutive windows over events on and around their
// boundaries: every event from the first window's start to the last one's
// end is found exactly once. Splunk's half-open [earliest, latest) shifts
// each boundary second to the later window, which keeps the tiling.
func TestWindowsTile(t *testing.T) {
	for _, mode := range []poller.TimeMode{poller.IndexTime, poller.EventTime} {
		t.Run(string(mode), func(t *testing.T) {
			e := newEnv(t, splunktest.Options{Now: func() time.Time { return t0.Add(time.Hour) }}, nil)
			for _, s := range []int{-1, 0, 1, 59, 60, 61, 119, 120, 121, 179, 180, 181} {
				e.fake.Add(ev(t0.Add(time.Duration(s)*time.Second), "n", strconv.Itoa(s)))
			}
			var seen []string
			for w := range 3 {
				q := query("*")
				q.TimeMode = mode
				q.Window = poller.Window{Start: t0.Add(time.Duration(w) * time.Minute), End: t0.Add(time.Duration(w+1) * time.Minute)}
				got, err := e.search(q)
				if err != nil {
					t.Fatal(err)
				}
				for i := len(got) - 1; i >= 0; i-- { // oldest first
					seen = append(seen, got[i].Get("n"))
				}
			}
			want := []string{"0", "1", "59", "60", "61", "119", "120", "121", "179"}
			if !reflect.DeepEqual(seen, want) {
				t.Errorf("found %v, want each of %v once", seen, want)
			}
		})
	}
}

// TestLateIndexedEvent: an event that happened during window 1 but was
// indexed during window 2 is found by the index-time search of window 2,
// and would be lost by event-time windows.
func TestLateIndexedEvent(t *testing.T) {
	var clock time.Time
	e := newEnv(t, splunktest.Options{Now: func() time.Time { return clock }}, nil)
	w1 := poller.Window{Start: t0, End: t0.Add(5 * time.Minute)}
	w2 := poller.Window{Start: w1.End, End: w1.End.Add(5 * time.Minute)}
	late := ev(t0.Add(2*time.Minute), "eventName", "StopLogging")
	late.IndexTime = t0.Add(7 * time.Minute)
	e.fake.Add(late, ev(t0.Add(time.Minute), "eventName", "Prompt"))

	run := func(w poller.Window, mode poller.TimeMode) []string {
		t.Helper()
		q := query("eventName=*")
		q.Window, q.TimeMode = w, mode
		got, err := e.search(q)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range got {
			names = append(names, r.Get("eventName"))
		}
		return names
	}
	clock = w1.End.Add(time.Minute) // window 1 searched after a 1m settle lag
	if got := run(w1, poller.IndexTime); !reflect.DeepEqual(got, []string{"Prompt"}) {
		t.Fatalf("window 1 (index time) = %v", got)
	}
	if got := run(w1, poller.EventTime); !reflect.DeepEqual(got, []string{"Prompt"}) {
		t.Fatalf("window 1 (event time) = %v", got)
	}
	clock = w2.End.Add(time.Minute)
	if got := run(w2, poller.IndexTime); !reflect.DeepEqual(got, []string{"StopLogging"}) {
		t.Fatalf("window 2 (index time) = %v, want the late event", got)
	}
	if got := run(w2, poller.EventTime); len(got) != 0 {
		t.Fatalf("window 2 (event time) = %v: the fake should lose it here", got)
	}
	d := e.fake.Dispatches()[2]
	if d.Get("index_earliest") != epoch(w2.Start) || d.Get("index_latest") != epoch(w2.End) || d.Get("now") != epoch(w2.End) {
		t.Errorf("window 2 params: %v", d)
	}
}

func TestNamespace(t *testing.T) {
	for _, tc := range []struct {
		app, owner              string
		wantOwner, wantApp      string
		wantPrefix, wantPrefix2 string
	}{
		{"", "", "", "", "/services/search/jobs", "/services/search/parser"},
		{"SA-patrol", "nobody", "nobody", "SA-patrol", "/servicesNS/nobody/SA-patrol/search/jobs", "/servicesNS/nobody/SA-patrol/search/parser"},
		{"search", "", "-", "search", "/servicesNS/-/search/search/jobs", "/servicesNS/-/search/search/parser"},
	} {
		t.Run(tc.app, func(t *testing.T) {
			e := newEnv(t, splunktest.Options{}, func(c *Config) { c.App, c.Owner = tc.app, tc.owner })
			if _, err := e.search(query("index=aws")); err != nil {
				t.Fatal(err)
			}
			if err := e.s.Parse(t.Context(), "index=aws"); err != nil {
				t.Fatal(err)
			}
			for _, r := range e.fake.Requests() {
				if r.Owner != tc.wantOwner || r.App != tc.wantApp {
					t.Errorf("%s %s: namespace %s/%s", r.Method, r.Path, r.Owner, r.App)
				}
				if !strings.HasPrefix(r.Path, tc.wantPrefix) && r.Path != tc.wantPrefix2 {
					t.Errorf("path %s", r.Path)
				}
			}
		})
	}
}

func TestPaging(t *testing.T) {
	for _, tc := range []struct {
		name          string
		rows          int
		pageSize      int
		maxResultRows int
		wantPages     int
	}{
		{"past the default count of 100", 250, 100, 0, 3},
		{"past 50,000", 50_005, 50_000, 0, 2},
		{"server returns fewer than asked", 2_500, 10_000, 1_000, 3},
		{"exact page", 200, 100, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, splunktest.Options{MaxResultRows: tc.maxResultRows}, func(c *Config) { c.PageSize = tc.pageSize })
			e.fake.Generate(tc.rows, func(i int) splunktest.Event {
				return splunktest.Event{Time: t0, Fields: map[string][]string{"i": {strconv.Itoa(i)}}}
			})
			next := 0
			err := e.s.Search(t.Context(), query("index=aws"), func(r poller.Result) error {
				if r.Get("i") != strconv.Itoa(next) {
					return fmt.Errorf("row %d is %q", next, r.Get("i"))
				}
				next++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if next != tc.rows {
				t.Fatalf("%d rows, want %d", next, tc.rows)
			}
			var pages []string
			for _, r := range e.fake.Requests() {
				if r.Endpoint == splunktest.Results {
					pages = append(pages, r.Form.Get("offset")+"+"+r.Form.Get("count"))
				}
			}
			if len(pages) != tc.wantPages {
				t.Errorf("pages %v, want %d", pages, tc.wantPages)
			}
		})
	}
}

// TestLooseJSON: flags as "1"/"0", counts as strings, messages as a dict
// (with a harmless WARN) decode the same.
func TestLooseJSON(t *testing.T) {
	e := newEnv(t, splunktest.Options{}, nil)
	e.fake.PlanJobs(splunktest.JobPlan{StringFlags: true, MessagesAsDict: true,
		Messages: []splunktest.Message{{Type: "WARN", Text: "Search not executed: queued"}, {Type: "INFO", Text: "ok"},
			{Type: "DEBUG", Text: "base lispy: [ AND index::aws ]"}, {Type: "WARN", Text: "Field 'x' does not exist in the data."}}})
	e.fake.Add(ev(t0.Add(-time.Minute), "a", "1"))
	got, err := e.search(query("*"))
	if err != nil || len(got) != 1 {
		t.Fatalf("got %v, %v", got, err)
	}
}

func TestParse(t *testing.T) {
	e := newEnv(t, splunktest.Options{}, nil)
	if err := e.s.Parse(t.Context(), "index=aws | stats count by user"); err != nil {
		t.Fatal(err)
	}
	err := e.s.Parse(t.Context(), "index=aws | nosuchcmd x")
	if err == nil || !strings.Contains(err.Error(), "Unknown search command 'nosuchcmd'.") {
		t.Fatalf("err = %v, want Splunk's message", err)
	}
	q := e.fake.Requests()[0].Form.Get("q")
	if q != "search index=aws | stats count by user" {
		t.Errorf("q = %q", q)
	}
}

// TestWritingSearchNeverSent: a search that writes, deletes, sends or
// executes is refused before any request, on jobs and export alike, unless
// allow_commands names the command.
func TestWritingSearchNeverSent(t *testing.T) {
	for _, export := range []bool{false, true} {
		e := newEnv(t, splunktest.Options{}, func(c *Config) { c.Export = export; c.AllowCommands = []string{"outputlookup"} })
		_, err := e.search(query("index=aws | delete"))
		if err == nil || !strings.Contains(err.Error(), `command "delete"`) {
			t.Errorf("export=%v: err = %v", export, err)
		}
		if n := e.fake.Stats().Requests; n != 0 {
			t.Errorf("export=%v: %d requests reached Splunk", export, n)
		}
		if _, err := e.search(query("index=aws | outputlookup x.csv")); err != nil {
			t.Errorf("export=%v: allowed command refused: %v", export, err)
		}
	}
}
