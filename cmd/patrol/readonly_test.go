package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReadOnlyStateServesReaders runs patrol in a process of a user who may
// only read a copy of a state file: status, tickets and search work and
// write nothing; once is refused with a lock error that says what it is;
// status with a mistyped state path creates nothing.
func TestReadOnlyStateServesReaders(t *testing.T) {
	work := t.TempDir()
	bin := filepath.Join(work, "patrol.test")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self) // this test binary, where the reader may run it
	if err != nil || os.WriteFile(bin, b, 0o755) != nil {
		t.Fatalf("copy the test binary: %v", err)
	}
	cfg := repoConfigCopy(t)
	if code, out, errOut := patrol(t, "once", "--config", cfg); code != exitOK {
		t.Fatalf("once: %d\n%s%s", code, out, errOut)
	}

	// A copy of the state, the detections and the config, in folders
	// nobody may write to.
	dir := filepath.Join(work, "copy")
	if err := os.CopyFS(filepath.Join(dir, "detections"), os.DirFS("../../detections")); err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile(filepath.Join(filepath.Dir(cfg), "patrol.db"))
	if err != nil {
		t.Fatal(err)
	}
	src, _ := os.ReadFile(cfg)
	os.WriteFile(filepath.Join(dir, "config.toml"), src, 0o444)
	os.WriteFile(filepath.Join(dir, "typo.toml"), []byte(strings.Replace(string(src), `path = "patrol.db"`, `path = "typo/patrol.db"`, 1)), 0o444)
	os.WriteFile(filepath.Join(dir, "patrol.db"), db, 0o444)
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if d.IsDir() {
			return os.Chmod(p, 0o555)
		}
		return os.Chmod(p, 0o444)
	})
	t.Cleanup(func() {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, _ error) error { return os.Chmod(p, 0o755) })
	})
	for p := work; strings.HasPrefix(p, os.TempDir()+"/"); p = filepath.Dir(p) {
		os.Chmod(p, 0o755) // t.TempDir's folders are the owner's only
	}
	os.Chmod(bin, 0o755)

	reader := func(args ...string) (int, string, string) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"-test.run=^TestPatrolProcess$", "--"}, args...)...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=/usr/bin:/bin", "PATROL_TEST_PROCESS=1"}
		if os.Geteuid() == 0 { // root may write anything: read as nobody
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		}
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, out.String(), errOut.String()
	}

	code, out, errOut := reader("status", "--json")
	var rep statusReport
	if code != exitOK || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Detections) == 0 || rep.Detections[0].LastSuccess.IsZero() {
		t.Errorf("status --json: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := reader("tickets", "LOCAL-2", "--json"); code != exitOK || !strings.Contains(out, `"key":"LOCAL-2"`) {
		t.Errorf("tickets LOCAL-2 --json: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := reader("search", "`cloudtrail` eventName=StopLogging | table eventName", "--from", "all"); code != exitOK || !strings.Contains(out, "StopLogging") {
		t.Errorf("search: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = reader("once")
	if code != exitFailed || !strings.Contains(errOut, "lock") || !strings.Contains(errOut, "may not write") || strings.Contains(errOut, "another patrol process") {
		t.Errorf("once as a reader: exit %d %s", code, errOut)
	}
	code, _, errOut = reader("status", "--config", "typo.toml")
	if code != exitFailed || !strings.Contains(errOut, "does not exist") {
		t.Errorf("status with a mistyped state path: exit %d %s", code, errOut)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		switch e.Name() {
		case "config.toml", "typo.toml", "patrol.db", "detections":
		default:
			t.Errorf("a reader left %s behind", e.Name())
		}
	}
}

// TestPatrolProcess is patrol in a process of its own: tests run this test
// binary with PATROL_TEST_PROCESS=1 and the command line after "--".
func TestPatrolProcess(t *testing.T) {
	if os.Getenv("PATROL_TEST_PROCESS") == "" {
		t.Skip("runs only as a child process of another test")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Exit(run(args))
}
