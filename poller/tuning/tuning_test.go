package tuning

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/golden"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"arn:aws:iam::*:role/scanner-*", "arn:aws:iam::111122223333:role/scanner-prod", true},
		{"arn:aws:iam::*:role/scanner-*", "arn:aws:sts::111122223333:assumed-role/scanner-prod/s", false},
		{"*scanner*", "arn:aws:sts::1:assumed-role/scanner-prod/session", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{`AKIA\*X`, "AKIA*X", true},
		{`AKIA\*X`, "AKIAZX", false},
		{`a\?`, "a?", true},
		{`a\?`, "ab", false},
		{"*", "", true},
		{"", "", true},
		{"é*", "été", true},
		{"**a", strings.Repeat("b", 10000) + "a", true},
	}
	for _, tc := range tests {
		if got := Glob([]rune(tc.pattern), tc.s); got != tc.want {
			t.Errorf("Glob(%q, %q) = %v", tc.pattern, tc.s, got)
		}
	}
}

func TestMatch(t *testing.T) {
	m := CompileMatch(map[string][]string{
		"userIdentity.arn": {"ARN:AWS:IAM::*:ROLE/Scanner-*"},
		"sourceIPAddress":  {"198.51.100.0/24", "2001:db8::/32", "10.1.2.3"},
	})
	r := func(arn string, ips ...string) poller.Result {
		return poller.Result{"userIdentity.arn": {arn}, "sourceIPAddress": ips}
	}
	role := "arn:aws:iam::1:role/scanner-a"
	tests := []struct {
		r    poller.Result
		want bool
	}{
		{r(role, "198.51.100.200"), true},
		{r(role, "198.51.101.1"), false},
		{r(role, "2001:db8::1"), true},
		{r(role, "::ffff:198.51.100.9"), true}, // v4-mapped
		{r(role, "10.1.2.3"), true},            // a plain address is a glob
		{r(role, "not an address"), false},
		{r(role, "203.0.113.1", "198.51.100.1"), true}, // any value of a multivalue
		{r("arn:aws:iam::1:role/other", "198.51.100.1"), false},
		{poller.Result{"sourceIPAddress": {"198.51.100.1"}}, false}, // every field must be there
	}
	for i, tc := range tests {
		if got := m.Matches(tc.r); got != tc.want {
			t.Errorf("%d: %v: got %v", i, tc.r, got)
		}
	}
	if !CompileMatch(nil).Matches(poller.Result{}) {
		t.Error("an empty match must match everything")
	}
}

func TestExceptAndExpiry(t *testing.T) {
	d := &detections.Detection{ID: "d", Exceptions: []detections.Exception{
		{Match: map[string][]string{"a": {"x*"}}, Expires: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
	}}
	tu := &Tuner{}
	before, after := time.Date(2026, 11, 30, 23, 59, 59, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if key, ok := tu.Except(d, poller.Result{"a": {"xyz"}}, before); !ok || key != d.Exceptions[0].Key() {
		t.Errorf("before expiry: %q %v", key, ok)
	}
	if _, ok := tu.Except(d, poller.Result{"a": {"xyz"}}, after); ok {
		t.Error("an expired exception still applies")
	}
	// A reloaded detection (a new pointer) is compiled again.
	d2 := &detections.Detection{ID: "d", Exceptions: []detections.Exception{
		{Match: map[string][]string{"a": {"y*"}}, Expires: after.Add(time.Hour)},
	}}
	if _, ok := tu.Except(d2, poller.Result{"a": {"yes"}}, after); !ok {
		t.Error("the reloaded exception does not apply")
	}
}

func TestParseSilences(t *testing.T) {
	ss, err := ParseSilences("silences.toml", `# a comment
[[silence]]
id = "maint-2026-12-10"
detections = ["ec2-*"]
match = { "recipientAccountId" = "111122223333" }
starts = 2026-12-10T20:00:00Z
expires = 2026-12-11T04:00:00Z
owner = "bob"
reason = "planned network change"

[[silence]]
id = "whole-day"
detections = ["x"]
expires = 2026-12-24
owner = "o"
reason = "r"
`)
	if err != nil || len(ss) != 2 {
		t.Fatalf("%v %v", ss, err)
	}
	s := ss[0]
	at := func(v string) time.Time { tm, _ := time.Parse(time.RFC3339, v); return tm }
	if !s.Covers("ec2-userdata-modified") || s.Covers("iam-x") || s.Line != 2 {
		t.Errorf("silence %+v", s)
	}
	for when, want := range map[string]string{"2026-12-10T19:59:59Z": "future", "2026-12-10T20:00:00Z": "active", "2026-12-11T04:00:00Z": "expired"} {
		if got := s.State(at(when)); got != want {
			t.Errorf("%s: %s, want %s", when, got, want)
		}
	}
	if !ss[1].Expires.Equal(at("2026-12-25T00:00:00Z")) || !ss[1].ActiveAt(at("2000-01-01T00:00:00Z")) {
		t.Errorf("a date expires at the end of the day; no starts means always: %+v", ss[1])
	}
	_, err = ParseSilences("bad.toml", `[[silence]]
id = "a"
detections = []
expires = 2026-12-11T04:00:00Z
owner = "bob"

[[silence]]
id = "a"
detections = ["x"]
match = { "f" = 1 }
starts = 2026-12-12T00:00:00Z
expires = 2026-12-11T04:00:00Z
owner = "bob"
reason = "r"

[[silence]]
id = "c"
detections = ["x"]
expires = "soon"
owner = "o"
reason = "r"
colour = "red"
`)
	var lines []string
	for _, p := range detections.Problems(err) {
		lines = append(lines, p.Error())
	}
	golden.Check(t, filepath.Join("testdata", "bad_silences.golden"), []byte(strings.Join(lines, "\n")+"\n"))
}

func TestAppendSilenceKeepsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "silences.toml")
	orig := "# Reviewed weekly.\n[[silence]]\nid = \"old\" # the first one\ndetections = [\"x\"]\nexpires = 2026-01-01\nowner = \"o\"\nreason = \"r\""
	os.WriteFile(path, []byte(orig), 0o640)
	now := time.Date(2026, 12, 2, 10, 30, 0, 0, time.UTC)
	s, err := AppendSilence(path, NewSilence{Detections: []string{"EC2-*"}, Match: map[string][]string{"a.b": {`x"y`, "z\n*"}},
		Starts: now, Expires: now.Add(2 * time.Hour), Owner: "bob", Reason: "a \"quoted\" reason\nover two lines"}, now)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), orig+"\n") || s.ID != "ec2-20261202T1030Z" {
		t.Fatalf("file:\n%s", b)
	}
	all, err := LoadSilences(path)
	if err != nil || len(all) != 2 {
		t.Fatalf("%v %v", all, err)
	}
	got := all[1]
	if got.ID != s.ID || got.Reason != "a \"quoted\" reason\nover two lines" || got.Match["a.b"][1] != "z\n*" || !got.Starts.Equal(now) {
		t.Errorf("read back %+v", got)
	}
	// The same id again is refused and changes nothing.
	if _, err := AppendSilence(path, NewSilence{ID: s.ID, Detections: []string{"x"}, Expires: now.Add(time.Hour), Owner: "o", Reason: "r"}, now); err == nil {
		t.Error("a duplicate id was appended")
	}
	if after, _ := os.ReadFile(path); string(after) != string(b) {
		t.Error("a refused append changed the file")
	}
	// A file that does not parse is not appended to.
	os.WriteFile(path, []byte("[[silence]\n"), 0o640)
	if _, err := AppendSilence(path, NewSilence{Detections: []string{"x"}, Expires: now, Owner: "o", Reason: "r"}, now); err == nil {
		t.Error("appended to a broken file")
	}
}

func TestSilenceFileFollowsChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "silences.toml")
	f, err := OpenSilences(path, nil) // missing: none
	if err != nil || len(f.Current()) != 0 {
		t.Fatalf("%v %v", f, err)
	}
	now := time.Date(2026, 12, 2, 10, 30, 0, 0, time.UTC)
	if _, err := AppendSilence(path, NewSilence{ID: "s1", Detections: []string{"x"}, Expires: now.Add(time.Hour), Owner: "o", Reason: "r"}, now); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.checked = time.Time{} // as if a second had passed
	f.mu.Unlock()
	if got := f.Current(); len(got) != 1 || got[0].ID != "s1" {
		t.Fatalf("after the change: %+v", got)
	}
	// A broken edit keeps the silences in force.
	os.WriteFile(path, []byte("[[silence]]\nid = 1\n"), 0o640)
	f.mu.Lock()
	f.checked = time.Time{}
	f.mu.Unlock()
	if got := f.Current(); len(got) != 1 {
		t.Fatalf("a broken file dropped the silences: %+v", got)
	}
	var p *detections.Problem
	if err := f.Reload(); !errors.As(err, &p) || p.Line == 0 {
		t.Errorf("reload of a broken file: %v", err)
	}
}

func TestWarnings(t *testing.T) {
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	ex := func(days int) detections.Exception {
		return detections.Exception{File: "d.toml", ExpiresLine: 7, Index: 2, Reason: "r", Owner: "o", Expires: now.Add(time.Duration(days) * 24 * time.Hour)}
	}
	ds := []*detections.Detection{{ID: "a", Exceptions: []detections.Exception{ex(-3), ex(10), ex(15)}}}
	ws := Warnings(ds, now)
	if len(ws) != 2 || !strings.Contains(ws[0].Error(), "d.toml:7: exception[2].expires: warning: expired 2026-11-29T00:00:00Z (3 days ago)") ||
		!strings.Contains(ws[1].Error(), "warning: expires 2026-12-12T00:00:00Z (in 10 days)") {
		t.Fatalf("warnings %v", ws)
	}
}

func TestExpiring(t *testing.T) {
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	ds := []*detections.Detection{{ID: "d", Exceptions: []detections.Exception{
		{Match: map[string][]string{"a": {"x"}}, Reason: "r", Owner: "alice", Expires: now.Add(3 * 24 * time.Hour)},
		{Match: map[string][]string{"a": {"y"}}, Reason: "r", Owner: "bob", Expires: now.Add(30 * 24 * time.Hour)},
		{Match: map[string][]string{"a": {"z"}}, Reason: "r", Owner: "carol", Expires: now.Add(-time.Hour)},
	}}}
	ss, err := ParseSilences("s.toml", "[[silence]]\nid = \"m\"\ndetections = [\"d\"]\nexpires = 2026-12-03T00:00:00Z\nowner = \"dan\"\nreason = \"maint\"\n")
	if err != nil {
		t.Fatal(err)
	}
	f := &SilenceFile{checked: now.Add(time.Hour * 24 * 365), silences: ss}
	got := Expiring(ds, f, now, 7*24*time.Hour)
	if len(got) != 2 || got[0].Kind != "silence" || got[0].Name != "m" || got[0].Reason != "maint" || got[0].Owner != "dan" ||
		got[1].Kind != "exception" || got[1].Name != "d: a=x" || got[1].Reason != "r" || got[1].Owner != "alice" {
		t.Fatalf("expiring %+v", got)
	}
}
