package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/patrolsec/patrol/state"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// notifications reads what patrol sends to a test systemd notify socket.
type notifications struct {
	t    *testing.T
	conn *net.UnixConn
}

// expect waits for a datagram containing want (other messages, such as
// watchdog pings, are skipped).
func (n notifications) expect(want string) {
	n.t.Helper()
	buf := make([]byte, 4096)
	n.conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // a bound, not a wait
	for {
		m, _, err := n.conn.ReadFrom(buf)
		if err != nil {
			n.t.Fatalf("waiting for %q: %v", want, err)
		}
		if strings.Contains(string(buf[:m]), want) {
			return
		}
	}
}

const hourly = `id = "%s"
title = "t"
severity = "low"
schedule = "@every 1h"
search = "sourcetype=aws:cloudtrail eventName=StopLogging"
group_by = ["recipientAccountId"]
[ticket]
summary = "s"
`

// runRig is a `patrol run` over a config in a temporary folder, in this
// process, with a test systemd notify socket.
type runRig struct {
	dir    string // the config's folder
	conf   string
	n      notifications
	errOut *syncBuffer
	cancel context.CancelFunc
	done   chan int
}

// newRunRig writes a config (local search, a metrics textfile) and the
// detection "first" into a temporary folder; the test may add to it before
// start.
func newRunRig(t *testing.T) *runRig {
	t.Helper()
	dir := t.TempDir()
	d := &runRig{dir: dir, conf: filepath.Join(dir, "config.toml"), errOut: &syncBuffer{}}
	os.MkdirAll(filepath.Join(dir, "detections"), 0o755)
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	d.write("detections/a.toml", strings.Replace(hourly, "%s", "first", 1))
	d.write("config.toml", `
[search.local]
paths = ["logs"]
[metrics]
textfile = "patrol.prom"
`)
	return d
}

func (d *runRig) write(name, src string) {
	if err := os.WriteFile(filepath.Join(d.dir, name), []byte(src), 0o644); err != nil {
		panic(err)
	}
}

// start runs the daemon until the test ends (or stop) and waits for READY.
func (d *runRig) start(t *testing.T) {
	t.Helper()
	sock := filepath.Join(d.dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	d.n = notifications{t, conn}
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "100000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel, d.done = cancel, make(chan int, 1)
	go func() { d.done <- dispatch(ctx, []string{"run", "--config", d.conf}, io.Discard, d.errOut) }()
	t.Cleanup(func() {
		cancel()
		<-d.done
	})
	d.n.expect("READY=1")
}

// reload sends SIGHUP and waits until the reload is over.
func (d *runRig) reload() {
	d.n.t.Helper()
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	d.n.expect("RELOADING=1")
	d.n.expect("READY=1")
}

// stop stops the daemon and returns its exit code.
func (d *runRig) stop() int {
	d.n.t.Helper()
	d.cancel()
	d.n.expect("STOPPING=1")
	code := <-d.done
	d.done <- code // for the cleanup
	return code
}

func TestRunNotifiesSystemdReloadsAndStops(t *testing.T) {
	d := newRunRig(t)
	// A checkpoint from an earlier run: reloads keep it.
	cp := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	db, err := state.Open(filepath.Join(d.dir, "patrol.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	db.CompleteWindow(context.Background(), "first", cp)
	db.Close()

	d.start(t)
	d.n.expect("WATCHDOG=1")
	if prom, err := os.ReadFile(filepath.Join(d.dir, "patrol.prom")); err != nil || !strings.Contains(string(prom), "patrol_detections 1") {
		t.Errorf("metrics textfile: %v\n%s", err, prom)
	}

	// A broken detection: the reload is refused and the running set stays.
	d.write("detections/b.toml", "id = \"second\"\nschedule = \"every hour\"\n")
	d.reload()
	if !strings.Contains(d.errOut.String(), "reload refused") || !strings.Contains(d.errOut.String(), "b.toml") {
		t.Errorf("refused reload not logged:\n%s", d.errOut.String())
	}

	// Fixed: the new set is loaded.
	d.write("detections/b.toml", strings.Replace(hourly, "%s", "second", 1))
	d.reload()
	if !strings.Contains(d.errOut.String(), `"msg":"reloaded","detections":2`) {
		t.Errorf("reload not logged:\n%s", d.errOut.String())
	}

	if code := d.stop(); code != exitOK {
		t.Errorf("exit %d\n%s", code, d.errOut.String())
	}
	if prom, _ := os.ReadFile(filepath.Join(d.dir, "patrol.prom")); !strings.Contains(string(prom), `patrol_reloads_total{result="error"} 1`) {
		t.Errorf("reload metrics:\n%s", prom)
	}
	db, _ = state.Open(filepath.Join(d.dir, "patrol.db"), nil)
	defer db.Close()
	if got, ok, _ := db.Checkpoint(context.Background(), "first"); !ok || !got.Equal(cp) {
		t.Errorf("checkpoint after reloads = %v %v", got, ok)
	}
}

// silence is a [[silence]] of detection "first" that ends in a day.
func silence(id string) string {
	return fmt.Sprintf("[[silence]]\nid = %q\ndetections = [\"first\"]\nexpires = %s\nowner = \"bob\"\nreason = \"maintenance\"\n",
		id, time.Now().UTC().Add(24*time.Hour).Format(time.RFC3339))
}

// TestReloadRefusedOnBrokenSilences: a reload (SIGHUP) is all or nothing.
// With silences.toml broken, it is refused as a whole: the error names the
// file and line, the detections and silences in force stay (a detection
// added meanwhile is not loaded). Once the file is fixed, the next reload
// applies both.
func TestReloadRefusedOnBrokenSilences(t *testing.T) {
	d := newRunRig(t)
	d.write("silences.toml", silence("one"))
	d.start(t)

	d.write("detections/b.toml", strings.Replace(hourly, "%s", "second", 1))
	d.write("silences.toml", silence("one")+"\n[[silence]]\nid = \"two\"\ndetections = [\"first\"]\nowner = \"bob\"\nreason = \"r\"\n")
	d.reload()
	log := d.errOut.String()
	if !strings.Contains(log, "reload refused") || !strings.Contains(log, "silences.toml:8: silence[2].expires: is required") {
		t.Fatalf("refused reload not logged with the file and line:\n%s", log)
	}
	if strings.Contains(log, `"msg":"reloaded"`) {
		t.Fatalf("the reload was applied in part:\n%s", log)
	}

	d.write("silences.toml", silence("one")+"\n"+silence("two"))
	d.reload()
	if log := d.errOut.String(); !strings.Contains(log, `"msg":"reloaded","detections":2,"silences":2`) {
		t.Errorf("reload not applied:\n%s", log)
	}
	if code := d.stop(); code != exitOK {
		t.Errorf("exit %d\n%s", code, d.errOut.String())
	}
	prom, _ := os.ReadFile(filepath.Join(d.dir, "patrol.prom"))
	if !strings.Contains(string(prom), `patrol_reloads_total{result="error"} 1`) || !strings.Contains(string(prom), "patrol_detections 2") {
		t.Errorf("metrics:\n%s", prom)
	}
}
