package splunktest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests hold the fake to specs/splunk.md §10 with a bare HTTP client,
// so the Splunk client's tests stand on a fake that behaves like splunkd.

const token = "tok-123"

type raw struct {
	t   *testing.T
	srv *Server
}

func (c raw) do(method, path, auth string, form url.Values) (int, http.Header, string) {
	c.t.Helper()
	var body io.Reader
	target := c.srv.URL + path
	if method == http.MethodPost {
		body = strings.NewReader(form.Encode())
	} else if form != nil {
		target += "?" + form.Encode()
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func jsonForm(kv ...string) url.Values {
	v := url.Values{"output_mode": {"json"}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func newFake(t *testing.T, opts Options) (*Server, raw) {
	t.Helper()
	if opts.Token == "" {
		opts.Token = token
	}
	s := New(t, opts)
	return s, raw{t: t, srv: s}
}

func createJob(t *testing.T, c raw, kv ...string) string {
	t.Helper()
	code, _, body := c.do(http.MethodPost, "/services/search/jobs", "Bearer "+token, jsonForm(kv...))
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	var out struct{ SID string }
	if err := json.Unmarshal([]byte(body), &out); err != nil || out.SID == "" {
		t.Fatalf("create body %q: %v", body, err)
	}
	return out.SID
}

func TestXMLWithoutOutputMode(t *testing.T) {
	s, c := newFake(t, Options{})
	code, _, body := c.do(http.MethodPost, "/services/search/jobs", "Bearer "+token, url.Values{"search": {"search index=aws"}})
	if code != http.StatusCreated || !strings.Contains(body, "<sid>") {
		t.Fatalf("got %d %q, want 201 with an XML sid", code, body)
	}
	if s.Stats().XMLAnswers != 1 {
		t.Fatalf("XMLAnswers = %d", s.Stats().XMLAnswers)
	}
}

func TestDispatchErrors(t *testing.T) {
	_, c := newFake(t, Options{})
	for _, spl := range []string{"index=aws", "search x | nosuchcmd", "| nosuchcmd"} {
		code, _, body := c.do(http.MethodPost, "/services/search/jobs", "Bearer "+token, jsonForm("search", spl))
		if code != http.StatusBadRequest || !strings.Contains(body, `"FATAL"`) || !strings.Contains(body, "Unknown search command") {
			t.Errorf("%q: got %d %s", spl, code, body)
		}
	}
}

func TestJobLifecycle(t *testing.T) {
	base := time.Unix(1700000000, 0)
	s, c := newFake(t, Options{Plan: JobPlan{Queued: 2, Running: 1}})
	s.Add(Event{Time: base, Fields: map[string][]string{"a": {"1"}, "mv": {"x", "y"}}},
		Event{Time: base.Add(time.Second), Fields: map[string][]string{"b": {"2"}}})
	sid := createJob(t, c, "search", "search *", "max_count", "100")
	path := "/services/search/jobs/" + sid

	var states []string
	for range 4 {
		code, _, body := c.do(http.MethodGet, path+"/results", "Bearer "+token, jsonForm())
		if code != http.StatusNoContent {
			t.Fatalf("results before done: %d %s", code, body)
		}
		code, _, body = c.do(http.MethodGet, path, "Bearer "+token, jsonForm())
		if code == http.StatusNoContent {
			states = append(states, "204")
			continue
		}
		var st struct {
			Entry []struct {
				Content struct {
					DispatchState string
					IsDone        bool
					ResultCount   int
				}
			}
		}
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatal(err)
		}
		states = append(states, st.Entry[0].Content.DispatchState)
		if st.Entry[0].Content.IsDone {
			break
		}
	}
	if got := strings.Join(states, ","); got != "204,204,RUNNING,DONE" {
		t.Fatalf("states = %s", got)
	}
	code, _, body := c.do(http.MethodGet, path+"/results", "Bearer "+token, jsonForm())
	if code != http.StatusOK {
		t.Fatalf("results: %d %s", code, body)
	}
	var res struct {
		Results []map[string]any
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 2 {
		t.Fatalf("%d results", len(res.Results))
	}
	newest, oldest := res.Results[0], res.Results[1]
	if newest["b"] != "2" || newest["a"] != nil {
		t.Errorf("newest first, absent fields omitted: %v", newest)
	}
	if mv, ok := oldest["mv"].([]any); !ok || len(mv) != 2 {
		t.Errorf("multivalue as array: %v", oldest["mv"])
	}
	if oldest["_time"] != "2023-11-14T14:13:20.000-08:00" || oldest["_indextime"] != "1700000000" {
		t.Errorf("_time/_indextime: %v %v", oldest["_time"], oldest["_indextime"])
	}
	if code, _, _ := c.do(http.MethodDelete, path, "Bearer "+token, jsonForm()); code != http.StatusOK {
		t.Fatalf("delete: %d", code)
	}
	if code, _, body := c.do(http.MethodGet, path, "Bearer "+token, jsonForm()); code != http.StatusNotFound {
		t.Fatalf("status after delete: %d %s", code, body)
	}
	if !s.Deleted(sid) || s.Stats().LiveJobs != 0 {
		t.Fatal("job not recorded as deleted")
	}
}

func TestResultsPaging(t *testing.T) {
	s, c := newFake(t, Options{MaxResultRows: 500})
	s.Generate(1200, func(i int) Event {
		return Event{Time: time.Unix(int64(1700000000+i), 0), Fields: map[string][]string{"i": {strconv.Itoa(i)}}}
	})
	sid := createJob(t, c, "search", "search *", "max_count", "1000")
	c.do(http.MethodGet, "/services/search/jobs/"+sid, "Bearer "+token, jsonForm())
	for _, tc := range []struct {
		count, offset string
		want          int
	}{{"", "", 100}, {"0", "", 500}, {"800", "", 500}, {"300", "900", 100}} {
		_, _, body := c.do(http.MethodGet, "/services/search/jobs/"+sid+"/results", "Bearer "+token,
			jsonForm("count", tc.count, "offset", tc.offset))
		var res struct {
			InitOffset int `json:"init_offset"`
			Results    []map[string]any
		}
		if err := json.Unmarshal([]byte(body), &res); err != nil {
			t.Fatal(err)
		}
		if len(res.Results) != tc.want {
			t.Errorf("count=%q offset=%q: %d rows, want %d (max_count caps the job at 1000)", tc.count, tc.offset, len(res.Results), tc.want)
		}
	}
}

func TestTimeBounds(t *testing.T) {
	base := time.Unix(1700000000, 0)
	s, c := newFake(t, Options{Now: func() time.Time { return base.Add(time.Hour) }})
	s.Add(Event{Time: base, IndexTime: base.Add(10 * time.Second), Fields: map[string][]string{"n": {"0"}}},
		Event{Time: base.Add(10 * time.Second), IndexTime: base.Add(20 * time.Second), Fields: map[string][]string{"n": {"1"}}},
		Event{Time: base, IndexTime: base.Add(2 * time.Hour), Fields: map[string][]string{"n": {"future"}}})
	e := func(d time.Duration) string { return strconv.FormatInt(base.Add(d).Unix(), 10) }
	for _, tc := range []struct {
		name string
		kv   []string
		want int
	}{
		{"event half-open", []string{"earliest_time", e(0), "latest_time", e(10 * time.Second)}, 1},
		{"index half-open", []string{"index_earliest", e(10 * time.Second), "index_latest", e(20 * time.Second)}, 1},
		{"index both", []string{"index_earliest", e(10 * time.Second), "index_latest", e(21 * time.Second)}, 2},
		{"relative to now", []string{"earliest_time", "-7d", "latest_time", "+1d", "now", e(5 * time.Second)}, 2},
		{"not indexed yet", []string{"earliest_time", "0"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sid := createJob(t, c, append([]string{"search", "search *"}, tc.kv...)...)
			_, _, body := c.do(http.MethodGet, "/services/search/jobs/"+sid, "Bearer "+token, jsonForm())
			if !strings.Contains(body, `"resultCount":`+strconv.Itoa(tc.want)+",") {
				t.Errorf("want resultCount %d in %s", tc.want, body)
			}
		})
	}
}

func TestAuthSchemes(t *testing.T) {
	now := time.Unix(1700000000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s, c := newFake(t, Options{Username: "svc", Password: "pw", SessionIdle: time.Minute, Now: clock})
	get := func(auth string) (int, string) {
		code, _, body := c.do(http.MethodGet, "/services/search/parser", auth, jsonForm("q", "search *"))
		return code, body
	}
	if code, _ := get("Bearer " + token); code != http.StatusOK {
		t.Errorf("bearer: %d", code)
	}
	if code, body := get("Bearer nope"); code != http.StatusUnauthorized || !strings.Contains(body, "call not properly authenticated") {
		t.Errorf("bad bearer: %d %s", code, body)
	}
	if code, _ := get("Basic c3ZjOnB3"); code != http.StatusOK { // svc:pw
		t.Errorf("basic: %d", code)
	}
	if code, body := get("Basic c3ZjOm5v"); code != http.StatusUnauthorized || !strings.Contains(body, `"Unauthorized"`) {
		t.Errorf("bad basic: %d %s", code, body)
	}
	code, _, body := c.do(http.MethodPost, "/services/auth/login", "", jsonForm("username", "svc", "password", "pw"))
	var login struct{ SessionKey string }
	if err := json.Unmarshal([]byte(body), &login); code != http.StatusOK || err != nil || login.SessionKey == "" {
		t.Fatalf("login: %d %s", code, body)
	}
	if code, _ := get("Splunk " + login.SessionKey); code != http.StatusOK {
		t.Errorf("session: %d", code)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if code, body := get("Splunk " + login.SessionKey); code != http.StatusUnauthorized || !strings.Contains(body, "call not properly authenticated") {
		t.Errorf("idle session: %d %s", code, body)
	}
	if code, _, body := c.do(http.MethodPost, "/services/auth/login", "", jsonForm("username", "svc", "password", "no")); code != http.StatusUnauthorized {
		t.Errorf("bad login: %d %s", code, body)
	}
	if s.Stats().Logins != 1 {
		t.Errorf("logins = %d", s.Stats().Logins)
	}
}

func TestQuotaAndExport(t *testing.T) {
	s, c := newFake(t, Options{MaxJobs: 1})
	s.Add(Event{Time: time.Unix(1700000000, 0), Fields: map[string][]string{"x": {"1"}}})
	createJob(t, c, "search", "search *")
	code, _, body := c.do(http.MethodPost, "/services/search/jobs", "Bearer "+token, jsonForm("search", "search *"))
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "maximum number of concurrent historical searches") {
		t.Fatalf("over quota: %d %s", code, body)
	}

	s2, c2 := newFake(t, Options{})
	s2.Add(Event{Time: time.Unix(1700000000, 0), Fields: map[string][]string{"x": {"1"}}})
	_, _, body = c2.do(http.MethodPost, "/services/search/jobs/export", "Bearer "+token,
		jsonForm("search", "search * | appendpipe [stats count AS rows]"))
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"preview":false`) || !strings.Contains(lines[1], `"rows":"1"`) || !strings.Contains(lines[1], `"lastrow":true`) {
		t.Fatalf("export: %q", body)
	}
	s2.PlanJobs(JobPlan{ExportEmpty: true})
	code, _, body = c2.do(http.MethodPost, "/services/search/jobs/export", "Bearer "+token, jsonForm("search", "search *"))
	if code != http.StatusOK || strings.TrimSpace(body) != "" {
		t.Fatalf("runtime error export: %d %q", code, body)
	}
}

func TestRowEncoding(t *testing.T) {
	weird := []string{`quote " and \ back`, "new\nline\ttab\x01", "ünï cødé ✓", "<script>&", ""}
	e := Event{Time: time.Unix(1700000000, 123e6), IndexTime: time.Unix(1700000005, 0), Fields: map[string][]string{
		"a": {weird[0]}, "b": {weird[1]}, "c": {weird[2]}, "d": {weird[3]}, "mv": weird[:3], "empty": {}, "k\"ey": {"v"},
	}}
	enc := &rowEncoder{zone: time.UTC}
	var got map[string]any
	if err := json.Unmarshal(enc.row(e), &got); err != nil {
		t.Fatalf("%s: %v", enc.row(e), err)
	}
	want := map[string]any{
		"_time": "2023-11-14T22:13:20.123+00:00", "_indextime": "1700000005",
		"a": weird[0], "b": weird[1], "c": weird[2], "d": weird[3], "mv": []any{weird[0], weird[1], weird[2]}, "k\"ey": "v",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

func TestMatchAndTerms(t *testing.T) {
	at := time.Unix(1700000000, 0)
	s, c := newFake(t, Options{})
	s.Add(Event{Time: at, Fields: map[string][]string{"index": {"aws"}, "eventName": {"StopLogging"}}},
		Event{Time: at, Fields: map[string][]string{"index": {"aws"}, "eventName": {"DeleteTrail"}}},
		Event{Time: at, Fields: map[string][]string{"index": {"other"}, "eventName": {"StopLogging"}}})
	count := func(spl string) string {
		sid := createJob(t, c, "search", spl)
		_, _, body := c.do(http.MethodGet, "/services/search/jobs/"+sid, "Bearer "+token, jsonForm())
		i := strings.Index(body, `"resultCount":`)
		return strings.SplitN(body[i+len(`"resultCount":`):], ",", 2)[0]
	}
	for spl, want := range map[string]string{
		"search index=aws":                                   "2",
		`search index=aws eventName="StopLogging"`:           "1",
		"search index=aws eventName=Stop* | table eventName": "1",
		"search *": "3",
	} {
		if got := count(spl); got != want {
			t.Errorf("%q: %s results, want %s", spl, got, want)
		}
	}

	s2, c2 := newFake(t, Options{Match: func(spl string, e Event) bool { return e.Fields["index"][0] == "other" }})
	s2.Add(Event{Time: at, Fields: map[string][]string{"index": {"aws"}}}, Event{Time: at, Fields: map[string][]string{"index": {"other"}}})
	sid := createJob(t, c2, "search", "search index=aws")
	_, _, body := c2.do(http.MethodGet, "/services/search/jobs/"+sid, "Bearer "+token, jsonForm())
	if !strings.Contains(body, `"resultCount":1,`) {
		t.Errorf("Match not used: %s", body)
	}
}

// A job with Latency stays RUNNING, however often it is polled, until that
// long after its dispatch by the fake's clock.
func TestJobLatency(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1700000000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	_, c := newFake(t, Options{Now: clock, Plan: JobPlan{Latency: 1500 * time.Millisecond}})
	sid := createJob(t, c, "search", "search *")
	state := func() string {
		_, _, body := c.do(http.MethodGet, "/services/search/jobs/"+sid, "Bearer "+token, jsonForm())
		var st struct {
			Entry []struct {
				Content struct{ DispatchState string }
			}
		}
		if err := json.Unmarshal([]byte(body), &st); err != nil || len(st.Entry) == 0 {
			t.Fatalf("status %q: %v", body, err)
		}
		return st.Entry[0].Content.DispatchState
	}
	for range 3 {
		if got := state(); got != "RUNNING" {
			t.Fatalf("before the latency: %s", got)
		}
	}
	mu.Lock()
	now = now.Add(1500 * time.Millisecond)
	mu.Unlock()
	if got := state(); got != "DONE" {
		t.Fatalf("after the latency: %s", got)
	}
}
