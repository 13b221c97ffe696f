package report

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/state"
)

func buildReport(t *testing.T, path string, opt Options) *Report {
	t.Helper()
	db, err := state.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rep, err := Build(context.Background(), db, opt)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func tableOf(t *testing.T, rep *Report, name string) *Table {
	t.Helper()
	for _, tb := range rep.Tables() {
		if tb.Name == name {
			return tb
		}
	}
	t.Fatalf("no table %s", name)
	return nil
}

func mins(n int) time.Duration { return time.Duration(n) * time.Minute }

// TestFigures checks every table of the report against figures worked out
// by hand from the scenario (see buildScenario for the story).
func TestFigures(t *testing.T) {
	rep := buildReport(t, buildScenario(t), scenarioOptions())
	tracker := "(recorded in the tracker)"
	want := map[string][][]any{
		"alerts_over_time": {
			{"2026-11-02", 1, 0, 0, 0, 0, 1},
			{"2026-11-03", 1, 1, 0, 0, 0, 2},
			{"2026-11-04", 0, 1, 0, 0, 0, 1},
			{"2026-11-05", 0, 0, 0, 1, 1, 2},
			{"2026-11-06", 0, 0, 0, 0, 0, 0},
			{"2026-11-07", 0, 0, 0, 0, 0, 0},
			{"2026-11-08", 0, 0, 0, 0, 0, 0},
		},
		"alerts_by_detection": {
			{"d-crit", "Key leaked", "search", "critical", 2, 4, 2},
			{"d-high", "Group opened", "search", "high", 2, 2, 2},
			{"d-low", "Odd login", "first seen", "low", 1, 1, 0},
			{"gone-det", "", nil, "other", 1, 1, 1},
		},
		"response_times": {
			{"d-crit", 2, mins(6), mins(30), 3, 2, mins(66), mins(180)},
			{"d-high", 2, mins(2), mins(60), 4, 2, mins(90), mins(120)},
			{"gone-det", 1, mins(10), mins(10), 1, 1, mins(10), mins(10)},
			{"all detections", 5, mins(10), mins(60), 8, 5, mins(90), mins(180)},
		},
		"actions_by_kind": {
			{"ec2.revoke_open_ingress", 0, 0, 1, 2, 0, 0, 0, 3},
			{"iam.disable_access_key", 1, 1, 0, 0, 0, 0, 0, 2},
			{"s3.block_public_access", 0, 0, 0, 0, 1, 0, 0, 1},
			{"all actions", 1, 1, 1, 2, 1, 0, 0, 6},
		},
		"interrupted_actions": {},
		"held_actions": {
			{"LOCAL-7", "d-high", "ec2.revoke_open_ingress", "hourly budget", at(6, 10, 0), "Remediation held back: the hourly budget of 20 actions is used up."},
		},
		"approvals": {
			{"LOCAL-1", "d-crit", "iam.disable_access_key", at(1, 10, 10), "approved", "alice", at(1, 11, 10), mins(60), viaLabel},
			{"LOCAL-2", "d-crit", "iam.disable_access_key", at(2, 9, 31), "approved", "carol", at(2, 9, 51), mins(20), viaLabel},
			{"LOCAL-6", "d-crit", "iam.disable_access_key", at(5, 8, 5), "waiting", "", nil, spanTo.Sub(at(5, 8, 5)), ""},
			{"SEC-9", "d-high", "ec2.revoke_open_ingress", at(5, 9, 5), "approved", tracker, at(5, 9, 40), mins(35), viaLedger},
		},
		"approvers": {
			{tracker, 1, mins(35), mins(35)},
			{"alice", 1, mins(60), mins(60)},
			{"carol", 1, mins(20), mins(20)},
		},
		"top_accounts": {
			{"111122223333", 3, 2}, {"222233334444", 1, 1}, {"333344445555", 1, 1}, {"444455556666", 1, 1},
		},
		"top_principals": {
			{"arn:aws:iam::111122223333:user/bob", 2, 1}, {"arn:aws:iam::111122223333:user/mallory", 2, 1},
		},
		"top_sources": {
			{"192.0.2.66", 3, 2}, {"198.51.100.7", 1, 1}, {"203.0.113.5", 1, 1},
		},
		"detection_health": {
			{"d-crit", "search", 3, 1, 0, 1, 2, 3, 30 * time.Second, 3 * time.Minute, at(1, 10, 0).Add(30 * time.Second), time.Hour, 0, 0, 0, 0},
			{"d-high", "search", 2, 0, 1, 0, 0, 1, 10 * time.Second, 2*time.Minute + 10*time.Second, at(2, 11, 0).Add(10 * time.Second), nil, 0, 0, 0, 0},
			{"d-low", "first seen", 0, 0, 0, 0, 0, 0, nil, nil, nil, nil, 1, 0, 0, 0},
			{"d-seq", "sequence", 0, 0, 0, 0, 0, 0, nil, nil, nil, nil, 0, 0, 0, 0},
			{"(respond job)", nil, 2, 0, 0, 0, 0, 2, 2 * time.Second, nil, at(2, 11, 2).Add(4 * time.Second), nil, 0, 1, 0, 0},
		},
		"dead_letters": {
			{at(2, 9, 54), "LOCAL-2", "comment", "ticket comment", "400 Bad Request: comment body too long", 2, at(2, 9, 53)},
			{at(5, 10, 0), "SEC-9", "transition", "ticket transition", `400 Bad Request: no transition "Done"`, 2, at(0, 23, 0)},
		},
		"audit_trail": {
			{at(1, 11, 11), "LOCAL-1", "d-crit", "iam.disable_access_key", "AKIA1", "succeeded", "alice", at(1, 11, 12), 6, "succeeded detail"},
			{at(2, 9, 52), "LOCAL-2", "d-crit", "iam.disable_access_key", "AKIA2", "failed", "carol", at(2, 9, 53), 9, "failed detail"},
			{at(2, 11, 3), "LOCAL-3", "d-high", "ec2.revoke_open_ingress", "sg-3", "dry run", "auto mode", at(2, 11, 3), 10, "planned detail"},
			{at(3, 1, 1), "LOCAL-4", "d-high", "ec2.revoke_open_ingress", "sg-4", "refused", "", at(3, 1, 1), 11, "refused detail"},
			{at(4, 13, 19), "LOCAL-5", "gone-det", "s3.block_public_access", "bucket", "undone", "auto mode", at(4, 14, 0), 16, "reverted detail"},
			{at(5, 9, 40), "SEC-9", "d-high", "ec2.revoke_open_ingress", "sg-9", "dry run", tracker, at(5, 9, 40), 17, "planned detail"},
		},
	}
	var names []string
	for _, tb := range rep.Tables() {
		names = append(names, tb.Name)
		w, ok := want[tb.Name]
		if !ok {
			t.Errorf("table %s is not checked", tb.Name)
			continue
		}
		if len(tb.Rows) != len(w) {
			t.Errorf("%s: %d rows, want %d:\n%v", tb.Name, len(tb.Rows), len(w), tb.Rows)
			continue
		}
		for i := range w {
			if !reflect.DeepEqual(tb.Rows[i], w[i]) {
				t.Errorf("%s row %d:\n got %v\nwant %v", tb.Name, i, tb.Rows[i], w[i])
			}
			if len(tb.Rows[i]) != len(tb.Columns) {
				t.Errorf("%s row %d has %d cells for %d columns", tb.Name, i, len(tb.Rows[i]), len(tb.Columns))
			}
		}
	}
	if len(names) != len(want) {
		t.Errorf("tables = %v, want %d", names, len(want))
	}
}

func TestTiles(t *testing.T) {
	rep := buildReport(t, buildScenario(t), scenarioOptions())
	want := []Tile{
		{Label: "Alerts", Value: "6", Note: "8 tickets opened"},
		{Label: "Time to detect (median)", Value: "10m", Note: "p90 1h 00m · 5 alerts ticketed"},
		{Label: "Time to respond (median)", Value: "1h 30m", Note: "p90 3h 00m · 5 of 8 tickets answered"},
		{Label: "Remediated", Value: "1", Note: "2 dry runs · 1 undone", Tone: "good"},
		{Label: "Failed or refused", Value: "2", Note: "1 failed · 1 refused · 0 interrupted", Tone: "bad"},
		{Label: "Approvals", Value: "3", Note: "median wait 35m · 1 waiting", Tone: "warn"},
		{Label: "Detection runs", Value: "5", Note: "1 failed · 1 cancelled · 2 self-alerts", Tone: "warn"},
	}
	if !reflect.DeepEqual(rep.Tiles, want) {
		t.Errorf("tiles:\n got %+v\nwant %+v", rep.Tiles, want)
	}
}

func TestNotes(t *testing.T) {
	rep := buildReport(t, buildScenario(t), scenarioOptions())
	var notes []string
	for _, s := range rep.Sections {
		notes = append(notes, s.Notes...)
	}
	all := strings.Join(notes, "\n")
	for _, w := range []string{"not approvers, which approved nothing: bob on LOCAL-1.", "does not record who added the approve label"} {
		if !strings.Contains(all, w) {
			t.Errorf("notes lack %q:\n%s", w, all)
		}
	}
	if strings.Contains(all, "Run history") {
		t.Errorf("the run history is whole, yet: %s", all)
	}
	// A span that begins before the oldest run says its runs were pruned.
	opt := scenarioOptions()
	opt.From = at(-3, 0, 0)
	rep = buildReport(t, buildScenario(t), opt)
	if s := rep.Sections[len(rep.Sections)-2]; s.ID != "health" || len(s.Notes) != 1 || !strings.Contains(s.Notes[0], "oldest run recorded started 2026-11-01 03:00") {
		t.Errorf("health notes: %q", s.Notes)
	}
}

func TestPercentileNearestRank(t *testing.T) {
	for _, c := range []struct {
		xs      []int
		p, want int
	}{
		{[]int{5}, 50, 5}, {[]int{5}, 90, 5},
		{[]int{4, 1, 3, 2}, 50, 2}, {[]int{4, 1, 3, 2}, 90, 4}, {[]int{4, 1, 3, 2}, 75, 3},
		{[]int{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}, 90, 90}, {[]int{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}, 100, 100},
		{[]int{10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110}, 90, 100},
	} {
		var xs []time.Duration
		for _, x := range c.xs {
			xs = append(xs, time.Duration(x))
		}
		if got, _ := percentile(xs, c.p); got != time.Duration(c.want) {
			t.Errorf("p%d of %v = %d, want %d", c.p, c.xs, got, c.want)
		}
	}
	if _, ok := percentile(nil, 50); ok {
		t.Error("percentile of nothing is ok")
	}
}

func TestWeeklyBucketsForLongSpans(t *testing.T) {
	opt := scenarioOptions()
	opt.From, opt.To = time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), spanTo // 131 days
	rep := buildReport(t, buildScenario(t), opt)
	tb := tableOf(t, rep, "alerts_over_time")
	if tb.Columns[0].Key != "week" || tb.Rows[0][0] != "2026-06-29" {
		t.Fatalf("first period: %s %v", tb.Columns[0].Key, tb.Rows[0])
	}
	n := 0
	for _, r := range tb.Rows {
		n += r[len(r)-1].(int)
		if r[0] == "2026-11-02" && !reflect.DeepEqual(r, []any{"2026-11-02", 2, 2, 0, 1, 1, 6}) {
			t.Errorf("week of 2 Nov: %v", r)
		}
	}
	if n != 7 { // the span now holds the alert of 1 Nov too
		t.Errorf("alerts over the weeks = %d, want 7", n)
	}
}

func TestEmptyStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.db")
	db, err := state.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	opt := scenarioOptions()
	opt.From = time.Time{} // "all": from the oldest record; none, so the last 30 days
	rep := buildReport(t, path, opt)
	if !rep.From.Equal(spanTo.Add(-30 * 24 * time.Hour)) {
		t.Errorf("from = %s", rep.From)
	}
	for _, name := range []string{"alerts_by_detection", "response_times", "actions_by_kind", "approvals", "audit_trail"} {
		if tb := tableOf(t, rep, name); len(tb.Rows) != 0 || tb.Empty == "" {
			t.Errorf("%s: %v rows, empty text %q", name, tb.Rows, tb.Empty)
		}
	}
	if rep.Tiles[1].Value != "—" {
		t.Errorf("time to detect of nothing: %+v", rep.Tiles[1])
	}
}

func TestHumanDurations(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {300 * time.Millisecond, "<1s"}, {45 * time.Second, "45s"}, {4*time.Minute + 5*time.Second, "4m 05s"},
		{35*time.Minute + 20*time.Second, "35m"}, {3*time.Hour + 5*time.Minute, "3h 05m"}, {50 * time.Hour, "2d 2h"},
	} {
		if got := human(c.d); got != c.want {
			t.Errorf("human(%s) = %q, want %q", c.d, got, c.want)
		}
	}
}
