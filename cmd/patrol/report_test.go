package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patrolsec/patrol/state"
)

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestReportOfTheTrial is `make report-demo`: the trial, one approval, and
// the report in each format, read beside a daemon's lock without changing
// the state file.
func TestReportOfTheTrial(t *testing.T) {
	cfg := repoConfigCopy(t)
	dir := filepath.Dir(cfg)
	if code, out, errOut := patrol(t, "once", "--config", cfg); code != exitOK {
		t.Fatalf("once: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := patrol(t, "approve", "--config", cfg, "--as", "alice", "LOCAL-1"); code != exitOK {
		t.Fatalf("approve: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := patrol(t, "once", "--config", cfg); code != exitOK {
		t.Fatalf("once: exit %d\n%s%s", code, out, errOut)
	}
	db := filepath.Join(dir, "patrol.db")
	release, err := state.Lock(db) // as a running daemon holds it
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	before := fileSum(t, db)

	page := filepath.Join(dir, "report.html")
	code, _, errOut := patrol(t, "report", "--config", cfg, "--out", page)
	if code != exitOK || !strings.Contains(errOut, "wrote "+page) {
		t.Fatalf("report: exit %d\n%s", code, errOut)
	}
	html, _ := os.ReadFile(page)
	for _, w := range []string{"<!DOCTYPE html>", "Alerts per day, by severity", "cloudtrail-logging-stopped", "alice", "dry run"} {
		if !bytes.Contains(html, []byte(w)) {
			t.Errorf("the page lacks %q", w)
		}
	}
	code, out, errOut := patrol(t, "report", "--config", cfg, "--format", "json", "--out", "-", "--from", "all")
	var doc struct {
		Tables map[string][]map[string]any
	}
	if code != exitOK || json.Unmarshal([]byte(out), &doc) != nil {
		t.Fatalf("report --format json: exit %d\n%s%s", code, out, errOut)
	}
	alerts := 0
	for _, r := range doc.Tables["alerts_by_detection"] {
		alerts += int(r["alerts"].(float64))
	}
	_, list, _ := patrol(t, "tickets", "--config", cfg, "--json")
	if tickets := strings.Count(list, "\n"); alerts != tickets || alerts == 0 {
		t.Errorf("%d alerts in the report for %d tickets", alerts, tickets)
	}
	var approved bool
	for _, r := range doc.Tables["approvals"] {
		approved = approved || (r["ticket"] == "LOCAL-1" && r["state"] == "approved" && r["approver"] == "alice")
	}
	if !approved {
		t.Errorf("approvals: %v", doc.Tables["approvals"])
	}
	if all := doc.Tables["actions_by_kind"]; len(all) == 0 || all[len(all)-1]["dry_run"].(float64) < 2 {
		t.Errorf("actions_by_kind: %v", all)
	}
	// The shipped detections' attack tags, mapped as patrol coverage maps
	// them; their kinds, as their files declare them.
	var logsStopped bool
	for _, r := range doc.Tables["attack_techniques"] {
		logsStopped = logsStopped || (r["tactic"] == "Defense Evasion" && r["technique"] == "T1562.008" &&
			strings.Contains(r["live_detections"].(string), "cloudtrail-logging-stopped") && r["alerts"].(float64) >= 1)
	}
	if !logsStopped || len(doc.Tables["attack_tactics"]) != 14 {
		t.Errorf("attack coverage: %d tactics, techniques %v", len(doc.Tables["attack_tactics"]), doc.Tables["attack_techniques"])
	}
	kinds := map[string]any{}
	for _, r := range doc.Tables["detection_health"] {
		kinds[r["detection"].(string)] = r["kind"]
	}
	for id, want := range map[string]string{"cloudtrail-logging-stopped": "search", "cloudtrail-stopped-not-restarted": "sequence", "account-new-region": "first seen"} {
		if kinds[id] != want {
			t.Errorf("%s: kind %v, want %s", id, kinds[id], want)
		}
	}
	csvDir := filepath.Join(dir, "csv")
	if code, _, errOut := patrol(t, "report", "--config", cfg, "--format", "csv", "--out", csvDir); code != exitOK {
		t.Fatalf("report --format csv: exit %d %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(csvDir, "audit_trail.csv")); err != nil {
		t.Error(err)
	}
	if fileSum(t, db) != before {
		t.Error("the report changed the state file")
	}
}

func TestReportBadInput(t *testing.T) {
	cfg := repoConfigCopy(t)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--format", "xml"}, exitInvalid, "--format must be html, csv or json"},
		{[]string{"--format", "csv", "--out", "-"}, exitInvalid, "give --out DIR"},
		{[]string{"--from", "yesterday"}, exitInvalid, "--from: \"yesterday\" is not a time"},
		{[]string{"--to", "all"}, exitInvalid, "the span needs an end"},
		{[]string{"--from", "2026-11-02", "--to", "2026-11-01"}, exitInvalid, "the span is empty"},
		{nil, exitFailed, "run 'patrol once' or 'patrol run' first"},
	} {
		code, _, errOut := patrol(t, append([]string{"report", "--config", cfg, "--out", filepath.Join(t.TempDir(), "r.html")}, c.args...)...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", c.args, code, errOut, c.code, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(cfg), "patrol.db")); !os.IsNotExist(err) {
		t.Errorf("a report made a state file: %v", err)
	}
}
