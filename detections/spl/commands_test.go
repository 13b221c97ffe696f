package spl

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestStats(t *testing.T) {
	evs := testEvents(t, testLines...)
	runCases(t, evs, Options{}, []queryCase{
		{name: "count by, sorted by group", q: `* | stats count by src_ip`,
			want: []string{"count=1 src_ip=192.0.2.1", "count=1 src_ip=198.51.100.7", "count=2 src_ip=203.0.113.5"}},
		{name: "count without events", q: `nothing_matches_this | stats count`, want: []string{"count=0"}},
		{name: "count by without events", q: `nothing_matches_this | stats count by x`, want: nil},
		{name: "by skips null", q: `* | stats count by eventSource`, want: []string{"count=2 eventSource=cloudtrail.amazonaws.com"}},
		{name: "count(field), dc, sum, avg", q: `* | stats count(count) as n dc(src_ip) as ips sum(count) as total avg(count) as mean`,
			want: []string{"ips=3 mean=9.5 n=2 total=19"}},
		{name: "values sorted distinct, list in order", q: `* | stats values(src_ip) as v list(src_ip) as l`,
			want: []string{"l=203.0.113.5|198.51.100.7|203.0.113.5|192.0.2.1 v=192.0.2.1|198.51.100.7|203.0.113.5"}},
		{name: "default output names", q: `* | stats values(user) dc(user) count`, want: []string{"count=4 dc(user)=4 values(user)=alice|bob|carol|root"}},
		{name: "min max numbers and times", q: `* | stats min(_time) as first max(_time) as last min(count) max(count) | convert ctime(first) ctime(last)`,
			want: []string{"first=05/01/2024 12:00:00 last=05/01/2024 12:15:00 max(count)=12 min(count)=7"}},
		{name: "min max strings", q: `* | stats min(eventName) as lo max(eventName) as hi`, want: []string{"hi=stoplogging lo=AuthorizeSecurityGroupIngress"}},
		{name: "earliest latest first last", q: `* | stats earliest(user) as e latest(user) as l first(user) as f last(user) as z`,
			want: []string{"e=alice f=alice l=carol z=carol"}},
		{name: "by multivalue field splits", q: `* | stats count by requestParameters.ipPermissions.items{}.ipRanges.items{}.cidrIp`,
			want: []string{"count=1 requestParameters.ipPermissions.items{}.ipRanges.items{}.cidrIp=0.0.0.0/0", "count=1 requestParameters.ipPermissions.items{}.ipRanges.items{}.cidrIp=10.0.0.0/8"}},
		{name: "two by fields with commas", q: `* | stats count, dc(eventName) as names by src_ip, errorCode`,
			want: []string{"count=1 errorCode=success names=1 src_ip=192.0.2.1", "count=1 errorCode=AccessDenied names=1 src_ip=198.51.100.7", "count=2 errorCode=success names=2 src_ip=203.0.113.5"}},
		{name: "stdev range median mode", q: `* | eval x=case(user="alice",1,user="bob",2,user="root",3,true(),6) | stats stdev(x) as sd range(x) as r median(x) as m mode(user) as mo`,
			want: []string{"m=2 mo=alice r=5 sd=2.160246899469287"}},
		{name: "wildcard values as wildcard", q: `eventName=StopLogging OR eventName=AuthorizeSecurityGroupIngress | stats values(requestParameters.*) as * by user`,
			want: []string{"name=main-trail user=alice", "groupId=sg-1 ipPermissions.items{}.fromPort=22 ipPermissions.items{}.ipProtocol=tcp ipPermissions.items{}.ipRanges.items{}.cidrIp=0.0.0.0/0|10.0.0.0/8 ipPermissions.items{}.toPort=22 user=bob", "user=carol"}},
		{name: "dc of _raw", q: `* | stats dc(_raw) as n`, want: []string{"n=4"}},
		{name: "bin then stats by _time", q: `* | bin _time span=10m | stats count by _time | eval t=strftime(_time, "%H:%M") | table t count`,
			want: []string{"count=2 t=12:00", "count=2 t=12:10"}},
		{name: "bucket span first", q: `* | bucket span=1h _time | stats count by _time`, want: []string{"_time=1714564800 count=4"}},
		{name: "eventstats", q: `* | eventstats count as n by src_ip | table user n`,
			want: []string{"n=2 user=alice", "n=1 user=bob", "n=2 user=root", "n=1 user=carol"}},
		{name: "eventstats avg stdev", q: `* | eval x=if(user="carol", 10, 1) | eventstats avg(x) as a stdev(x) as s | where x > a+s | table user`,
			want: []string{"user=carol"}},
		{name: "eventstats keeps rows without group", q: `* | eventstats count as n by eventSource | table user n`,
			want: []string{"n=2 user=alice", "user=bob", "user=root", "n=2 user=carol"}},
	})
}

