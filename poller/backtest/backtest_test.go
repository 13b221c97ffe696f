package backtest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/searchtest"
	"github.com/patrolsec/patrol/poller/tuning"
)

const det = `id = "key-used"
title = "Access key used"
severity = "high"
schedule = "@every 5m"
stage = "shadow"
search = "x"
group_by = ["key"]
suppress = "24h"
[ticket]
summary = "Key {key} used from {ip}"
[remediation]
action = "iam.disable_access_key"
mode = "auto"
grace = "15m"
params = { account = "111122223333", user = "{user}", key = "{key}" }

[[exception]]
match = { "ip" = "198.51.100.0/24" }
reason = "scanner"
owner = "alice"
expires = 2026-11-20
`

type planner struct{}

func (planner) Plan(_ context.Context, req poller.ActionRequest) (poller.Plan, error) {
	return poller.Plan{Target: req.Params["key"], Account: req.Params["account"], Steps: []string{"disable " + req.Params["key"]}}, nil
}
func (planner) Apply(context.Context, poller.Plan) (poller.Outcome, error) {
	panic("a backtest applied an action")
}

// TestBacktest: a shadow detection is backtested as a live one, in windows
// of max_window, with its exceptions and the silences applied by each
// result's time; suppression groups repeats into one ticket per span; the
// remediation is planned, never applied; a second run sees nothing of the
// first (each backtest starts from a fresh scratch state).
func TestBacktest(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "d.toml"), []byte(det), 0o644)
	d, err := detections.LoadFile(filepath.Join(dir, "d.toml"), detections.LoadOptions{Now: func() time.Time { return time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	silences := filepath.Join(dir, "silences.toml")
	os.WriteFile(silences, []byte(`[[silence]]
id = "maint"
detections = ["key-*"]
match = { "user" = "bob" }
starts = 2026-11-10T00:00:00Z
expires = 2026-11-11T00:00:00Z
owner = "o"
reason = "r"
`), 0o644)
	sf, err := tuning.OpenSilences(silences, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := searchtest.New()
	at := func(day, hour int) time.Time { return time.Date(2026, 11, day, hour, 0, 0, 0, time.UTC) }
	use := func(day, hour int, user, key, ip string) {
		s.Add("key-used", at(day, hour), poller.Result{"user": {user}, "key": {key}, "ip": {ip}})
	}
	use(2, 1, "alice", "AKIA1", "192.0.2.1")    // a ticket
	use(2, 5, "alice", "AKIA1", "192.0.2.1")    // a repeat inside suppress
	use(5, 1, "alice", "AKIA1", "192.0.2.1")    // a new generation: another ticket
	use(3, 1, "scan", "AKIA2", "198.51.100.7")  // excepted
	use(25, 1, "scan", "AKIA2", "198.51.100.7") // the exception has expired: a ticket
	use(10, 6, "bob", "AKIA3", "192.0.2.9")     // silenced
	use(12, 6, "bob", "AKIA3", "192.0.2.9")     // after the silence: a ticket
	o := Options{Detections: []*detections.Detection{d}, Searcher: s, Tuner: &tuning.Tuner{Silences: sf},
		Actions: map[string]poller.Action{"iam.disable_access_key": planner{}}, DryRun: true, Label: "patrol",
		MaxWindow: 24 * time.Hour, From: at(1, 0), To: at(30, 0)}
	for range 2 {
		reps, err := Run(context.Background(), o)
		if err != nil || len(reps) != 1 {
			t.Fatalf("%v %v", reps, err)
		}
		r := reps[0]
		if r.Error != "" || r.Windows != 29 || r.Results != 7 || r.Excepted != 1 || r.Silenced != 1 || len(r.Tickets) != 4 || r.Alerts != 3 {
			t.Fatalf("report %+v", r)
		}
		if r.Stage != detections.StageShadow || r.Tickets[0].Summary != "Key AKIA1 used from 192.0.2.1" || !r.Tickets[0].FirstSeen.Equal(at(2, 1)) || r.Tickets[0].Results != 2 {
			t.Errorf("first ticket %+v", r.Tickets[0])
		}
		if len(r.Remediations) != 4 || r.Remediations[0].Mode != "auto" || r.Remediations[0].Grace != "15m0s" || !r.Remediations[0].DryRun ||
			r.Remediations[0].Plan == nil || r.Remediations[0].Plan.Target != "AKIA1" {
			t.Errorf("remediations %+v", r.Remediations)
		}
	}
	if n := len(s.Queries()); n != 58 {
		t.Errorf("%d searches, want one per day of the span, twice", n)
	}
}
