package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller/splunk/splunktest"
)

// TestEndToEndSplunk runs `patrol once` against a fake splunkd speaking the
// REST protocol, with local tickets: one ticket per alert, then none.
func TestEndToEndSplunk(t *testing.T) {
	fake := fakeSplunk(t, splunktest.Options{})
	now := time.Now()
	ev := func(ago time.Duration, trail string) splunktest.Event {
		return splunktest.Event{Time: now.Add(-ago), Fields: map[string][]string{
			"sourcetype": {"aws:cloudtrail"}, "eventName": {"StopLogging"}, "errorCode": {"success"},
			"recipientAccountId": {e2eAccount}, "awsRegion": {"us-east-1"}, "requestParameters.name": {trail},
			"userIdentity.arn": {"arn:aws:iam::111122223333:user/mallory"}, "sourceIPAddress": {"192.0.2.66"},
		}}
	}
	fake.Add(ev(30*time.Minute, "org-trail"), ev(20*time.Minute, "org-trail"), ev(10*time.Minute, "audit-trail"))

	dir := detectionsDir(t, map[string]string{"a_stop.toml": e2eStop})
	conf := newTestConfig().splunk(fake.URL).cloudtrail().localTickets().write(t, filepath.Join(dir, "config.toml"))

	code, out, errOut := patrol(t, "once", "--config", conf)
	if code != exitOK {
		t.Fatalf("once: exit %d\n%s\n%s", code, out, errOut)
	}
	_, list, _ := patrol(t, "tickets", "--config", conf, "--json")
	if n := strings.Count(list, "\n"); n != 2 {
		t.Fatalf("tickets = %d, want one per trail:\n%s", n, list)
	}
	for _, d := range fake.Dispatches() {
		if d.Get("index_earliest") == "" || d.Get("index_latest") == "" || d.Get("output_mode") != "json" {
			t.Errorf("dispatch without an index-time window or json: %v", d)
		}
	}
	code, out, errOut2 := patrol(t, "once", "--config", conf)
	_, again, _ := patrol(t, "tickets", "--config", conf, "--json")
	if code != exitOK || again != list {
		t.Errorf("second once changed the tickets (exit %d):\n%s\n%s", code, out, again)
	}
	if strings.Contains(errOut+errOut2, "splunk-token") {
		t.Error("the token reached the log")
	}
}

// TestBacktestOnSplunk: a backtest runs the detection's searches on Splunk
// in windows of max_window, reports the jobs' scanCount and runDuration,
// creates no state file, and exits 1 when a search fails.
func TestBacktestOnSplunk(t *testing.T) {
	fake := fakeSplunk(t, splunktest.Options{})
	now := time.Now().UTC().Truncate(time.Second)
	ev := func(ago time.Duration, trail string) splunktest.Event {
		return splunktest.Event{Time: now.Add(-ago), Fields: map[string][]string{
			"sourcetype": {"aws:cloudtrail"}, "eventName": {"StopLogging"}, "errorCode": {"success"},
			"recipientAccountId": {e2eAccount}, "awsRegion": {"us-east-1"}, "requestParameters.name": {trail},
		}}
	}
	fake.Add(ev(50*time.Minute, "org-trail"), ev(40*time.Minute, "org-trail"), ev(10*time.Minute, "audit-trail"))
	dir := detectionsDir(t, map[string]string{"a_stop.toml": e2eStop})
	conf := newTestConfig().splunk(fake.URL).set("search", `max_window = "30m"`).cloudtrail().localTickets().
		write(t, filepath.Join(dir, "config.toml"))
	// The scratch state goes in the temporary folder and is removed.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	scratchLeft := func() []string {
		names, _ := filepath.Glob(filepath.Join(tmp, "*"))
		return names
	}
	from := now.Add(-time.Hour).Format(time.RFC3339)
	code, out, errOut := patrol(t, "backtest", "--config", conf, "--from", from, "--to", now.Format(time.RFC3339), "--json")
	if code != exitOK {
		t.Fatalf("backtest: exit %d\n%s\n%s", code, out, errOut)
	}
	var r struct {
		Windows, Results, Alerts int
		Tickets                  []struct{ Summary string }
		Remediations             []struct{ Action, Mode string }
		ScanCount                int64   `json:"scan_count"`
		RunDuration              float64 `json:"run_duration_seconds"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if r.Windows != 2 || r.Results != 3 || r.Alerts != 2 || len(r.Tickets) != 2 || len(r.Remediations) != 2 || r.Remediations[0].Mode != "auto" ||
		r.ScanCount != 3 || r.RunDuration <= 0 {
		t.Fatalf("report %+v", r)
	}
	if len(fake.Dispatches()) != 2 {
		t.Errorf("%d searches, want one per window", len(fake.Dispatches()))
	}
	if _, err := os.Stat(filepath.Join(dir, "patrol.db")); !os.IsNotExist(err) {
		t.Errorf("a backtest created the state file: %v", err)
	}
	if left := scratchLeft(); len(left) != 0 {
		t.Errorf("the backtest left its scratch state: %v", left)
	}
	fake.Fail(splunktest.Fault{Endpoint: splunktest.Dispatch, Status: 400, Text: "Error in 'search' command"})
	if code, out, _ := patrol(t, "backtest", "--config", conf, "--from", from, "--to", "now"); code != exitFailed || !strings.Contains(out, "FAILED") {
		t.Errorf("failed search: exit %d\n%s", code, out)
	}
	if left := scratchLeft(); len(left) != 0 {
		t.Errorf("the failed backtest left its scratch state: %v", left)
	}
}
