package detections

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestExceptionsAndStage(t *testing.T) {
	src, err := os.ReadFile("testdata/good/stop.toml")
	if err != nil {
		t.Fatal(err)
	}
	exceptions := `
[[exception]]
match   = { "userIdentity.arn" = "arn:aws:iam::*:role/scanner-*", "sourceIPAddress" = ["198.51.100.0/24"] }
reason  = "vulnerability scanner"
owner   = "alice@example.com"
expires = 2027-03-31
ticket  = "SEC-123"

[[exception]]
match   = { "eventName" = "StopLogging" }
reason  = " maintenance "
owner   = "bob"
expires = 2026-12-20T10:00:00+02:00
`
	// stage is a top-level key: it goes before the first table.
	body := "stage = \"shadow\"\n" + string(src) + exceptions
	path := filepath.Join(t.TempDir(), "d.toml")
	os.WriteFile(path, []byte(body), 0o644)
	events, err := os.ReadFile("testdata/good/events/stop_logging.json")
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(filepath.Dir(path), "events"), 0o755)
	os.WriteFile(filepath.Join(filepath.Dir(path), "events", "stop_logging.json"), events, 0o644)
	d, err := LoadFile(path, LoadOptions{Macros: testMacros(t), Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if !d.Shadow() || len(d.Exceptions) != 2 {
		t.Fatalf("stage %q, exceptions %+v", d.Stage, d.Exceptions)
	}
	e := d.Exceptions[0]
	if !e.Expires.Equal(time.Date(2027, 4, 1, 0, 0, 0, 0, time.UTC)) || e.Ticket != "SEC-123" || len(e.Match["sourceIPAddress"]) != 1 || e.Index != 1 || e.Line == 0 || e.ExpiresLine != e.Line+4 {
		t.Errorf("exception 1: %+v", e)
	}
	if d.Exceptions[1].Reason != "maintenance" || !d.Exceptions[1].Expires.Equal(time.Date(2026, 12, 20, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("exception 2: %+v", d.Exceptions[1])
	}
	// The key names what is matched, not the words around it.
	moved := e
	moved.Reason, moved.Expires, moved.Index = "other", time.Time{}, 9
	if moved.Key() != e.Key() || d.Exceptions[1].Key() == e.Key() {
		t.Error("exception keys")
	}
}
