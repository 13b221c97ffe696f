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
