package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestUnreachableBackendsFailFast: with Splunk and Jira on closed ports,
// validate --remote and once finish within seconds, with one line per
// backend naming its URL and the cause, and exit 1.
func TestUnreachableBackendsFailFast(t *testing.T) {
	t.Setenv("SPLUNK_TOKEN", "t")
	t.Setenv("JIRA_USER", "bot@example.com")
	t.Setenv("JIRA_TOKEN", "t")
	splunkURL, jiraURL := "https://"+closedPort(t), "http://"+closedPort(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "detections"), 0o755)
	os.WriteFile(filepath.Join(dir, "detections", "a_stop.toml"), []byte(e2eStop), 0o644)
	conf := filepath.Join(dir, "config.toml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`
[search]
backend = "splunk"
[search.splunk]
url = %q
token_env = "SPLUNK_TOKEN"
[search.macros]
cloudtrail = "sourcetype=aws:cloudtrail"
[tickets]
backend = "jira"
[tickets.jira]
url = %q
user_env = "JIRA_USER"
token_env = "JIRA_TOKEN"
project = "SEC"
`, splunkURL, jiraURL)), 0o644)

	for _, cmd := range []string{"validate --remote", "once"} {
		start := time.Now()
		code, out, errOut := patrol(t, append(strings.Fields(cmd), "--config", conf)...)
		took := time.Since(start)
		if code != exitFailed {
			t.Errorf("%s: exit %d, want 1\n%s%s", cmd, code, out, errOut)
		}
		if took > 10*time.Second {
			t.Errorf("%s took %s", cmd, took)
		}
		for _, want := range []string{splunkURL, jiraURL, "connection refused"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", cmd, want, errOut)
			}
		}
		if n := strings.Count(errOut, "\n"); n > 4 || len(errOut) > 600 {
			t.Errorf("%s: %d lines, %d bytes:\n%s", cmd, n, len(errOut), errOut)
		}
		if _, err := os.Stat(filepath.Join(dir, "patrol.db")); cmd == "once" && err == nil {
			t.Errorf("once made a state file although nothing could run")
		}
	}
}
