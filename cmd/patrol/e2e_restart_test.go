package main

// State that must outlive a process: a sequence whose steps are seen by
// two `patrol once` processes, and a first-seen detection's known values,
// each reloaded from the detection files by a new process.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/detections"
)

// The steps, the sequence over them and a first-seen detection, as files.
// The first-seen detection makes one alert per event (group_by eventID),
// so that only its known values, not suppression, keep a repeat quiet.
var restartDetections = map[string]string{
	"created.toml": `id = "e2e-key-created"
title = "Access key created"
severity = "medium"
schedule = "@every 5m"
search = '''
` + "`cloudtrail`" + ` eventName=CreateAccessKey errorCode=success
| table _time recipientAccountId userIdentity.arn requestParameters.userName responseElements.accessKey.accessKeyId
'''
group_by = ["responseElements.accessKey.accessKeyId"]
[ticket]
summary = "Key {responseElements.accessKey.accessKeyId} created"
`,
	"used.toml": `id = "e2e-key-used"
title = "Access key used"
severity = "medium"
schedule = "@every 5m"
search = '''
` + "`cloudtrail`" + ` eventName=ListBuckets
| table _time recipientAccountId userIdentity.arn userIdentity.accessKeyId sourceIPAddress
'''
group_by = ["userIdentity.accessKeyId"]
[ticket]
summary = "Key {userIdentity.accessKeyId} used"
`,
	"sequence.toml": `id = "e2e-key-created-then-used"
title = "Access key created, then used"
severity = "high"
schedule = "@every 5m"
[sequence]
steps  = ["e2e-key-created", "e2e-key-used"]
by     = { "e2e-key-created" = ["responseElements.accessKey.accessKeyId"], "e2e-key-used" = ["userIdentity.accessKeyId"] }
within = "24h"
[ticket]
summary = "Key {responseElements.accessKey.accessKeyId} created, then used from {step2.sourceIPAddress}"
`,
	"network.toml": `id = "e2e-new-address"
title = "Principal calling from a new address"
severity = "medium"
schedule = "@every 5m"
search = '''
` + "`cloudtrail`" + ` eventName=DescribeInstances
| table _time eventID userIdentity.arn sourceIPAddress
'''
group_by = ["eventID"]
[first_seen]
fields = ["userIdentity.arn", "sourceIPAddress"]
learn  = "7d"
[ticket]
summary = "{userIdentity.arn} from {sourceIPAddress} ({eventID})"
`,
}

// recordAt is a record of eventName by user with key from ip at a time, with an
// event id of its own.
func recordAt(when time.Time, name, user, key, ip string, params, response map[string]any) map[string]any {
	r := record(name, user, key, ip, params)
	r["eventTime"] = when.UTC().Format(time.RFC3339)
	r["eventID"] = fmt.Sprintf("e2e-%s-%s-%d", name, ip, when.Unix())
	if response != nil {
		r["responseElements"] = response
	}
	return r
}

