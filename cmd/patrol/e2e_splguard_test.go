package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller/splunk/splunktest"
)

// writingDetection is a detection whose search ends in tail.
func writingDetection(id, tail string) string {
	return fmt.Sprintf(`id = %q
title = "Writes"
severity = "low"
schedule = "@every 5m"
search = '''
`+"`cloudtrail`"+` eventName=StopLogging
| table _time eventName recipientAccountId requestParameters.name
%s
'''
group_by = ["requestParameters.name"]
[ticket]
summary = "x {requestParameters.name}"
`, id, tail)
}

// TestEndToEndSPLGuard: detections that write, delete or send are named by
// validate and never reach Splunk; the others still run.
func TestEndToEndSPLGuard(t *testing.T) {
	fake := fakeSplunk(t, splunktest.Options{})
	fake.Add(splunktest.Event{Time: time.Now().Add(-10 * time.Minute), Fields: map[string][]string{
		"sourcetype": {"aws:cloudtrail"}, "eventName": {"StopLogging"}, "errorCode": {"success"},
		"recipientAccountId": {e2eAccount}, "awsRegion": {"us-east-1"}, "requestParameters.name": {"org-trail"},
	}})
	dir := t.TempDir()
	dets := filepath.Join(dir, "detections")
	os.MkdirAll(dets, 0o755)
	os.WriteFile(filepath.Join(dets, "a_stop.toml"), []byte(e2eStop), 0o644)
	// Each tail writes with the command named; an apostrophe in a search
	// term (don't) is a plain word to Splunk and opens no string.
	bad := map[string]struct{ tail, cmd string }{
		"b_delete.toml":     {"| delete", "delete"},
		"c_lookup.toml":     {"| outputlookup x.csv", "outputlookup"},
		"d_email.toml":      {`| sendemail to="attacker@example.com"`, "sendemail"},
		"e_collect.toml":    {"| collect index=main", "collect"},
		"f_apostrophe.toml": {"| search user=don't | delete", "delete"},
		"g_map.toml":        {`| map search="search index=aws user=$user$"`, "map"},
	}
	for name, b := range bad {
		os.WriteFile(filepath.Join(dets, name), []byte(writingDetection(strings.TrimSuffix(name[2:], ".toml"), b.tail)), 0o644)
	}
	conf := newTestConfig().splunk(fake.URL).cloudtrail().localTickets().write(t, filepath.Join(dir, "config.toml"))

	code, out, _ := patrol(t, "validate", "--config", conf)
	if code != exitInvalid {
		t.Errorf("validate: exit %d, want %d\n%s", code, exitInvalid, out)
	}
	for name, b := range bad {
		// The command is on line 8 of each file: the search's third line.
		want := filepath.Join(dets, name) + ":8: search: command \"" + b.cmd + "\""
		if !strings.Contains(out, want) {
			t.Errorf("validate does not say %q:\n%s", want, out)
		}
	}

	code, out, errOut := patrol(t, "once", "--config", conf)
	if code != exitInvalid || !strings.Contains(out, "e2e-stop-logging") || strings.Contains(out, "FAILED") {
		t.Errorf("once: exit %d, want %d with the good detection run\n%s\n%s", code, exitInvalid, out, errOut)
	}
	for _, d := range fake.Dispatches() {
		for _, b := range bad {
			if strings.Contains(d.Get("search"), b.tail) {
				t.Errorf("Splunk received %q", d.Get("search"))
			}
		}
	}
	if len(fake.Dispatches()) == 0 {
		t.Error("the good detection did not reach Splunk")
	}
	if _, list, _ := patrol(t, "tickets", "--config", conf, "--json"); strings.Count(list, "\n") != 1 {
		t.Errorf("tickets: %s", list)
	}

	n := len(fake.Dispatches())
	for _, q := range []string{"index=main | delete", "index=aws user=don't | delete", "index=aws O'Brien | outputlookup x.csv"} {
		if code, _, errOut := patrol(t, "search", "--config", conf, q); code != exitInvalid || !strings.Contains(errOut, `command "`) {
			t.Errorf("search %q: exit %d %s", q, code, errOut)
		}
	}
	if d := fake.Dispatches(); len(d) != n {
		t.Errorf("patrol search sent a writing search to Splunk: %q", d[len(d)-1].Get("search"))
	}
}
