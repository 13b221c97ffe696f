package local

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/progress"
)

const (
	recStop  = `{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","userName":"alice"},"eventTime":"2024-05-01T12:00:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.5","userAgent":"aws-cli/2.15.0","requestParameters":{"name":"main-trail"},"responseElements":null,"eventID":"e1","recipientAccountId":"111122223333"}`
	recLogin = `{"eventVersion":"1.08","userIdentity":{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333"},"eventTime":"2024-05-01T12:10:00.250Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"Mozilla/5.0","errorMessage":"Failed authentication","responseElements":{"ConsoleLogin":"Failure"},"additionalEventData":{"MFAUsed":"No"},"eventID":"e2","recipientAccountId":"111122223333"}`
	recSG    = `{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/admin/bob","accountId":"111122223333","sessionContext":{"sessionIssuer":{"userName":"admin"}}},"eventTime":"2024-05-01T12:20:00Z","eventSource":"ec2.amazonaws.com","eventName":"AuthorizeSecurityGroupIngress","awsRegion":"eu-west-1","sourceIPAddress":"198.51.100.7","errorCode":"Client.UnauthorizedOperation","requestParameters":{"groupId":"sg-1","ipPermissions":{"items":[{"ipProtocol":"tcp","fromPort":22,"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"},{"cidrIp":"10.0.0.0/8"}]}}]}},"eventID":"e3","recipientAccountId":"111122223333"}`
)

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func gz(t *testing.T, data string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(data))
	w.Close()
	return b.Bytes()
}

