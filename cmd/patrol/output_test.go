package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// terminal is a test's stand-in for a terminal (isTerminal asks it).
type terminal struct{ syncBuffer }

func (*terminal) IsTerminal() bool { return true }

// erasedProgress matches progress lines that were redrawn in place and
// then erased.
var erasedProgress = regexp.MustCompile(`(\rsearch: [^\r\n]*\x1b\[K)*\r\x1b\[K`)

// TestOnceOnTerminal is `make run` on a terminal: one line per job on
// stdout, no log line repeating it, no stray progress or notification
// text; the tickets, notifications and job summaries are in the log at
// PATROL_LOG_LEVEL=info.
func TestOnceOnTerminal(t *testing.T) {
	cfg := repoConfigCopy(t)
	var out, errOut terminal
	if code := dispatch(context.Background(), []string{"once", "--config", cfg}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	dets := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "detect ") {
			dets++
		}
	}
	pack, _ := filepath.Glob("../../detections/*.toml")
	if dets != len(pack) || len(lines) != len(pack)+1 || !strings.HasPrefix(lines[len(lines)-1], "respond ") {
		t.Errorf("stdout: %d lines, %d detect lines for %d detections:\n%s", len(lines), dets, len(pack), out.String())
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "remediations: dry_run=") || !strings.HasSuffix(last, " ok") {
		t.Errorf("respond line: %q", last)
	}
	// A slow search (a loaded machine) may show a progress line, redrawn
	// in place and erased when the search ends: nothing of it stays.
	if e := erasedProgress.ReplaceAllString(errOut.String(), ""); e != "" {
		t.Errorf("stderr on a terminal should be empty for a clean run:\n%q", e)
	}

	t.Setenv("PATROL_LOG_LEVEL", "info")
	cfg = repoConfigCopy(t)
	var out2, errOut2 terminal
	dispatch(context.Background(), []string{"once", "--config", cfg}, &out2, &errOut2)
	for _, want := range []string{`msg="detect run"`, `msg="ticket created"`, `msg=notification channel=#payments-sec`} {
		if !strings.Contains(errOut2.String(), want) {
			t.Errorf("at info, stderr lacks %s", want)
		}
	}
}

// TestRunLogsToStderr: the daemon writes nothing to stdout.
func TestRunLogsToStderr(t *testing.T) {
	cfg := repoConfigCopy(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int)
	go func() { done <- dispatch(ctx, []string{"run", "--config", cfg}, &out, &errOut) }()
	deadline := time.Now().Add(30 * time.Second) // a bound, not a wait
	for !strings.Contains(errOut.String(), `"msg":"patrol running"`) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != exitOK || out.String() != "" || !strings.Contains(errOut.String(), `"msg":"patrol running"`) {
		t.Errorf("exit %d, stdout %q, stderr:\n%s", code, out.String(), errOut.String())
	}
}

// TestFailedRemediationShownInRespondLine: a remediation that fails (the
// trail does not exist) fails once's respond line and its exit code.
func TestFailedRemediationShownInRespondLine(t *testing.T) {
	endpoint := awsEmulator(t)
	runs++
	dir := detectionsDir(t, map[string]string{"a_stop.toml": e2eStop})
	writeRecords(t, dir, "ct.json",
		record("StopLogging", "mallory", "AKIAEXAMPLE000001", "192.0.2.66", map[string]any{"name": fmt.Sprintf("no-such-trail-%d", runs)}))
	conf := newTestConfig().localLogs().aws(endpoint, e2eAccount).write(t, filepath.Join(dir, "config.toml"))
	code, out, errOut := patrol(t, "once", "--config", conf)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	if code != exitFailed || !strings.Contains(last, "remediations: failed=1") || !strings.Contains(last, "FAILED: 1 remediation(s) did not complete") {
		t.Errorf("exit %d, respond line %q\n%s", code, last, errOut)
	}
}

// Progress lines are cut to a terminal's width; anything else has none,
// and nothing is cut.
func TestTermWidthOffATerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for _, out := range []io.Writer{w, &terminal{}} {
		if n := termWidth(out); n != 0 {
			t.Errorf("termWidth(%T) = %d", out, n)
		}
	}
}