func TestFieldCommands(t *testing.T) {
	evs := testEvents(t, testLines...)
	runCases(t, evs, Options{}, []queryCase{
		{name: "table keeps order of rows and only listed fields", q: `* | table user, src_ip`,
			want: []string{"src_ip=203.0.113.5 user=alice", "src_ip=198.51.100.7 user=bob", "src_ip=203.0.113.5 user=root", "src_ip=192.0.2.1 user=carol"}},
		{name: "table wildcard", q: `eventName=ConsoleLogin | table additionalEventData.* responseElements.*`,
			want: []string{"additionalEventData.MFAUsed=No responseElements.ConsoleLogin=Success"}},
		{name: "fields minus", q: `eventName=ConsoleLogin | table user src_ip count | fields - src_ip`, want: []string{"count=7 user=root"}},
		{name: "fields minus wildcard", q: `eventName=ConsoleLogin | table user src_ip sourceIPAddress | fields - s*`, want: []string{"user=root"}},
		{name: "fields plus keeps _time", q: `eventName=ConsoleLogin | fields user | eval t=_time | table user t`, want: []string{"t=1714565400 user=root"}},
		{name: "fields keeps only listed", q: `eventName=ConsoleLogin | fields + user count | fields - _time _raw`, want: []string{"count=7 user=root"}},
		{name: "rename", q: `eventName=ConsoleLogin | rename user as who, count AS n | table who n user`, want: []string{"n=7 who=root"}},
		{name: "rename wildcard", q: `eventName=AuthorizeSecurityGroupIngress | rename requestParameters.* as rp_* | table rp_groupId requestParameters.groupId`, want: []string{"rp_groupId=sg-1"}},
		{name: "rename wildcard to bare", q: `user=alice | rename requestParameters.* as * | table name`, want: []string{"name=main-trail"}},
		{name: "rename dotted array field", q: `eventName=AuthorizeSecurityGroupIngress | rename requestParameters.ipPermissions.items{}.ipRanges.items{}.cidrIp as cidr | table cidr`,
			want: []string{"cidr=0.0.0.0/0|10.0.0.0/8"}},
		{name: "rename missing is a no-op", q: `eventName=ConsoleLogin | rename nosuch as user | table user`, want: []string{"user=root"}},
		{name: "eval overrides event field", q: `eventName=ConsoleLogin | eval eventName=lower(eventName) | search eventName=consolelogin | table eventName`, want: []string{"eventName=consolelogin"}},
	})
}

func TestOrderCommands(t *testing.T) {
	evs := testEvents(t, testLines...)
	runCases(t, evs, Options{}, []queryCase{
		{name: "sort numeric descending", q: `* | eval n=case(user="alice",9,user="bob",10,user="root",100,true(),2) | sort - n | table user`,
			want: []string{"user=root", "user=bob", "user=alice", "user=carol"}},
		{name: "sort numeric not lexical", q: `* | eval n=case(user="alice",9,user="bob",10,user="root",100,true(),2) | sort n | table n`,
			want: []string{"n=2", "n=9", "n=10", "n=100"}},
		{name: "sort str()", q: `* | eval n=case(user="alice",9,user="bob",10,user="root",100,true(),2) | sort str(n) | table n`,
			want: []string{"n=10", "n=100", "n=2", "n=9"}},
		{name: "sort lexical upper before lower", q: `* | sort eventName | table eventName`,
			want: []string{"eventName=AuthorizeSecurityGroupIngress", "eventName=ConsoleLogin", "eventName=StopLogging", "eventName=stoplogging"}},
		{name: "sort two keys with -field", q: `* | sort src_ip, -_time | table user`,
			want: []string{"user=carol", "user=bob", "user=root", "user=alice"}},
		{name: "sort limit", q: `* | sort 2 -_time | table user`, want: []string{"user=carol", "user=root"}},
		{name: "sort missing last", q: `* | sort count | table user`, want: []string{"user=root", "user=carol", "user=alice", "user=bob"}},
		{name: "dedup keeps first", q: `* | dedup src_ip | table user`, want: []string{"user=alice", "user=bob", "user=carol"}},
		{name: "dedup drops null", q: `* | dedup eventSource | table user`, want: []string{"user=alice"}},
		{name: "dedup keepempty", q: `* | dedup eventSource keepempty=true | table user`, want: []string{"user=alice", "user=bob", "user=root"}},
		{name: "dedup count", q: `* | dedup 2 src_ip | table user`, want: []string{"user=alice", "user=bob", "user=root", "user=carol"}},
		{name: "head", q: `* | head 2 | table user`, want: []string{"user=alice", "user=bob"}},
		{name: "head default 10", q: `* | head | stats count`, want: []string{"count=4"}},
		{name: "head limit=", q: `* | head limit=1 | table user`, want: []string{"user=alice"}},
		{name: "head after stats", q: `* | stats count by user | head 1`, want: []string{"count=1 user=alice"}},
		{name: "tail reverses", q: `* | tail 2 | table user`, want: []string{"user=carol", "user=root"}},
		{name: "head 0", q: `* | head 0 | stats count`, want: []string{"count=0"}},
	})
}

