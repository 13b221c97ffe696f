package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patrolsec/patrol/poller/splunk/splunktest"
)

// TestValidateReportsEveryProblemTogether: an invalid detection stops
// neither the secret check nor the backend probes; everything found is
// printed in one run, and the exit code is 2 when anything is invalid,
// else 1 when a backend does not answer.
func TestValidateReportsEveryProblemTogether(t *testing.T) {
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	os.Unsetenv("CREDENTIALS_DIRECTORY")
	t.Setenv("SPLUNK_TOKEN", "splunk-token")
	t.Setenv("NO_SUCH_TOKEN", "")
	os.Unsetenv("NO_SUCH_TOKEN")
	t.Setenv("JIRA_USER", "bot@example.com")
	t.Setenv("JIRA_TOKEN", "t")
	fake := splunktest.New(t, splunktest.Options{Token: "splunk-token"})
	closedSplunk, closedJira := "http://"+closedPort(t), "http://"+closedPort(t)

	const badLine = `b_delete.toml:8: search: command "delete"`
	tests := []struct {
		name       string
		bad        bool   // a detection that writes beside the good one
		splunk     string // Splunk's URL
		splunkEnv  string // the variable holding its token
		remote     bool
		want       int
		out, error []string // what stdout and stderr must hold
		notOut     []string
	}{
		{
			name: "bad detection and a secret missing", bad: true, splunk: fake.URL, splunkEnv: "NO_SUCH_TOKEN", want: exitInvalid,
			out:    []string{badLine, "config.toml:7: search.splunk.token_env: environment variable NO_SUCH_TOKEN is not set"},
			notOut: []string{"ok:"},
		},
		{
			name: "bad detection and both backends closed", bad: true, splunk: closedSplunk, splunkEnv: "SPLUNK_TOKEN", remote: true, want: exitInvalid,
			out:    []string{badLine},
			error:  []string{"splunk  " + closedSplunk, "jira    " + closedJira, "connection refused"},
			notOut: []string{"ok:"},
		},
		{
			name: "bad detection, Splunk answers, Jira closed", bad: true, splunk: fake.URL, splunkEnv: "SPLUNK_TOKEN", remote: true, want: exitInvalid,
			out:    []string{badLine, "remote: splunk", "remote: Splunk parses all 1 searches"},
			error:  []string{"jira    " + closedJira},
			notOut: []string{"ok:"},
		},
		{
			name: "valid, Jira closed", splunk: fake.URL, splunkEnv: "SPLUNK_TOKEN", remote: true, want: exitFailed,
			out:    []string{"remote: splunk", "remote: Splunk parses all 1 searches"},
			error:  []string{"jira    " + closedJira},
			notOut: []string{"ok:", "b_delete"},
		},
		{
			name: "bad detection only", bad: true, splunk: fake.URL, splunkEnv: "SPLUNK_TOKEN", want: exitInvalid,
			out:    []string{badLine},
			notOut: []string{"ok:", "warning: no detection"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			dets := filepath.Join(dir, "detections")
			os.MkdirAll(dets, 0o755)
			os.WriteFile(filepath.Join(dets, "a_stop.toml"), []byte(e2eStop), 0o644)
			if tt.bad {
				os.WriteFile(filepath.Join(dets, "b_delete.toml"), []byte(writingDetection("writes", "| delete")), 0o644)
			}
			conf := filepath.Join(dir, "config.toml")
			os.WriteFile(conf, []byte(fmt.Sprintf(`[search]
backend = "splunk"
[search.splunk]
url = %q
allow_insecure_http = true
app = "search"
token_env = %q
[search.macros]
cloudtrail = "sourcetype=aws:cloudtrail"
[tickets]
backend = "jira"
[tickets.jira]
url = %q
allow_insecure_http = true
user_env = "JIRA_USER"
token_env = "JIRA_TOKEN"
project = "SEC"
`, tt.splunk, tt.splunkEnv, closedJira)), 0o644)
			args := []string{"validate", "--config", conf}
			if tt.remote {
				args = append(args, "--remote")
			}
			code, out, errOut := patrol(t, args...)
			if code != tt.want {
				t.Errorf("exit %d, want %d\n%s%s", code, tt.want, out, errOut)
			}
			for _, want := range tt.out {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			for _, want := range tt.error {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
			for _, not := range tt.notOut {
				if strings.Contains(out, not) {
					t.Errorf("stdout holds %q:\n%s", not, out)
				}
			}
		})
	}
}
