package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patrolsec/patrol/detections"
)

func TestWarnings(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	os.MkdirAll(filepath.Join(dir, "detections"), 0o755)
	path := filepath.Join(dir, "config.toml")
	os.WriteFile(path, []byte("[search.local]\npaths = [\"logs\"]\n[tickets]\napprovers = []\n[enrich]\norg_cidrs = []\n"), 0o644)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	text := func(ps []*detections.Problem) string {
		var lines []string
		for _, p := range ps {
			lines = append(lines, p.Error())
		}
		return strings.Join(lines, "\n")
	}
	if got := text(Warnings(cfg, nil)); !strings.Contains(got, "config.toml: detections.dir: warning: no detection") {
		t.Errorf("empty folder: %q", got)
	}
	ds := []*detections.Detection{
		{ID: "a", Search: "`cloudtrail` | where NOT `org_networks(sourceIPAddress)`", Remediation: &detections.Remediation{Mode: detections.ModeApprove}},
		{ID: "b", Search: "x", Remediation: &detections.Remediation{Mode: detections.ModeAuto}},
	}
	got := text(Warnings(cfg, ds))
	for _, want := range []string{"config.toml:4: tickets.approvers: warning: is empty, but the remediations of a wait", "config.toml:6: enrich.org_cidrs: warning: is empty, so `org_networks(...)` in a matches no address"} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings lack %q:\n%s", want, got)
		}
	}
	cfg.Tickets.Approvers, cfg.Enrich.OrgCIDRs = []string{"alice"}, []string{"203.0.113.0/24"}
	if got := Warnings(cfg, ds); len(got) != 0 {
		t.Errorf("warnings with approvers and org_cidrs set: %v", got)
	}
}

// TestSlackApprovalWarnings: Slack approvers without Socket Mode, and
// Socket Mode without approvers, are valid but almost never meant.
func TestSlackApprovalWarnings(t *testing.T) {
	base := "[search.local]\npaths = [\"logs\"]\n[notify]\nbackend = \"slack\"\n[notify.slack]\ntoken_env = \"X\"\nchannel = \"#sec\"\nallow_insecure_http = false\n"
	for _, tt := range []struct{ name, src, want string }{
		{"approvers without Socket Mode", base + "[tickets]\napprovers = [\"acc1\"]\nslack_approvers = { \"U0123ABCD\" = \"acc1\" }\n",
			":11: tickets.slack_approvers: warning: maps Slack users, but Socket Mode is off"},
		{"Socket Mode without approvers", base + "app_token_file = \"xapp.token\"\n",
			":9: notify.slack.app_token_file: warning: turns Socket Mode on, but tickets.slack_approvers maps no one"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
			path := filepath.Join(dir, "config.toml")
			os.WriteFile(path, []byte(tt.src), 0o644)
			cfg, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range Warnings(cfg, nil) {
				got = append(got, p.Error())
			}
			if !strings.Contains(strings.Join(got, "\n"), tt.want) {
				t.Errorf("warnings %q, want %q", got, tt.want)
			}
		})
	}
}