func TestTransformCommands(t *testing.T) {
	evs := testEvents(t, testLines...)
	runCases(t, evs, Options{}, []queryCase{
		{name: "fillnull default 0 fills every field", q: `* | table user count eventSource | fillnull`,
			want: []string{"count=0 eventSource=cloudtrail.amazonaws.com user=alice", "count=0 eventSource=0 user=bob", "count=7 eventSource=0 user=root", "count=12 eventSource=cloudtrail.amazonaws.com user=carol"}},
		{name: "fillnull with fields and value", q: `* | fillnull value=NA eventSource nosuch | table user eventSource nosuch | head 2`,
			want: []string{"eventSource=cloudtrail.amazonaws.com nosuch=NA user=alice", "eventSource=NA nosuch=NA user=bob"}},
		{name: "fillnull then stats keeps events", q: `* | fillnull | stats count by eventSource`,
			want: []string{"count=2 eventSource=0", "count=2 eventSource=cloudtrail.amazonaws.com"}},
		{name: "mvexpand", q: `eventName=ConsoleLogin | mvexpand tags{} | table tags{}`, want: []string{"tags{}=a", "tags{}=b", "tags{}=c"}},
		{name: "mvexpand limit", q: `eventName=ConsoleLogin | mvexpand tags{} limit=2 | table tags{}`, want: []string{"tags{}=a", "tags{}=b"}},
		{name: "mvexpand single value passes", q: `eventName=ConsoleLogin | mvexpand user | table user`, want: []string{"user=root"}},
		{name: "bin numeric range", q: `* | bin count as b span=5 | table b`, want: []string{"", "", "b=5-10", "b=10-15"}},
		{name: "bin day aligns to midnight", q: `* | bin _time span=1d | dedup _time | eval d=strftime(_time, "%F %T") | table d`, want: []string{"d=2024-05-01 00:00:00"}},
		{name: "convert ctime with timeformat", q: `eventName=ConsoleLogin | convert timeformat="%Y-%m-%dT%H:%M:%S" ctime(_time) as t | table t`, want: []string{"t=2024-05-01T12:10:00"}},
		{name: "convert mktime num dur2sec", q: `| makeresults | eval a="2024-05-01", b=" 12 ", c="01:02:03" | convert timeformat="%Y-%m-%d" mktime(a) num(b) dur2sec(c) | table a b c`,
			want: []string{"a=1714521600 b=12 c=3723"}},
		{name: "convert in a location", q: `eventName=ConsoleLogin | convert ctime(_time) as t | table t`, want: []string{"t=05/01/2024 14:10:00"}},
	}[:10])
	// the last case runs in another time zone
	loc := time.FixedZone("CEST", 2*3600)
	runCases(t, evs, Options{Location: loc}, []queryCase{
		{name: "convert in a location", q: `eventName=ConsoleLogin | convert ctime(_time) as t | table t`, want: []string{"t=05/01/2024 14:10:00"}},
		{name: "bin day in a location", q: `* | bin _time span=1d | dedup _time | eval d=strftime(_time, "%F %T") | table d`, want: []string{"d=2024-05-01 00:00:00"}},
	})
}

