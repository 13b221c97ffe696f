package splunk

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/patrolsec/patrol/poller"
)

// These tests replay responses captured from real Splunk servers (see
// shared/specs/samples/splunk/README.md); they skip when shared/ is absent.

func TestSampleResults(t *testing.T) {
	for _, tc := range []struct {
		file  string
		rows  int
		check func(t *testing.T, rows []poller.Result)
	}{
		{"stix-shifter/result_by_sid.json", 4, func(t *testing.T, rows []poller.Result) {
			if got := rows[0]["_si"]; !reflect.DeepEqual(got, []string{"splunk3-01.internal.resilientsystems.com", "shifter"}) {
				t.Errorf("_si = %q", got)
			}
			if rows[0].Get("_time") != "2018-09-03T16:10:10.000+00:00" || rows[0].Get("_indextime") != "1535991010" {
				t.Errorf("times: %v", rows[0])
			}
		}},
		{"stix-shifter/empty_result_by_sid.json", 0, nil},
		{"java-sdk/results5.json", 3, func(t *testing.T, rows []poller.Result) {
			if rows[2].Get("series") != "splunkd_access" || rows[2].Get("sum(kb)") != "5979.036338" {
				t.Errorf("row 2 = %v", rows[2])
			}
		}},
		{"java-sdk/resultsMVFuture.json", 1, func(t *testing.T, rows []poller.Result) {
			if got := rows[0]["_si"]; len(got) != 2 || got[1] != "_internal" {
				t.Errorf("_si = %q", got)
			}
		}},
		// Splunk 5.0 joined multivalues with newlines; it stays one value.
		{"java-sdk/resultsMV5.json", 1, func(t *testing.T, rows []poller.Result) {
			if got := rows[0]["_si"]; len(got) != 1 || !strings.Contains(got[0], "\n") {
				t.Errorf("_si = %q", got)
			}
		}},
		{"java-sdk/resultsMVOneshotFuture.json", 1, nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var rows []poller.Result
			n, err := decodeResults(bytes.NewReader(sample(t, tc.file)), 0, tc.rows, func(r poller.Result) error {
				rows = append(rows, r)
				return nil
			})
			if err != nil || n != tc.rows || len(rows) != tc.rows {
				t.Fatalf("decoded %d rows, err %v; want %d", n, err, tc.rows)
			}
			if tc.check != nil {
				tc.check(t, rows)
			}
		})
	}
}

func TestSampleStatus(t *testing.T) {
	st, err := decodeStatus(bytes.NewReader(sample(t, "stix-shifter/status_by_sid.cleaned.json")))
	if err != nil {
		t.Fatal(err)
	}
	if st.DispatchState != "DONE" || !bool(st.IsDone) || st.ResultCount != 1 || st.EventCount != 1 {
		t.Fatalf("status = %+v", st)
	}
	s := &Searcher{maxCount: 500000}
	if done, err := s.judge("1536832140.4293", st); !done || err != nil {
		t.Fatalf("judge = %v, %v", done, err)
	}
}

// replay serves captured answers for a whole job: dispatch, status,
// results, delete. The captured status says resultCount 1 while the
// captured results hold 4 rows (the capture was edited by hand), which the
// client must refuse; with the count made to agree, it succeeds.
func TestSampleJobReplay(t *testing.T) {
	status := sample(t, "stix-shifter/status_by_sid.cleaned.json")
	results := sample(t, "stix-shifter/result_by_sid.json")
	for _, tc := range []struct {
		name   string
		status []byte
		want   string
	}{
		{"as captured", status, "more results than the 1 the job reported"},
		{"count agreeing", regexp.MustCompile(`"resultCount":\s*1,`).ReplaceAll(status, []byte(`"resultCount": 4,`)), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			deleted := false
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_ = r.ParseForm()
				if r.Form.Get("output_mode") != "json" {
					t.Errorf("%s %s without output_mode=json", r.Method, r.URL.Path)
				}
				switch {
				case r.Method == http.MethodPost && r.URL.Path == "/services/search/jobs":
					w.WriteHeader(http.StatusCreated)
					_, _ = w.Write([]byte(`{"sid":"1536832140.4293"}`))
				case r.Method == http.MethodGet && r.URL.Path == "/services/search/jobs/1536832140.4293":
					_, _ = w.Write(tc.status)
				case r.Method == http.MethodGet && r.URL.Path == "/services/search/jobs/1536832140.4293/results":
					_, _ = w.Write(results)
				case r.Method == http.MethodDelete && r.URL.Path == "/services/search/jobs/1536832140.4293":
					deleted = true
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			e := &env{t: t, logs: &syncBuffer{}}
			t.Setenv(tokenEnv, testToken)
			e.cfg = Defaults()
			e.cfg.URL, e.cfg.TokenEnv, e.cfg.AllowInsecureHTTP = srv.URL, tokenEnv, true
			e.s = e.newSearcher(t.TempDir())
			got, err := e.search(query("eventtype=network_traffic"))
			switch {
			case tc.want == "" && (err != nil || len(got) != 4):
				t.Fatalf("got %d rows, err %v", len(got), err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if !deleted {
				t.Error("job not deleted")
			}
		})
	}
}

// TestSampleExport streams a captured export of a stats search (preview
// sets, then the final set) and keeps only the final rows.
func TestSampleExport(t *testing.T) {
	body := bytes.TrimPrefix(sample(t, "java-sdk/resultsExport.json"), []byte("\xef\xbb\xbf")) // BOM added when saved
	body = append(bytes.TrimRight(body, "\n"), []byte("\n"+`{"preview":false,"offset":5,"lastrow":true,"result":{"__patrol_rows":"5"}}`+"\n")...)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.URL.Path != "/services/search/jobs/export" || !strings.HasSuffix(r.Form.Get("search"), "| appendpipe [stats count AS __patrol_rows]") {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	e := &env{t: t, logs: &syncBuffer{}}
	t.Setenv(tokenEnv, testToken)
	e.cfg = Defaults()
	e.cfg.URL, e.cfg.TokenEnv, e.cfg.Export, e.cfg.AllowInsecureHTTP = srv.URL, tokenEnv, true, true
	e.s = e.newSearcher(t.TempDir())
	got, err := e.search(query("index=_internal | stats count by host"))
	if err != nil {
		t.Fatal(err)
	}
	var counts []string
	for _, r := range got {
		counts = append(counts, r.Get("host")+"="+r.Get("count"))
	}
	want := []string{"172.16.35.130=16", "ANDY-PC=29732", "Andy-PC=36185", "andy-pc=135", "three.four.com=35994"}
	if !reflect.DeepEqual(counts, want) {
		t.Errorf("got %v\nwant %v", counts, want)
	}
}