// TestEndToEndStateAcrossProcesses: two real `patrol once` processes (the
// built binary) over one state file. The first sees a sequence's first step
// and the second its second step: the sequence fires once, in the second,
// and a third process fires nothing more. A first-seen detection, loaded
// from its file by each process, alerts once for a value after learning
// and not again when the second process sees the value again, while a new
// value still alerts.
//
// Every command runs as a process of its own, so the test runs beside the
// other process tests.
func TestEndToEndStateAcrossProcesses(t *testing.T) {
	t.Parallel()
	bin := buildPatrol(t)
	conf := tuningDir(t, restartDetections)
	dir := filepath.Dir(conf)
	const settle = detections.DefaultSettle // the detections set none
	now := time.Now()
	const newKey = "AKIAEXAMPLERESTART1"
	created := recordAt(now.Add(-time.Hour), "CreateAccessKey", "admin", "AKIAEXAMPLEADMIN001", "192.0.2.10",
		map[string]any{"userName": "victim"},
		map[string]any{"accessKey": map[string]any{"accessKeyId": newKey, "userName": "victim", "status": "Active"}})
	writeRecords(t, dir, "1.json", created,
		recordAt(now.Add(-10*24*time.Hour), "DescribeInstances", "ops", "AKIAEXAMPLEOPS00001", "198.51.100.1", nil, nil), // learnt
		recordAt(now.Add(-2*24*time.Hour), "DescribeInstances", "ops", "AKIAEXAMPLEOPS00001", "198.51.100.2", nil, nil),  // new: alerts
	)

	onceProcess := func(run int) {
		t.Helper()
		cmd := exec.Command(bin, "once", "--config", conf)
		cmd.Env = append(os.Environ(), "PATROL_LOG_LEVEL=warn")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("run %d: patrol once: %v\n%s", run, err, out)
		}
	}
	tickets := func() map[string][]string {
		t.Helper()
		out, err := exec.Command(bin, "tickets", "--config", conf, "--json").Output()
		if err != nil {
			t.Fatalf("patrol tickets: %v", err)
		}
		got := map[string][]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			var tk listedTicket
			if err := json.Unmarshal([]byte(line), &tk); err != nil {
				t.Fatalf("%v: %q", err, line)
			}
			got[tk.Detection] = append(got[tk.Detection], tk.Summary)
		}
		for _, s := range got {
			sort.Strings(s)
		}
		return got
	}
	want := func(run int, got map[string][]string, det string, summaries ...string) {
		t.Helper()
		if fmt.Sprint(got[det]) != fmt.Sprint(summaries) {
			t.Errorf("after run %d, %s tickets: %q, want %q", run, det, got[det], summaries)
		}
	}
	opsArn := "arn:aws:iam::" + e2eAccount + ":user/ops"

	onceProcess(1)
	got := tickets()
	want(1, got, "e2e-key-created", "Key "+newKey+" created")
	want(1, got, "e2e-key-used")
	want(1, got, "e2e-key-created-then-used")
	want(1, got, "e2e-new-address", opsArn+" from 198.51.100.2 (e2e-DescribeInstances-198.51.100.2-"+fmt.Sprint(now.Add(-2*24*time.Hour).Unix())+")")

	// Events after the first run's windows (they end settle before it
	// finished), seen only by the second run once its windows reach them.
	later := time.Now().Add(-settle).Truncate(time.Second).Add(time.Second)
	writeRecords(t, dir, "2.json",
		recordAt(later, "ListBuckets", "victim", newKey, "203.0.113.99", nil, nil),
		recordAt(later, "DescribeInstances", "ops", "AKIAEXAMPLEOPS00001", "198.51.100.2", nil, nil), // known: quiet
		recordAt(later, "DescribeInstances", "ops", "AKIAEXAMPLEOPS00001", "198.51.100.3", nil, nil), // new: alerts
	)
	waitFor(t, "the clock to pass the later events by settle", 5*time.Second, func() bool { return !time.Now().Add(-settle).Before(later) })

	onceProcess(2)
	got = tickets()
	want(2, got, "e2e-key-used", "Key "+newKey+" used")
	want(2, got, "e2e-key-created-then-used", "Key "+newKey+" created, then used from 203.0.113.99")
	if n := len(got["e2e-new-address"]); n != 2 {
		t.Errorf("after run 2, e2e-new-address tickets: %q, want the first one and one for 198.51.100.3", got["e2e-new-address"])
	} else if want3 := opsArn + " from 198.51.100.3"; got["e2e-new-address"][1][:len(want3)] != want3 {
		t.Errorf("after run 2, e2e-new-address tickets: %q, want one for 198.51.100.3", got["e2e-new-address"])
	}

	onceProcess(3)
	if again := tickets(); fmt.Sprint(again) != fmt.Sprint(got) {
		t.Errorf("a third run changed the tickets:\n%q\nwant\n%q", again, got)
	}
}
