package spl

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// sliceSource serves events from memory. With useFilter it applies the
// engine's cheap filters as a file Source would; tests run every query
// both ways, which checks that the filters never drop a real match.
type sliceSource struct {
	events    []*Event
	useFilter bool
}

func (s sliceSource) Scan(ctx context.Context, f *Filter, fn func(*Event) error) error {
	for _, e := range s.events {
		if s.useFilter {
			rf := f.ForSource(e.Meta)
			if rf.Never() || !rf.Match(e.Raw) {
				continue
			}
		}
		if !f.Earliest.IsZero() && e.Time < timeEpoch(f.Earliest) {
			continue
		}
		if !f.Latest.IsZero() && e.Time >= timeEpoch(f.Latest) {
			continue
		}
		c := &Event{Raw: []byte(string(e.Raw)), Time: e.Time, Meta: e.Meta, JSON: e.JSON, Fields: e.Fields, Offset: e.Offset}
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

var testProps = mustProps(`
# a few of the CloudTrail add-on's fields
src_ip = sourceIPAddress
errorCode = coalesce(errorCode, "success")
user = coalesce('userIdentity.userName', mvindex(split(mvindex(split('userIdentity.arn', ":"), -1), "/"), -1))
`)

func mustProps(s string) *Props {
	p, err := ParseProps(s)
	if err != nil {
		panic(err)
	}
	return p
}

var testMeta = &Meta{Index: "main", Sourcetype: "aws:cloudtrail", Source: "/data/ct.json", Host: "h1", Props: testProps}

var testLines = []string{
	`{"eventTime":"2024-05-01T12:00:00Z","eventName":"StopLogging","eventSource":"cloudtrail.amazonaws.com","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","userName":"alice"},"sourceIPAddress":"203.0.113.5","requestParameters":{"name":"main-trail"},"awsRegion":"us-east-1","recipientAccountId":"111122223333"}`,
	`{"eventTime":"2024-05-01T12:05:00Z","eventName":"AuthorizeSecurityGroupIngress","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/admin/bob"},"sourceIPAddress":"198.51.100.7","requestParameters":{"groupId":"sg-1","ipPermissions":{"items":[{"ipProtocol":"tcp","fromPort":22,"toPort":22,"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"},{"cidrIp":"10.0.0.0/8"}]}}]}},"errorCode":"AccessDenied","awsRegion":"eu-west-1"}`,
	`{"eventTime":"2024-05-01T12:10:00Z","eventName":"ConsoleLogin","userIdentity":{"type":"Root","arn":"arn:aws:iam::111122223333:root"},"sourceIPAddress":"203.0.113.5","responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"MFAUsed":"No"},"requestParameters":null,"count":7,"tags":["a","b","c"]}`,
	`{"eventTime":"2024-05-01T12:15:00Z","eventName":"stoplogging","eventSource":"cloudtrail.amazonaws.com","userIdentity":{"type":"IAMUser","userName":"carol"},"sourceIPAddress":"192.0.2.1","count":12,"note":"contains OR and a\/slash","odd.key":{"x":"dotted"}}`,
}

func testEvents(t *testing.T, lines ...string) []*Event {
	t.Helper()
	var out []*Event
	for i, l := range lines {
		v, err := jsonField([]byte(l), "eventTime", DefaultJSONLimits)
		if err != nil {
			t.Fatal(err)
		}
		sec, _ := ParseTime(v.String())
		out = append(out, &Event{Raw: []byte(l), Time: sec, Meta: testMeta, JSON: true, Offset: int64(i)})
	}
	return out
}

var testNow = time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC)

// runRows runs q and renders each result as "k=v k2=v1|v2" with keys
// sorted, leaving out the fields in hide. It runs twice (with and without
// the Source filters) and fails if the two disagree.
func runRows(t *testing.T, q string, events []*Event, opts Options) ([]string, error) {
	t.Helper()
	if opts.Now.IsZero() {
		opts.Now = testNow
	}
	var results [2][]string
	var errs [2]error
	for i, filter := range []bool{false, true} {
		errs[i] = RunString(context.Background(), q, sliceSource{events: events, useFilter: filter}, opts, func(r Row) error {
			fs, err := r.Fields()
			if err != nil {
				return err
			}
			var parts []string
			for _, f := range fs {
				parts = append(parts, f.Name+"="+strings.Join(f.Value.Strings(), "|"))
			}
			sort.Strings(parts)
			results[i] = append(results[i], strings.Join(parts, " "))
			return nil
		})
	}
	if (errs[0] == nil) != (errs[1] == nil) || !reflect.DeepEqual(results[0], results[1]) {
		t.Fatalf("%s: the Source filter changed the answer:\nwithout: %q %v\nwith:    %q %v", q, results[0], errs[0], results[1], errs[1])
	}
	return results[0], errs[0]
}

type queryCase struct {
	name string
	q    string
	want []string
	err  string // substring of the expected error
}

func runCases(t *testing.T, events []*Event, opts Options, cases []queryCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := runRows(t, tc.q, events, opts)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("%s: error %v, want one containing %q", tc.q, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.q, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s\n got %s\nwant %s", tc.q, fmtRows(got), fmtRows(tc.want))
			}
		})
	}
}

