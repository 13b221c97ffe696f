package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestUnitFile checks the shipped systemd unit with systemd-analyze: it must
// verify, and its security exposure must stay below 3.0.
func TestUnitFile(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed (apt-get install systemd): unit file not verified")
	}
	dir := t.TempDir()
	// systemd-analyze verify checks that ExecStart names an executable, it
	// does not run it: this test binary serves, and a cold cache is spared
	// a second full build of patrol.
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit, err := os.ReadFile("patrol.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Type=notify", "Restart=on-failure", "StateDirectory=patrol", "LoadCredential=", "NoNewPrivileges=yes",
		"ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "User=patrol", "CapabilityBoundingSet=", "SystemCallFilter=@system-service",
		"MemoryMax=", "TasksMax=", "UMask=0077"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("unit lacks %s", want)
		}
	}
	path := filepath.Join(dir, "patrol.service")
	os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/patrol", bin)), 0o644)
	if out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput(); err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err := exec.Command("systemd-analyze", "security", "--offline=yes", path).CombinedOutput()
	if err != nil {
		t.Skipf("systemd-analyze security --offline is not supported here: %v", err)
	}
	m := regexp.MustCompile(`exposure level for patrol.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure score in:\n%s", out)
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("systemd-analyze security exposure: %.1f", score)
	if score >= 3.0 {
		t.Errorf("exposure %.1f, want below 3.0", score)
	}
}
