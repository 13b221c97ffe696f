package detections

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller/golden"
)

func testMacros(t *testing.T) *Macros {
	t.Helper()
	m, err := NewMacros(map[string]string{"cloudtrail": "sourcetype=aws:cloudtrail"}, MacroOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLoadGood(t *testing.T) {
	ds, err := Load("testdata/good", LoadOptions{Macros: testMacros(t)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 {
		t.Fatalf("got %d detections", len(ds))
	}
	d := ds[0]
	if d.ID != "cloudtrail-logging-stopped" || d.Settle != 2*time.Minute || d.Lookback != 15*time.Minute ||
		d.Suppress != 24*time.Hour || d.Freshness != 30*time.Minute || d.TimeMode != TimeIndex {
		t.Errorf("fields: %+v", d)
	}
	if !strings.HasPrefix(d.Expanded, "sourcetype=aws:cloudtrail eventSource=") {
		t.Errorf("expanded: %q", d.Expanded)
	}
	if d.Remediation == nil || d.Remediation.Mode != ModeAuto || len(d.Remediation.Params) != 3 {
		t.Errorf("remediation: %+v", d.Remediation)
	}
	got := d.Ticket.Summary.Render(func(f string) (string, bool) {
		return map[string]string{"eventName": "StopLogging", "recipientAccountId": "111122223333"}[f], true
	})
	if got != "CloudTrail StopLogging on  in 111122223333" {
		t.Errorf("summary: %q", got)
	}
	if len(d.Tests) != 1 || d.Tests[0].ExpectAlerts != 1 || d.Tests[0].Expect[0]["eventName"] != "StopLogging" {
		t.Errorf("tests: %+v", d.Tests)
	}
}

func TestLoadBad(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad/*.toml")
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".toml")
		t.Run(name, func(t *testing.T) {
			_, err := LoadFile(f, LoadOptions{Macros: testMacros(t), Now: fixedNow})
			if err == nil {
				t.Fatal("want errors")
			}
			var lines []string
			for _, p := range Problems(err) {
				if p.File == "" || (p.Line == 0 && !strings.Contains(p.Msg, "is required")) {
					t.Errorf("problem without file or line: %v", p)
				}
				lines = append(lines, p.Error())
			}
			golden.Check(t, filepath.Join("testdata", "bad", name+".golden"), []byte(strings.Join(lines, "\n")+"\n"))
		})
	}
}

// fixedNow is the clock exceptions are validated against in the tests.
func fixedNow() time.Time { return time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) }

func TestLoadDuplicateID(t *testing.T) {
	ds, err := Load("testdata/dup", LoadOptions{})
	if len(ds) != 1 || err == nil {
		t.Fatalf("got %d detections, err %v", len(ds), err)
	}
	golden.Check(t, filepath.Join("testdata", "dup.golden"), []byte(err.Error()+"\n"))
}

func TestLoadMissingDir(t *testing.T) {
	_, err := Load("testdata/nope", LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "testdata/nope") {
		t.Fatalf("err = %v", err)
	}
}

func TestTemplates(t *testing.T) {
	tests := []struct {
		src, want, err string
	}{
		{src: "plain", want: "plain"},
		{src: "{a} and {b}", want: "1 and "},
		{src: "{{literal}} {a}", want: "{literal} 1"},
		{src: "{ a }", want: "1"},
		{src: "open {a", err: "unclosed placeholder at offset 5"},
		{src: "x } y", err: "unmatched }"},
		{src: "{}", err: "bad placeholder"},
	}
	for _, tc := range tests {
		tm, err := ParseTemplate(tc.src)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.src, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got := tm.Render(func(f string) (string, bool) {
			v, ok := map[string]string{"a": "1"}[f]
			return v, ok
		})
		if got != tc.want {
			t.Errorf("%q: got %q want %q", tc.src, got, tc.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"90s": 90 * time.Second, "7d": 7 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "1h30m": 90 * time.Minute, "0": 0} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "5", "-1h", "2 minutes", "-3d"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("%q: want error", in)
		}
	}
}

func TestScanKeyLines(t *testing.T) {
	src := `id = "x"
search = '''
fake = "not a key"
'''
[ticket]
summary = "s"
"quoted.key" = 1
[remediation]
params = { account = "{a}", region = "r" }
[[test]]
name = "one"
[[test.expect]]
a = "1"
[[test]]
name = "two"
`
	kl := ScanKeyLines(src)
	for key, want := range map[string]int{
		"id": 1, "search": 2, "ticket.summary": 6, "ticket.quoted.key": 7,
		"remediation.params.region": 9, "test[1].name": 11, "test[2].name": 15, "test.name": 11,
		"test[1].expect": 12, "remediation.params.nope": 9, "fake": 0,
	} {
		if got := kl.Line(key); got != want {
			t.Errorf("%s: line %d, want %d", key, got, want)
		}
	}
}

// TestTestEventsStayInTheFolder: a symlink cannot lead test events out of
// the detection's folder either, and the error never shows the target.
func TestTestEventsStayInTheFolder(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret.json")
	os.WriteFile(outside, []byte(`{"token":"TOP-SECRET-CONTENT"}`), 0o600)
	os.Mkdir(filepath.Join(dir, "tests"), 0o755)
	if err := os.Symlink(outside, filepath.Join(dir, "tests", "link.json")); err != nil {
		t.Skip(err)
	}
	os.WriteFile(filepath.Join(dir, "tests", "ok.json"), []byte("{}"), 0o600)
	src := `id = "x"
title = "x"
severity = "low"
schedule = "@every 5m"
search = "eventName=x"
group_by = ["eventName"]
[ticket]
summary = "x"
[[test]]
name = "link"
events = "tests/link.json"
expect_alerts = 0
[[test]]
name = "ok"
events = "tests/ok.json"
expect_alerts = 0
`
	os.WriteFile(filepath.Join(dir, "x.toml"), []byte(src), 0o644)
	_, err := LoadFile(filepath.Join(dir, "x.toml"), LoadOptions{})
	ps := Problems(err)
	if len(ps) != 1 || ps[0].Key != "test[1].events" || ps[0].Line != 11 || !strings.Contains(ps[0].Msg, "outside the detection's folder") {
		t.Fatalf("problems: %v", err)
	}
	if strings.Contains(err.Error(), "TOP-SECRET") || strings.Contains(err.Error(), outside) {
		t.Errorf("the error shows the target: %v", err)
	}
}