func fmtRows(rows []string) string {
	if len(rows) == 0 {
		return "(none)"
	}
	return fmt.Sprintf("%d rows:\n  %s", len(rows), strings.Join(rows, "\n  "))
}

func TestSearch(t *testing.T) {
	evs := testEvents(t, testLines...)
	runCases(t, evs, Options{}, []queryCase{
		{name: "field equals, case-insensitive value", q: `eventName=stoplogging | table eventName`,
			want: []string{"eventName=StopLogging", "eventName=stoplogging"}},
		{name: "field names are case-sensitive", q: `EventName=StopLogging | table eventName`, want: nil},
		{name: "wildcard value", q: `eventName=Stop* | table eventName`,
			want: []string{"eventName=StopLogging", "eventName=stoplogging"}},
		{name: "wildcard inside", q: `userIdentity.arn=*:user/* | table user`, want: []string{"user=alice"}},
		{name: "quoted value with space", q: `note="contains OR and a/slash" | table eventName`, want: []string{"eventName=stoplogging"}},
		{name: "quoted dotted field name", q: `"additionalEventData.MFAUsed"=No | table eventName`, want: []string{"eventName=ConsoleLogin"}},
		{name: "dotted key in the record", q: `odd.key.x=dotted | table eventName`, want: []string{"eventName=stoplogging"}},
		{name: "array path multivalue any", q: `requestParameters.ipPermissions.items{}.ipRanges.items{}.cidrIp=10.0.0.0/8 | table eventName`,
			want: []string{"eventName=AuthorizeSecurityGroupIngress"}},
		{name: "!= excludes events without the field", q: `eventSource!=cloudtrail.amazonaws.com | table eventName`, want: nil},
		{name: "NOT includes events without the field", q: `NOT eventSource=cloudtrail.amazonaws.com | table eventName`,
			want: []string{"eventName=AuthorizeSecurityGroupIngress", "eventName=ConsoleLogin"}},
		{name: "array of scalars is field{}", q: `tags{}=b | table eventName tags{}`, want: []string{"eventName=ConsoleLogin tags{}=a|b|c"}},
		{name: "no field without {}", q: `tags=* | table eventName`, want: nil},
		{name: "!= on multivalue: no value may match", q: `tags{}!=b | table eventName`, want: nil},
		{name: "!= on multivalue other value", q: `tags{}!=z | table eventName`, want: []string{"eventName=ConsoleLogin"}},
		{name: "OR binds tighter than implicit AND", q: `eventName=StopLogging OR eventName=ConsoleLogin sourceIPAddress=203.0.113.5 | table eventName`,
			want: []string{"eventName=StopLogging", "eventName=ConsoleLogin"}},
		{name: "OR binds tighter than explicit AND", q: `sourceIPAddress=192.0.2.1 AND eventName=ConsoleLogin OR eventName=stoplogging | table eventName`,
			want: []string{"eventName=StopLogging", "eventName=stoplogging"}[1:]},
		{name: "parentheses", q: `(eventName=StopLogging OR eventName=ConsoleLogin) sourceIPAddress=203.0.113.5 | table eventName`,
			want: []string{"eventName=StopLogging", "eventName=ConsoleLogin"}},
		{name: "NOT binds tightest", q: `NOT eventName=StopLogging OR eventName=ConsoleLogin | table eventName`,
			want: []string{"eventName=AuthorizeSecurityGroupIngress", "eventName=ConsoleLogin"}},
		{name: "IN list", q: `eventName IN (ConsoleLogin, "AuthorizeSecurityGroupIngress") | table eventName`,
			want: []string{"eventName=AuthorizeSecurityGroupIngress", "eventName=ConsoleLogin"}},
		{name: "IN with wildcard and no spaces", q: `eventName IN (Console*,nothing) | table eventName`, want: []string{"eventName=ConsoleLogin"}},
		{name: "numeric comparison", q: `count>9 | table eventName`, want: []string{"eventName=stoplogging"}},
		{name: "numeric not lexical", q: `count<10 | table eventName`, want: []string{"eventName=ConsoleLogin"}},
		{name: "exists", q: `count=* | table eventName`, want: []string{"eventName=ConsoleLogin", "eventName=stoplogging"}},
		{name: "null is a value", q: `requestParameters=null | table eventName`, want: []string{"eventName=ConsoleLogin"}},
		{name: "bare term against raw, case-insensitive", q: `ACCESSDENIED | table eventName`, want: []string{"eventName=AuthorizeSecurityGroupIngress"}},
		{name: "bare term matches whole terms only", q: `Logging | table eventName`, want: nil},
		{name: "bare term with wildcard", q: `*Logging | table eventName`, want: []string{"eventName=StopLogging", "eventName=stoplogging"}},
		{name: "bare phrase", q: `"assumed-role/admin" | table eventName`, want: []string{"eventName=AuthorizeSecurityGroupIngress"}},
		{name: "calculated field", q: `src_ip=203.0.113.5 errorCode=success | table eventName`, want: []string{"eventName=StopLogging", "eventName=ConsoleLogin"}},
		{name: "calculated default errorCode", q: `errorCode=AccessDenied | table user`, want: []string{"user=bob"}},
		{name: "metadata fields", q: `index=main sourcetype=aws:cloudtrail host=h1 source=*ct.json eventName=ConsoleLogin | table eventName`, want: []string{"eventName=ConsoleLogin"}},
		{name: "metadata mismatch", q: `sourcetype=aws:vpcflow | table eventName`, want: nil},
		{name: "NOT metadata", q: `NOT sourcetype=aws:vpcflow eventName=ConsoleLogin | table eventName`, want: []string{"eventName=ConsoleLogin"}},
		{name: "star", q: `* | stats count`, want: []string{"count=4"}},
		{name: "search later in the pipeline", q: `* | eval x=if(count>10,"big","small") | search x=BIG | table eventName x`, want: []string{"eventName=stoplogging x=big"}},
		{name: "date fields", q: `date_hour=12 date_minute>=10 date_wday=wednesday | table eventName`, want: []string{"eventName=ConsoleLogin", "eventName=stoplogging"}},
		{name: "earliest and latest inline", q: `earliest=05/01/2024:12:05:00 latest=05/01/2024:12:15:00 | table eventName`,
			want: []string{"eventName=AuthorizeSecurityGroupIngress", "eventName=ConsoleLogin"}},
		{name: "relative earliest", q: `earliest=-1d@d | stats count`, want: []string{"count=4"}},
		{name: "and, or in lower case are terms", q: `eventName=ConsoleLogin or | stats count`, want: []string{"count=0"}},
	})
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		q, want string
	}{
		{"| tstats count where index=main", `unsupported command "tstats" at offset 2 (line 1, column 3)`},
		{"eventName=x | transaction user", `unsupported command "transaction" at offset 14 (line 1, column 15)`},
		{"eventName=x\n| iplocation src", `unsupported command "iplocation" at offset 14 (line 2, column 3)`},
		{"* | eval x=nosuch(y)", `unsupported function "nosuch" at offset 11`},
		{"* | where levenshtein(a,b) > 1", `unsupported function "levenshtein" at offset 10`},
		{"* | stats perc95(x)", `stats: unsupported function "perc95" at offset 10`},
		{"* | stats count(eval(x>1))", `unsupported eval() inside count()`},
		{"* | eval x=if(a,b)", `if() takes 3 arguments, got 2`},
		{"* | eval x=match(a, \"(\")", `match(): regular expression "("`},
		{"* | bin _time", `bin needs span=`},
		{"* | sort - count | head -3", `head: expected a count`},
		{"a=\"b", `unterminated quoted string at offset 2`},
		{"(a=b", `unbalanced parenthesis`},
		{"a=b)", `unbalanced parenthesis`},
		{"a OR", `search expression ends early`},
		{"* | eval", `eval: expected a field name`},
		{"* | rex field=x \"(?<a>\"", `rex: regular expression`},
		{"* | rex \"no groups\"", `no named group`},
		{"* | dedup x sortby -y", `unsupported sortby`},
		{"* | fillnull valu=1", `fillnull: unsupported option valu=`},
		{"* | table", `table needs field names`},
		{"eventName=x [search y]", `unsupported subsearch`},
		{"| eval x=1", `command "eval" cannot start a search`},
		{"* | makeresults", `command "makeresults" must start the search`},
		{"* | append [search x", `subsearch is missing its closing ]`},
		{"`cloudtrail` x", `unexpanded macro`},
		{"latest_time=-1h x", `unsupported time modifier "latest_time"`},
		{"* | convert foo(x)", `convert: unsupported function "foo"`},
		{"* | join [search x]", `join needs the fields to join on`},
		{"* | rename a as", `rename: expected a field name`},
		{"* | rename a* as b", `same number of wildcards`},
	}
	for _, tc := range tests {
		t.Run(tc.q, func(t *testing.T) {
			_, err := Parse(tc.q)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse(%q) = %v, want an error containing %q", tc.q, err, tc.want)
			}
		})
	}
}

func TestParseErrorPosition(t *testing.T) {
	_, err := Parse("sourcetype=aws:cloudtrail\n  | stats count\n  | anomalydetection count")
	var e *Error
	if !errorAs(err, &e) {
		t.Fatalf("want *Error, got %v", err)
	}
	if e.Line != 3 || e.Column != 5 || e.Offset != 46 {
		t.Fatalf("got line %d column %d offset %d, want 3, 5, 46", e.Line, e.Column, e.Offset)
	}
}

func errorAs(err error, target **Error) bool {
	e, ok := err.(*Error)
	if ok {
		*target = e
	}
	return ok
}
