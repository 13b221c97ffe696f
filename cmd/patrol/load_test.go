package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller/splunk/splunktest"
)

// buildPatrol builds the patrol binary once per test binary, into a folder
// TestMain removes. The same build reads the linker's dependency graph for
// TestMethodsAreDeadCodeEliminated.
func buildPatrol(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "patrol-bin-")
		if err != nil {
			built.err = err
			return
		}
		built.dir, built.bin = dir, filepath.Join(dir, "patrol")
		built.deps, built.err = buildWithDeps(built.bin)
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

var built struct {
	once     sync.Once
	dir, bin string
	deps     linkDeps
	err      error
}

const loadDetection = `id = "%s"
title = "t"
severity = "low"
schedule = "%s"
search = "sourcetype=aws:cloudtrail eventName=StopLogging"
group_by = ["recipientAccountId"]
[ticket]
summary = "s"
`

// splunkDaemon writes a config for n detections on schedule against a
// Splunk at url, with metrics on a loopback port.
func splunkDaemon(t testing.TB, url string, n int, schedule string) (dir, conf string) {
	t.Helper()
	dir = t.TempDir()
	dets := filepath.Join(dir, "detections")
	os.MkdirAll(dets, 0o755)
	for i := range n {
		id := fmt.Sprintf("load-%03d", i)
		os.WriteFile(filepath.Join(dets, id+".toml"), []byte(fmt.Sprintf(loadDetection, id, schedule)), 0o644)
	}
	conf = newTestConfig().splunk(url).set("search.splunk", "max_concurrent = 2").
		localTickets().
		set("metrics", `listen = "127.0.0.1:0"`).
		write(t, filepath.Join(dir, "config.toml"))
	return dir, conf
}

// daemon is a `patrol run` process.
type daemon struct {
	t      testing.TB
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan struct{} // closed when the process has been waited for
}

func startDaemon(t testing.TB, bin, conf string) *daemon {
	t.Helper()
	d := &daemon{t: t, stderr: &syncBuffer{}, exited: make(chan struct{})}
	d.cmd = exec.Command(bin, "run", "--config", conf)
	d.cmd.Env = append(os.Environ(), "SPLUNK_TOKEN=splunk-token", "PATROL_LOG_LEVEL=info")
	d.cmd.Stderr = d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			d.cmd.Process.Kill()
			<-d.exited
		}
	})
	return d
}

// until polls cond (bounded; it waits on a condition, not on time).
func (d *daemon) until(what string, cond func() bool) {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			d.t.Fatalf("waiting for %s; log:\n%s", what, d.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var metricsAddr = regexp.MustCompile(`"msg":"metrics served","addr":"([^"]+)"`)

// metric reads one unlabelled metric from the daemon's /metrics.
func (d *daemon) metric(name string) float64 {
	d.t.Helper()
	m := metricsAddr.FindStringSubmatch(d.stderr.String())
	if m == nil {
		return -1
	}
	resp, err := http.Get("http://" + m[1] + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

// stop sends SIGTERM and returns the exit code.
func (d *daemon) stop() int {
	d.t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(60 * time.Second): // a bound, not a wait
		d.t.Fatalf("no exit after SIGTERM; log:\n%s", d.stderr.String())
	}
	return d.cmd.ProcessState.ExitCode()
}

// TestRunStopUnderLoadIsNotAFailure runs `patrol run` with 20 detections
// every second against a Splunk whose searches never finish and 2 search
// slots: 2 searches in flight, 18 runs waiting for a slot, later runs
// skipped. A reload that removes one detection cancels its run; SIGTERM
// then stops the rest. Exit 0, every run recorded as cancelled, none as
// failed, no failure counted, nothing logged at ERROR; each skip is logged
// with its detection and counted by status.
func TestRunStopUnderLoadIsNotAFailure(t *testing.T) {
	hold := make(chan struct{})
	fake := splunktest.New(t, splunktest.Options{Token: "splunk-token", Plan: splunktest.JobPlan{Hold: hold}})
	t.Cleanup(func() { close(hold) })
	bin := buildPatrol(t)
	dir, conf := splunkDaemon(t, fake.URL, 20, "@every 1s")
	d := startDaemon(t, bin, conf)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a bound, not a wait
	defer cancel()
	if err := fake.Await(ctx, func(s splunktest.Stats) bool { return s.Held == 2 }); err != nil {
		t.Fatalf("two searches in flight: %v\n%s", err, d.stderr.String())
	}
	d.until("18 runs waiting for a slot", func() bool { return d.metric("patrol_search_slot_queue") == 18 })
	d.until("a skipped run", func() bool {
		return strings.Contains(d.stderr.String(), `"msg":"previous run still going: this run is skipped","detection":"load-`)
	})
	if got := fake.Stats().MaxInFlight; got > 2 {
		t.Errorf("%d searches in flight at once, max_concurrent is 2", got)
	}

	// A reload that removes a detection cancels its waiting run.
	os.Remove(filepath.Join(dir, "detections", "load-019.toml"))
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.until("the removed detection's run cancelled", func() bool {
		return strings.Contains(d.stderr.String(), `"detection":"load-019","reason":"the detection was removed by a reload"`) &&
			strings.Contains(d.stderr.String(), `"msg":"job cancelled","job":"detect:load-019"`)
	})

	if code := d.stop(); code != exitOK {
		t.Fatalf("exit %d after SIGTERM\n%s", code, d.stderr.String())
	}
	logs := d.stderr.String()
	if strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("a clean stop logged errors:\n%s", logs)
	}
	if n := strings.Count(logs, `"msg":"job cancelled"`); n < 20 {
		t.Errorf("%d runs logged as cancelled, want all 20:\n%s", n, logs)
	}

	code, out, errOut := patrol(t, "status", "--config", conf, "--json")
	if code != exitOK {
		t.Fatalf("status: exit %d %s", code, errOut)
	}
	var rep struct {
		Detections []struct {
			ID            string `json:"id"`
			LastRunStatus string `json:"last_run_status"`
			FailuresInRow int    `json:"failures_in_row"`
			LastError     string `json:"last_error"`
			SkippedRuns   int    `json:"skipped_runs"`
		} `json:"detections"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("status json: %v\n%s", err, out)
	}
	skipped := 0
	for _, s := range rep.Detections {
		if s.LastRunStatus != "cancelled" || s.FailuresInRow != 0 {
			t.Errorf("%s: last run %q, failures in a row %d (%s)", s.ID, s.LastRunStatus, s.FailuresInRow, s.LastError)
		}
		skipped += s.SkippedRuns
	}
	if len(rep.Detections) != 19 || skipped == 0 {
		t.Errorf("%d detections, %d skipped runs in status", len(rep.Detections), skipped)
	}
	logged := strings.Count(logs, "this run is skipped") - strings.Count(logs, `skipped","detection":"load-019"`)
	if skipped != logged {
		t.Errorf("status counts %d skipped runs, the log %d", skipped, logged)
	}
	_, text, _ := patrol(t, "status", "--config", conf)
	if !strings.Contains(text, "(cancelled)") || !strings.Contains(text, "SKIPPED") {
		t.Errorf("status table:\n%s", text)
	}
	if _, list, _ := patrol(t, "tickets", "--config", conf, "--json"); strings.TrimSpace(list) != "" {
		t.Errorf("a self-alert was raised by a clean stop:\n%s", list)
	}
}
