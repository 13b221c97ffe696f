package detections

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const stepTOML = `id = "%s"
title = "Step"
severity = "low"
schedule = "@every 5m"
search = "` + "`cloudtrail`" + ` eventName=X"
group_by = ["recipientAccountId"]
%s
[ticket]
summary = "s"
`

const seqTOML = `id = "%s"
title = "Sequence"
severity = "high"
schedule = "@every 5m"

[sequence]
steps  = ["%s", "%s"]
by     = { "%s" = ["recipientAccountId"],
           "%s" = ["recipientAccountId"] }
within = "2h"
absent = true

[ticket]
summary = "s"

[[test]]
name = "files in order"
events = ["a.json", "b.json"]
expect_alerts = [0, 1]
`

func writeFile(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func seq(id, a, b string) string { return fmt.Sprintf(seqTOML, id, a, b, a, b) }

func step(id, extra string) string { return fmt.Sprintf(stepTOML, id, extra) }

func TestLoadSequenceAndFirstSeen(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.json", `{"Records":[]}`)
	writeFile(t, dir, "b.json", `{"Records":[]}`)
	writeFile(t, dir, "stop.toml", step("stop", ""))
	writeFile(t, dir, "start.toml", step("start", "account_field = \"recipientAccountId\"\n[first_seen]\nfields = [\"recipientAccountId\"]\n"))
	writeFile(t, dir, "z_seq.toml", seq("not-restarted", "stop", "start"))
	ds, err := Load(dir, LoadOptions{Macros: testMacros(t)})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*Detection{}
	for _, d := range ds {
		byID[d.ID] = d
	}
	s := byID["not-restarted"]
	if s == nil || s.Sequence == nil || !s.Sequence.Absent || s.Sequence.Within != 2*time.Hour || s.Search != "" {
		t.Fatalf("sequence: %+v", s)
	}
	if len(s.GroupBy) != 1 || s.GroupBy[0] != SequenceInstanceField || s.Lookback != 2*time.Hour {
		t.Errorf("sequence group_by %v lookback %s: want one alert per instance and a lookback of within", s.GroupBy, s.Lookback)
	}
	if tc := s.Tests[0]; len(tc.Events) != 2 || tc.ExpectAlerts != 1 || len(tc.PerFile) != 2 || tc.PerFile[1] != 1 {
		t.Errorf("test case: %+v", tc)
	}
	f := byID["start"]
	if f.FirstSeen == nil || f.FirstSeen.History != DefaultFirstSeenHistory || f.FirstSeen.Learn != DefaultFirstSeenLearn || f.AccountField != "recipientAccountId" {
		t.Errorf("first_seen: %+v %q", f.FirstSeen, f.AccountField)
	}
}

// A sequence whose step is missing, or is itself a sequence, is refused,
// naming its file and line; the other detections still load.
func TestLoadSequenceStepsChecked(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.json", `{"Records":[]}`)
	writeFile(t, dir, "b.json", `{"Records":[]}`)
	writeFile(t, dir, "stop.toml", step("stop", ""))
	writeFile(t, dir, "x_missing.toml", seq("missing-step", "stop", "nope"))
	writeFile(t, dir, "y_nested.toml", seq("nested", "stop", "missing-step"))
	ds, err := Load(dir, LoadOptions{Macros: testMacros(t)})
	if len(ds) != 1 || ds[0].ID != "stop" {
		t.Errorf("loaded %d detections, want only stop", len(ds))
	}
	var got []string
	for _, p := range Problems(err) {
		got = append(got, filepath.Base(p.File)+":"+strconv.Itoa(p.Line)+": "+p.Key+": "+p.Msg)
	}
	want := []string{
		`x_missing.toml:7: sequence.steps: step "nope" is not a loaded detection`,
		`y_nested.toml:7: sequence.steps: step "missing-step" is itself a sequence`,
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.HasPrefix(g, w)
		}
		if !found {
			t.Errorf("no problem %q among:\n%s", w, strings.Join(got, "\n"))
		}
	}
}