func TestExtractCommands(t *testing.T) {
	policy := `{"eventTime":"2024-05-01T12:00:00Z","eventName":"CreatePolicyVersion","requestParameters":{"policyDocument":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"},{\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\",\"s3:PutObject\"],\"Principal\":{\"AWS\":\"*\"}}]}"},"userAgent":"aws-cli/2.0 Python/3.8"}`
	evs := testEvents(t, policy, testLines[0])
	runCases(t, evs, Options{}, []queryCase{
		{name: "spath input output path with mvexpand", q: `eventName=CreatePolicyVersion | spath input=requestParameters.policyDocument output=st path=Statement{} | mvexpand st | spath input=st output=action path=Action | table action`,
			want: []string{"action=*", `action=["s3:GetObject","s3:PutObject"]`}},
		{name: "spath array path", q: `eventName=CreatePolicyVersion | spath input=requestParameters.policyDocument output=a path=Statement{}.Action{} | table a`,
			want: []string{"a=s3:GetObject|s3:PutObject"}},
		{name: "spath index is 1-based", q: `eventName=CreatePolicyVersion | spath input=requestParameters.policyDocument output=e path=Statement{2}.Principal.AWS | table e`,
			want: []string{"e=*"}},
		{name: "spath all fields", q: `eventName=CreatePolicyVersion | spath input=requestParameters.policyDocument | table Version Statement{}.Effect`,
			want: []string{"Statement{}.Effect=Allow|Allow Version=2012-10-17"}},
		{name: "spath on _raw by default", q: `eventName=StopLogging | spath output=trail path=requestParameters.name | table trail`, want: []string{"trail=main-trail"}},
		{name: "spath path without key name", q: `eventName=StopLogging | spath path=userIdentity.userName | table userIdentity.userName`, want: []string{"userIdentity.userName=alice"}},
		{name: "spath missing path", q: `eventName=StopLogging | spath output=x path=no.such | table x eventName`, want: []string{"eventName=StopLogging"}},
		{name: "spath on non-JSON is a no-op", q: `eventName=StopLogging | spath input=eventName output=x path=a | table x eventName`, want: []string{"eventName=StopLogging"}},
		{name: "rex named groups", q: `eventName=CreatePolicyVersion | rex field=userAgent "^(?<tool>[a-z-]+)/(?<ver>[\d.]+)" | table tool ver`,
			want: []string{"tool=aws-cli ver=2.0"}},
		{name: "rex on _raw as Splunk detections use it", q: `eventName=CreatePolicyVersion | rex field=_raw "(?<json_field>{.+})" | spath input=json_field output=ua path=userAgent | table ua`,
			want: []string{"ua=aws-cli/2.0 Python/3.8"}},
		{name: "rex max_match", q: `eventName=StopLogging | rex field=sourceIPAddress max_match=0 "(?<octet>\d+)" | table octet`, want: []string{"octet=203|0|113|5"}},
		{name: "rex no match leaves fields", q: `eventName=StopLogging | rex field=eventName "(?<x>zzz)" | table x eventName`, want: []string{"eventName=StopLogging"}},
		{name: "rex sed", q: `eventName=StopLogging | rex field=sourceIPAddress mode=sed "s/\.\d+$/.0/" | table sourceIPAddress`, want: []string{"sourceIPAddress=203.0.113.0"}},
		{name: "rex sed global", q: `eventName=StopLogging | rex field=sourceIPAddress mode=sed "s/\d/x/g" | table sourceIPAddress`, want: []string{"sourceIPAddress=xxx.x.xxx.x"}},
	})
}

