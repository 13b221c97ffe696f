package main

import (
	"bytes"
	"context"
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

func TestRunNotifiesSystemdReloadsAndStops(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n := notifications{t, conn}
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "100000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))

	dets := filepath.Join(dir, "detections")
	os.MkdirAll(dets, 0o755)
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	os.WriteFile(filepath.Join(dets, "a.toml"), []byte(strings.Replace(hourly, "%s", "first", 1)), 0o644)
	conf := filepath.Join(dir, "config.toml")
	os.WriteFile(conf, []byte(`
[search.local]
paths = ["logs"]
[metrics]
textfile = "patrol.prom"
`), 0o644)

	// A checkpoint from an earlier run: reloads keep it.
	cp := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	db, err := state.Open(filepath.Join(dir, "patrol.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	db.CompleteWindow(context.Background(), "first", cp)
	db.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var errOut syncBuffer
	done := make(chan int)
	go func() { done <- dispatch(ctx, []string{"run", "--config", conf}, io.Discard, &errOut) }()
	n.expect("READY=1")
	n.expect("WATCHDOG=1")
	if prom, err := os.ReadFile(filepath.Join(dir, "patrol.prom")); err != nil || !strings.Contains(string(prom), "patrol_detections 1") {
		t.Errorf("metrics textfile: %v\n%s", err, prom)
	}

	// A broken detection: the reload is refused and the running set stays.
	os.WriteFile(filepath.Join(dets, "b.toml"), []byte("id = \"second\"\nschedule = \"every hour\"\n"), 0o644)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	n.expect("RELOADING=1")
	n.expect("READY=1")
	if !strings.Contains(errOut.String(), "reload refused") || !strings.Contains(errOut.String(), "b.toml") {
		t.Errorf("refused reload not logged:\n%s", errOut.String())
	}

	// Fixed: the new set is loaded.
	os.WriteFile(filepath.Join(dets, "b.toml"), []byte(strings.Replace(hourly, "%s", "second", 1)), 0o644)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	n.expect("RELOADING=1")
	n.expect("READY=1")
	if !strings.Contains(errOut.String(), `"msg":"reloaded","detections":2`) {
		t.Errorf("reload not logged:\n%s", errOut.String())
	}

	cancel()
	n.expect("STOPPING=1")
	if code := <-done; code != exitOK {
		t.Errorf("exit %d\n%s", code, errOut.String())
	}
	if prom, _ := os.ReadFile(filepath.Join(dir, "patrol.prom")); !strings.Contains(string(prom), `patrol_reloads_total{result="error"} 1`) {
		t.Errorf("reload metrics:\n%s", prom)
	}
	db, _ = state.Open(filepath.Join(dir, "patrol.db"), nil)
	defer db.Close()
	if got, ok, _ := db.Checkpoint(context.Background(), "first"); !ok || !got.Equal(cp) {
		t.Errorf("checkpoint after reloads = %v %v", got, ok)
	}
}
