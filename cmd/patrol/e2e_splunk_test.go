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

// TestEndToEndSplunk runs `patrol once` against a fake splunkd speaking the
// REST protocol, with local tickets: one ticket per alert, then none.
func TestEndToEndSplunk(t *testing.T) {
	fake := splunktest.New(t, splunktest.Options{Token: "splunk-token"})
	t.Setenv("SPLUNK_TOKEN", "splunk-token")
	now := time.Now()
	ev := func(ago time.Duration, trail string) splunktest.Event {
		return splunktest.Event{Time: now.Add(-ago), Fields: map[string][]string{
			"sourcetype": {"aws:cloudtrail"}, "eventName": {"StopLogging"}, "errorCode": {"success"},
			"recipientAccountId": {e2eAccount}, "awsRegion": {"us-east-1"}, "requestParameters.name": {trail},
			"userIdentity.arn": {"arn:aws:iam::111122223333:user/mallory"}, "sourceIPAddress": {"192.0.2.66"},
		}}
	}
	fake.Add(ev(30*time.Minute, "org-trail"), ev(20*time.Minute, "org-trail"), ev(10*time.Minute, "audit-trail"))

	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "detections"), 0o755)
	os.WriteFile(filepath.Join(dir, "detections", "a_stop.toml"), []byte(e2eStop), 0o644)
	conf := filepath.Join(dir, "config.toml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`
[search]
backend = "splunk"
[search.splunk]
url = %q
allow_insecure_http = true
token_env = "SPLUNK_TOKEN"
[search.macros]
cloudtrail = "sourcetype=aws:cloudtrail"
[tickets]
backend = "local"
`, fake.URL)), 0o644)

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