func TestLookupAndSubsearches(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "owners.csv")
	if err := os.WriteFile(csvPath, []byte("account,owner,team\n111122223333,alice@example.com,platform\n111122223333,ops@example.com,platform\n999,x,y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := Options{Lookups: map[string]string{"owners": csvPath, "missing": filepath.Join(dir, "nope.csv")}}
	evs := testEvents(t, testLines...)
	runCases(t, evs, opts, []queryCase{
		{name: "lookup OUTPUT with AS, multiple matches", q: `user=alice | lookup owners account AS recipientAccountId OUTPUT owner AS who team | table who team`,
			want: []string{"team=platform|platform who=alice@example.com|ops@example.com"}},
		{name: "lookup all columns", q: `user=alice | lookup owners account AS recipientAccountId | table owner team`,
			want: []string{"owner=alice@example.com|ops@example.com team=platform|platform"}},
		{name: "lookup no match", q: `eventName=ConsoleLogin | eval recipientAccountId="1" | lookup owners account AS recipientAccountId OUTPUT owner | table owner eventName`,
			want: []string{"eventName=ConsoleLogin"}},
		{name: "lookup OUTPUTNEW keeps existing", q: `user=alice | eval owner="set" | lookup owners account AS recipientAccountId OUTPUTNEW owner | table owner`,
			want: []string{"owner=set"}},
		{name: "lookup unknown table", q: `* | lookup nosuch a`, err: `unknown lookup table "nosuch"`},
		{name: "lookup missing file", q: `* | lookup missing a`, err: "nope.csv"},
		{name: "lookup unknown column", q: `* | lookup owners nocol`, err: `no column "nocol"`},
		{name: "inputlookup", q: `| inputlookup owners | stats count by team`, want: []string{"count=2 team=platform", "count=1 team=y"}},
		{name: "append", q: `user=alice | table user | append [search eventName=ConsoleLogin | table user]`, want: []string{"user=alice", "user=root"}},
		{name: "append with stats", q: `user=alice | stats count | append [| makeresults | eval count=9 | table count]`, want: []string{"count=1", "count=9"}},
		{name: "join inner", q: `* | table src_ip user | join src_ip [search eventName=ConsoleLogin | eval login=1 | table src_ip login]`,
			want: []string{"login=1 src_ip=203.0.113.5 user=alice", "login=1 src_ip=203.0.113.5 user=root"}},
		{name: "join left", q: `* | table src_ip user | join type=left src_ip [search eventName=ConsoleLogin | eval login=1 | table src_ip login]`,
			want: []string{"login=1 src_ip=203.0.113.5 user=alice", "src_ip=198.51.100.7 user=bob", "login=1 src_ip=203.0.113.5 user=root", "src_ip=192.0.2.1 user=carol"}},
		{name: "join overwrites", q: `eventName=StopLogging | table src_ip user | join src_ip [search eventName=ConsoleLogin | table src_ip user]`,
			want: []string{"src_ip=203.0.113.5 user=root"}},
		{name: "join max=0", q: `eventName=ConsoleLogin | table src_ip | join max=0 src_ip [search * | table src_ip user]`,
			want: []string{"src_ip=203.0.113.5 user=alice", "src_ip=203.0.113.5 user=root"}},
	})
	q, err := Parse(`* | lookup owners a | append [search x | lookup other b]`)
	if err != nil {
		t.Fatal(err)
	}
	if got := q.Lookups(); len(got) != 2 || got[0] != "owners" || got[1] != "other" {
		t.Fatalf("Lookups() = %q", got)
	}
}

// TestLookupRowsInMemory: rows given in memory join the CSV of the same
// name (an account it lists already is not added twice, and keeps its
// other columns), or make the whole table when no file is named.
func TestLookupRowsInMemory(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "org.csv")
	if err := os.WriteFile(csvPath, []byte("account_id,name\n111122223333,payments-prod\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	accounts := Table{Columns: []string{"account_id"}, Rows: [][]string{{"111122223333"}, {"444455556666"}, {"444455556666"}}}
	evs := testEvents(t, testLines...)
	merged := Options{Lookups: map[string]string{"org": csvPath}, Rows: map[string]Table{"org": accounts}}
	runCases(t, evs, merged, []queryCase{
		{name: "the CSV's account keeps its name, once", q: `| inputlookup org | table account_id name`,
			want: []string{"account_id=111122223333 name=payments-prod", "account_id=444455556666"}},
		{name: "an added account matches", q: `user=alice | eval a="444455556666" | lookup org account_id AS a OUTPUT account_id AS own | table own`,
			want: []string{"own=444455556666"}},
		{name: "the CSV's account matches once", q: `user=alice | lookup org account_id AS recipientAccountId OUTPUT account_id AS own name | table own name`,
			want: []string{"name=payments-prod own=111122223333"}},
	})
	alone := Options{Rows: map[string]Table{"org": accounts, "empty": {Columns: []string{"account_id"}}}}
	runCases(t, evs, alone, []queryCase{
		{name: "rows without a file are the table", q: `| inputlookup org | table account_id`,
			want: []string{"account_id=111122223333", "account_id=444455556666"}},
		{name: "a table of no rows has its columns", q: `user=alice | lookup empty account_id AS recipientAccountId OUTPUT account_id AS own | table own user`,
			want: []string{"user=alice"}},
	})
}