func search(t *testing.T, s *Searcher, spl string, w poller.Window) ([]poller.Result, error) {
	t.Helper()
	var out []poller.Result
	err := s.Search(context.Background(), poller.Query{SPL: spl, Window: w}, func(r poller.Result) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

// pick renders chosen fields of each result as "k=v|v k=v".
func pick(rs []poller.Result, fields ...string) []string {
	var out []string
	for _, r := range rs {
		var parts []string
		for _, f := range fields {
			if v, ok := r[f]; ok {
				parts = append(parts, f+"="+strings.Join(v, "|"))
			}
		}
		out = append(out, strings.Join(parts, " "))
	}
	return out
}

func TestInputFormats(t *testing.T) {
	dir := t.TempDir()
	// the same three records in every shape CloudTrail arrives in
	writeFile(t, dir, "s3/111122223333_CloudTrail_us-east-1_a.json.gz", gz(t, `{"Records":[`+recStop+`]}`))
	writeFile(t, dir, "s3/no_extension_but_gzip.json", gz(t, "{\n  \"Records\" : [ "+recLogin+" ,\n "+recSG+" ] }\n"))
	writeFile(t, dir, "array/records.json", []byte("[\n"+recStop+",\n"+recLogin+"\n]"))
	writeFile(t, dir, "ndjson/records.ndjson", []byte("\ufeff"+recStop+"\n"+recLogin+"\n\n"+recSG+"\n"))
	writeFile(t, dir, "ndjson/README.md", []byte("not read: not a log file name"))
	writeFile(t, dir, "s3/CloudTrail-Digest/digest.json.gz", gz(t, `{"digestStartTime":"x"}`))
	writeFile(t, dir, "empty/empty.json", nil)
	writeFile(t, dir, "empty/records.json", []byte(`{"Records":[]}`))

	tests := []struct {
		path string
		want []string
	}{
		{"s3", []string{"eventName=StopLogging", "eventName=ConsoleLogin", "eventName=AuthorizeSecurityGroupIngress"}},
		{"array", []string{"eventName=StopLogging", "eventName=ConsoleLogin"}},
		{"ndjson", []string{"eventName=StopLogging", "eventName=ConsoleLogin", "eventName=AuthorizeSecurityGroupIngress"}},
		{"empty", nil},
		{"ndjson/records.ndjson", []string{"eventName=StopLogging", "eventName=ConsoleLogin", "eventName=AuthorizeSecurityGroupIngress"}},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			s := NewSearcher(Options{Paths: []string{tc.path}, BaseDir: dir, Host: "h"})
			rs, err := search(t, s, "sourcetype=aws:cloudtrail", poller.Window{})
			if err != nil {
				t.Fatal(err)
			}
			if got := pick(rs, "eventName"); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFieldsAsSplunk(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "ct.json", []byte(`{"Records":[`+recStop+`,`+recLogin+`,`+recSG+`]}`))
	s := NewSearcher(Options{Paths: []string{p}, Host: "h1", Index: "aws"})
	rs, err := search(t, s, "eventName=StopLogging", poller.Window{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 {
		t.Fatalf("got %d results", len(rs))
	}
	r := rs[0]
	want := map[string]string{
		"_time":                  "2024-05-01T12:00:00.000+00:00",
		"index":                  "aws",
		"sourcetype":             "aws:cloudtrail",
		"source":                 p,
		"host":                   "h1",
		"eventName":              "StopLogging",
		"userIdentity.arn":       "arn:aws:iam::111122223333:user/alice",
		"requestParameters.name": "main-trail",
		"responseElements":       "null",
		"errorCode":              "success",
		"status":                 "success",
		"user_arn":               "arn:aws:iam::111122223333:user/alice",
		"aws_account_id":         "111122223333",
		"src":                    "203.0.113.5",
		"src_ip":                 "203.0.113.5",
		"user":                   "alice",
		"user_name":              "alice",
		"userName":               "alice",
		"user_type":              "IAMUser",
		"user_agent":             "aws-cli/2.15.0",
		"region":                 "us-east-1",
		"vendor_region":          "us-east-1",
		"dest":                   "cloudtrail.amazonaws.com",
		"action":                 "modified",
		"date_hour":              "12",
		"date_wday":              "wednesday",
		"_raw":                   recStop,
	}
	for k, v := range want {
		if got := r.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if _, ok := r["errorMessage"]; ok {
		t.Errorf("errorMessage should be absent")
	}

	rs, err = search(t, s, `eventName=ConsoleLogin action=failure | table _time user user_name user_arn status errorCode`, poller.Window{})
	if err != nil {
		t.Fatal(err)
	}
	if got := pick(rs, "_time", "user", "user_arn", "status", "errorCode"); !reflect.DeepEqual(got, []string{"_time=2024-05-01T12:10:00.250+00:00 user=root user_arn=arn:aws:iam::111122223333:root status=success errorCode=success"}) {
		t.Errorf("console login: %q", got)
	}
	rs, err = search(t, s, `requestParameters.ipPermissions.items{}.ipRanges.items{}.cidrIp="0.0.0.0/0" | table user userName status action requestParameters.ipPermissions.items{}.ipRanges.items{}.cidrIp`, poller.Window{})
	if err != nil {
		t.Fatal(err)
	}
	if got := pick(rs, "user", "status", "action", "requestParameters.ipPermissions.items{}.ipRanges.items{}.cidrIp"); !reflect.DeepEqual(got, []string{"user=bob status=failure action=created requestParameters.ipPermissions.items{}.ipRanges.items{}.cidrIp=0.0.0.0/0|10.0.0.0/8"}) {
		t.Errorf("security group: %q", got)
	}
}

func TestWindow(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "ct.json", []byte(recStop+"\n"+recLogin+"\n"+recSG+"\n"))
	s := NewSearcher(Options{Paths: []string{p}, Host: "h"})
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name string
		spl  string
		w    poller.Window
		want []string
	}{
		{"unbounded", "*", poller.Window{}, []string{"eventID=e1", "eventID=e2", "eventID=e3"}},
		{"start is exclusive", "*", poller.Window{Start: at("2024-05-01T12:00:00Z")}, []string{"eventID=e2", "eventID=e3"}},
		{"end is inclusive", "*", poller.Window{End: at("2024-05-01T12:10:00.250Z")}, []string{"eventID=e1", "eventID=e2"}},
		{"both", "*", poller.Window{Start: at("2024-05-01T12:00:00Z"), End: at("2024-05-01T12:15:00Z")}, []string{"eventID=e2"}},
		{"inline earliest narrows", "earliest=05/01/2024:12:10:00", poller.Window{}, []string{"eventID=e2", "eventID=e3"}},
		{"inline latest is exclusive", "latest=05/01/2024:12:20:00", poller.Window{Start: at("2024-05-01T11:00:00Z")}, []string{"eventID=e1", "eventID=e2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := search(t, s, tc.spl, tc.w)
			if err != nil {
				t.Fatal(err)
			}
			if got := pick(rs, "eventID"); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "good.json", []byte(recStop+"\n"))
	tests := []struct {
		name, file string
		data       []byte
		want       string
		query      string
	}{
		{"not JSON", "notes.json", []byte("hello world\n"), `neither JSON nor a known text log format`, ""},
		{"broken record", "broken.json", []byte(recStop + "\n{\"eventName\": \"x\",\n  \"a\": <b>}\n"), "not valid JSON: line 3, column 8", ""},
		{"truncated", "cut.json", []byte(`{"Records":[` + recStop[:50]), "unexpected end of file inside a string", ""},
		{"truncated array", "cut2.json", []byte(`{"Records":[` + recStop), "unexpected end of file inside an array", ""},
		{"scalar in records", "scalar.json", []byte(`{"Records":[1]}`), `expected a record (a JSON object), found '1'`, ""},
		{"bad gzip", "bad.json.gz", append(gz(t, recStop)[:20], 0, 0, 0), "read:", ""},
		{"bad value inside a record", "value.json", []byte(`{"eventTime":"2024-05-01T12:00:00Z","eventName":tru e}` + "\n"), "value.json: line 1, column 53: invalid JSON", ""},
		{"bad value a search reads", "later.json", []byte(recStop + "\n" + `{"eventTime":"2024-05-01T12:00:00Z",` + "\n" + ` "eventName": "x", "a": }` + "\n"), "later.json: line 3, column 25: invalid JSON", "a=*"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, dir, tc.file, tc.data)
			s := NewSearcher(Options{Paths: []string{"good.json", tc.file}, BaseDir: dir, Host: "h"})
			if tc.query == "" {
				tc.query = "eventName=*"
			}
			_, err := search(t, s, tc.query, poller.Window{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("got %v, want an error naming %s and containing %q", err, p, tc.want)
			}
			if strings.Contains(err.Error(), "hello") {
				t.Errorf("the error shows the file's content: %v", err)
			}
		})
	}
	t.Run("missing path", func(t *testing.T) {
		s := NewSearcher(Options{Paths: []string{"nope"}, BaseDir: dir})
		_, err := search(t, s, "*", poller.Window{})
		if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "nope")) && !strings.Contains(err.Error(), "nope") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("writing command", func(t *testing.T) {
		s := NewSearcher(Options{Paths: []string{"good.json"}, BaseDir: dir})
		_, err := search(t, s, "* | outputlookup x.csv", poller.Window{})
		if err == nil || !strings.Contains(err.Error(), `command "outputlookup" writes a lookup table`) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("parse error", func(t *testing.T) {
		s := NewSearcher(Options{Paths: []string{"good.json"}, BaseDir: dir})
		_, err := search(t, s, "* | tstats count", poller.Window{})
		if err == nil || !strings.Contains(err.Error(), `unsupported command "tstats" at offset 4`) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestEmitErrorStops(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "ct.json", []byte(recStop+"\n"+recLogin+"\n"+recSG+"\n"))
	s := NewSearcher(Options{Paths: []string{p}})
	stop := errors.New("stop")
	n := 0
	err := s.Search(context.Background(), poller.Query{SPL: "*"}, func(poller.Result) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("got %v after %d results", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Search(ctx, poller.Query{SPL: "*"}, func(poller.Result) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled search: %v", err)
	}
}

func TestLookupAndProgress(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "lookups/accounts.csv", []byte("account_id,owner\n111122223333,platform-team\n"))
	for i := range 12 {
		writeFile(t, dir, "logs/"+string(rune('a'+i))+".json", []byte(recStop+"\n"))
	}
	var out bytes.Buffer
	meter := progress.New(&out, "search", nil)
	s := NewSearcher(Options{Paths: []string{"logs"}, BaseDir: dir, Lookups: map[string]string{"accounts": "lookups/accounts.csv"}})
	var rs []poller.Result
	err := s.Search(progress.NewContext(context.Background(), meter), poller.Query{SPL: "eventName=StopLogging | lookup accounts account_id AS aws_account_id OUTPUT owner | stats count by owner"}, func(r poller.Result) error {
		rs = append(rs, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := pick(rs, "owner", "count"); !reflect.DeepEqual(got, []string{"owner=platform-team count=12"}) {
		t.Fatalf("got %q", got)
	}
	meter.Done()
	if !strings.HasPrefix(out.String(), "search: read 12 objects,") || !strings.Contains(out.String(), "; 12 events, 12 passed the search filter") {
		t.Fatalf("progress: %q", out.String())
	}

	// On a terminal the line is redrawn in place and erased when the
	// search ends.
	var term bytes.Buffer
	tick := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	live := progress.NewLive(&term, "search", func() time.Time { tick = tick.Add(1500 * time.Millisecond); return tick }) // a slow scan
	if err := s.Search(progress.NewContext(context.Background(), live), poller.Query{SPL: "eventName=StopLogging"}, func(poller.Result) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if p := term.String(); !strings.Contains(p, "\rsearch: ") || strings.Contains(p, "\n") || !strings.HasSuffix(p, "\r\x1b[K") {
		t.Fatalf("live progress: %q", p)
	}
}

func TestOtherFormats(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "flow/v2.log", []byte(strings.Join([]string{
		"2 123456789010 eni-1235b8ca123456789 78.24.182.42 172.31.16.139 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
		"2 123456789010 eni-1235b8ca123456789 78.24.182.42 172.31.16.139 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK",
		"2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA",
	}, "\n")+"\n"))
	writeFile(t, dir, "flow/custom.log.gz", gz(t, "version vpc-id srcaddr dstaddr srcport dstport protocol bytes packets start end action tcp-flags log-status\n"+
		"3 vpc-abc 52.213.180.42 10.0.0.62 43416 5001 17 568 8 1566848875 1566848933 ACCEPT 2 OK\n"))
	writeFile(t, dir, "dns/resolver.log", []byte(`{"version":"1.100000","account_id":"626345947581","region":"us-east-1","vpc_id":"vpc-01e31a7c","query_timestamp":"2021-12-11T22:46:23Z","query_name":"does-not-exist.example.com.","query_type":"A","query_class":"IN","rcode":"NXDOMAIN","answers":[],"srcaddr":"172.31.86.159","srcport":"48701","transport":"UDP","srcids":{"instance":"i-0abc"}}`+"\n"+
		`{"version":"1.100000","account_id":"626345947581","region":"us-east-1","vpc_id":"vpc-01e31a7c","query_timestamp":"2021-12-11T22:46:24Z","query_name":"ec2.internal.","query_type":"PTR","query_class":"IN","rcode":"NOERROR","answers":[{"Rdata":"ip-172-31-86-159.ec2.internal.","Type":"PTR","Class":"IN"}],"srcaddr":"172.31.86.159","srcport":"47924","transport":"UDP","srcids":{},"firewall_rule_action":"BLOCK"}`+"\n"))
	s := NewSearcher(Options{Paths: []string{"flow", "dns"}, BaseDir: dir, Host: "h"})
	tests := []struct {
		spl    string
		fields []string
		want   []string
	}{
		{`sourcetype=aws:cloudwatchlogs:vpcflow action=blocked dest_port=3389 | table _time src_ip dest_ip dest_port transport vpcflow_action`,
			[]string{"_time", "src_ip", "dest_ip", "dest_port", "transport", "vpcflow_action"},
			[]string{"_time=2014-12-14T04:06:50.000+00:00 src_ip=78.24.182.42 dest_ip=172.31.16.139 dest_port=3389 transport=tcp vpcflow_action=REJECT"}},
		{`sourcetype=aws:cloudwatchlogs:vpcflow | stats count by log_status`, []string{"log_status", "count"},
			[]string{"log_status=NODATA count=1", "log_status=OK count=3"}},
		{`sourcetype=aws:cloudwatchlogs:vpcflow vpc_id=* | table src_ip dest_port transport tcp_flags duration action`, []string{"src_ip", "dest_port", "transport", "tcp_flags", "duration", "action"},
			[]string{"src_ip=52.213.180.42 dest_port=5001 transport=udp tcp_flags=2 duration=58 action=allowed"}},
		{`sourcetype=aws:route53:resolver reply_code=NXDOMAIN | table query query_name src_ip src_instance`, []string{"query", "src_ip", "src_instance"},
			[]string{"query=does-not-exist.example.com. src_ip=172.31.86.159 src_instance=i-0abc"}},
		{`sourcetype=aws:route53:resolver action=blocked | table answer record_type _time`, []string{"answer", "record_type", "_time"},
			[]string{"answer=ip-172-31-86-159.ec2.internal. record_type=PTR _time=2021-12-11T22:46:24.000+00:00"}},
	}
	for _, tc := range tests {
		t.Run(tc.spl, func(t *testing.T) {
			rs, err := search(t, s, tc.spl, poller.Window{})
			if err != nil {
				t.Fatal(err)
			}
			got := pick(rs, tc.fields...)
			sort.Strings(got)
			want := append([]string(nil), tc.want...)
			sort.Strings(want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %q\nwant %q", got, want)
			}
		})
	}
	t.Run("flow line without header", func(t *testing.T) {
		writeFile(t, dir, "bad/flow.log", []byte("2 123456789010 eni-1 1.2.3.4 5.6.7.8 1 2 6 1 1 1418530010 1418530070 ACCEPT OK\n2 1 2 3\n"))
		s := NewSearcher(Options{Paths: []string{"bad"}, BaseDir: dir})
		_, err := search(t, s, "*", poller.Window{})
		if err == nil || !strings.Contains(err.Error(), "line 2: 4 fields and no header line") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestConcurrentSearches(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "ct.json", []byte(recStop+"\n"+recLogin+"\n"+recSG+"\n"))
	s := NewSearcher(Options{Paths: []string{p}})
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			spl := []string{"* | stats count by action", "eventName=ConsoleLogin | table user status", "* | eval x=if(match(user, user), 1, 0) | stats sum(x)"}[i%3]
			_, err := search(t, s, spl, poller.Window{})
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
