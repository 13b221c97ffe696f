package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRepoConfigLoads(t *testing.T) {
	cfg, err := Load("../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Search.Backend != "local" || cfg.Tickets.Backend != "local" || cfg.Notify.Backend != "log" || !cfg.AWS.DryRun {
		t.Errorf("the shipped config must be local mode with dry run: %+v", cfg)
	}
	if !filepath.IsAbs(cfg.State.Path) || !strings.HasSuffix(cfg.Search.Local.Paths[0], "detections/samples") {
		t.Errorf("paths not resolved against the config folder: %s %v", cfg.State.Path, cfg.Search.Local.Paths)
	}
	if got := Duration(cfg.Tickets.PollOverlap); got != 5*time.Minute {
		t.Errorf("poll_overlap = %v", got)
	}
}

func TestDefaultsAndMinimalFile(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	path := filepath.Join(dir, "c.toml")
	os.WriteFile(path, []byte("[search.local]\npaths = [\"logs\"]\n"), 0o644)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.State.Path != filepath.Join(dir, "patrol.db") || cfg.Tickets.Label != "patrol" || cfg.AWS.MaxActionsPerHour != 20 || !cfg.AWS.DryRun {
		t.Errorf("defaults: %+v", cfg)
	}
}

func TestMissingFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.toml")
	os.WriteFile(path, []byte("[search.local]\npaths = [\"nope\"]\n[search.lookups]\nintel = \"intel.csv\"\n[enrich]\naccounts_csv = \"a.csv\"\n"), 0o644)
	_, err := Load(path)
	for _, want := range []string{":2: search.local.paths: nope: no such file", ":4: search.lookups.intel: intel.csv: no such file", ":6: enrich.accounts_csv: a.csv"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
	if _, err := Load(filepath.Join(dir, "absent.toml")); err == nil || !strings.Contains(err.Error(), "--config") {
		t.Errorf("absent config: %v", err)
	}
}

func TestMalformedTablesNamedAtValidation(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	os.WriteFile(filepath.Join(dir, "intel.csv"), []byte("domain\n\"unterminated\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "acc.csv"), []byte("account_id\nnot-an-id\n"), 0o644)
	path := filepath.Join(dir, "c.toml")
	os.WriteFile(path, []byte("[search.local]\npaths = [\"logs\"]\n[search.lookups]\nintel = \"intel.csv\"\n[enrich]\naccounts_csv = \"acc.csv\"\n"), 0o644)
	_, err := Load(path)
	for _, want := range []string{":4: search.lookups.intel: ", "intel.csv: parse error on line 2", ":6: enrich.accounts_csv: ", "acc.csv:2: account_id \"not-an-id\""} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}

func TestS3Paths(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	path := filepath.Join(dir, "c.toml")
	os.WriteFile(path, []byte(`[search.local]
paths = ["logs", "s3://org-logs/org-trail/", "s3://org-logs"]
[search.local.s3]
role_arn = "arn:aws:iam::999988887777:role/patrol-log-reader"
max_concurrent = 4
`), 0o644)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Search.Local.Paths; got[0] != filepath.Join(dir, "logs") || got[1] != "s3://org-logs/org-trail/" || got[2] != "s3://org-logs" {
		t.Errorf("paths: %q", got)
	}
	if s := cfg.Search.Local.S3; s.MaxConcurrent != 4 || s.EventTimeSpan != "7d" || s.Overlap != "15m" || s.Region != "" {
		t.Errorf("[search.local.s3]: %+v", s)
	}

	os.WriteFile(path, []byte(`[search.local]
paths = ["s3://Org_Logs/", "s3://org-logs/AWSLogs/111122223333/elasticloadbalancing/"]
[search.local.s3]
region = "mars-1"
role_arn = "arn:aws:iam::{account}:role/x"
max_concurrent = 0
overlap = "soon"
`), 0o644)
	_, err = Load(path)
	for _, want := range []string{
		`:2: search.local.paths: "s3://Org_Logs/": "Org_Logs" is not an S3 bucket name`,
		`:2: search.local.paths: "s3://org-logs/AWSLogs/111122223333/elasticloadbalancing/": "elasticloadbalancing" is not a folder of the AWS log delivery layout`,
		`:4: search.local.s3.region: "mars-1" is not an AWS region`,
		`:5: search.local.s3.role_arn: "arn:aws:iam::{account}:role/x" must be the ARN of one IAM role`,
		`:6: search.local.s3.max_concurrent: must be between 1 and 64`,
		`:7: search.local.s3.overlap:`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v\nwant %q", err, want)
		}
	}
}

// TestSlackApprovalsAndDigests: the keys of Slack approvals and digests
// are checked with their file and line.
func TestSlackApprovalsAndDigests(t *testing.T) {
	base := "[search.local]\npaths = [\"logs\"]\n[notify]\nbackend = \"slack\"\n[notify.slack]\ntoken_env = \"X\"\nchannel = \"#sec\"\n"
	tests := []struct {
		name, src string
		want      []string // "" = valid
	}{
		{"valid", base + "app_token_env = \"XAPP\"\n[tickets]\napprovers = [\"acc1\"]\nslack_approvers = { \"U0123ABCD\" = \"acc1\" }\n" +
			"[[teams]]\nname = \"payments\"\n[[digest]]\nchannel = \"#sec\"\nschedule = \"0 9 * * 1-5\"\nteams = [\"payments\"]\n", nil},
		{"approver not in approvers", base + "app_token_env = \"XAPP\"\n[tickets]\napprovers = [\"acc1\"]\nslack_approvers = { \"U0123ABCD\" = \"acc2\", \"bob\" = \"acc1\" }\n",
			[]string{":11: tickets.slack_approvers.U0123ABCD: \"acc2\" is not in tickets.approvers", ":11: tickets.slack_approvers.bob: \"bob\" is not a Slack user id"}},
		{"bad digests", base + "[[digest]]\nchannel = \"security alerts\"\nschedule = \"every day\"\nteams = [\"nobody\"]\n[[digest]]\n",
			[]string{":9: digest[1].channel: \"security alerts\" must be a channel name", ":10: digest[1].schedule: \"every day\" is not a cron schedule",
				":11: digest[1].teams: \"nobody\" is not the name of a [[teams]] entry", ":12: digest[2].channel: is required", ":12: digest[2].schedule: is required"}},
		{"hold label", base + "[tickets]\nhold_label = \"on hold\"\n", []string{":9: tickets.hold_label: \"on hold\" must be a label without spaces"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
			path := filepath.Join(dir, "c.toml")
			os.WriteFile(path, []byte(tt.src), 0o644)
			cfg, err := Load(path)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.Tickets.SlackApprovers["U0123ABCD"] != "acc1" || len(cfg.Digests) != 1 || cfg.Tickets.HoldLabel != "patrol-hold" {
					t.Errorf("config %+v %+v", cfg.Tickets, cfg.Digests)
				}
				return
			}
			for _, w := range tt.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v\nwant %q", err, w)
				}
			}
		})
	}
}
