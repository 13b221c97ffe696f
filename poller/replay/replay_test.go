package replay_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/replay"
)

// files is a backend of event files held in memory: each file's results.
type files map[string][]poller.Result

type fileSearcher []poller.Result

func (f fileSearcher) Search(_ context.Context, q poller.Query, emit func(poller.Result) error) error {
	if strings.HasPrefix(q.SPL, "*") { // the replay asking for the file's latest event
		var latest string
		for _, r := range f {
			if t := r.Get("_time"); t > latest {
				latest = t
			}
		}
		return emit(poller.Result{"_time": {latest}})
	}
	for _, r := range f {
		if err := emit(r); err != nil {
			return err
		}
	}
	return nil
}

func (fs files) env(ds ...*detections.Detection) replay.Env {
	return replay.Env{
		Detection: func(id string) *detections.Detection {
			for _, d := range ds {
				if d.ID == id {
					return d
				}
			}
			return nil
		},
		Searcher: func(path string) (poller.Searcher, error) {
			rs, ok := fs[filepath.Base(path)]
			if !ok {
				return nil, errors.New("no such file")
			}
			return fileSearcher(rs), nil
		},
	}
}

func stop(at time.Time, trail string) poller.Result {
	return poller.Result{"_time": {at.Format(time.RFC3339)}, "eventName": {"StopLogging"}, "requestParameters.name": {trail}}
}

func detection(t *testing.T) *detections.Detection {
	t.Helper()
	d, err := detections.LoadFile(filepath.Join("testdata", "stop.toml"), detections.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRunCase(t *testing.T) {
	d := detection(t)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fs := files{
		"one.json": {stop(at, "a"), stop(at.Add(time.Minute), "a"), stop(at.Add(2*time.Minute), "b")},
		"two.json": {stop(at.Add(time.Hour), "a"), stop(at.Add(time.Hour), "c")},
	}
	tests := []struct {
		name     string
		tc       detections.TestCase
		pass     bool
		problems string
	}{
		{"alerts are distinct fingerprints", detections.TestCase{Events: []string{"one.json"}, ExpectAlerts: 2}, true, ""},
		{"count mismatch", detections.TestCase{Events: []string{"one.json"}, ExpectAlerts: 3}, false, "got 2 alert(s), want 3"},
		{"expected fields match an alert", detections.TestCase{Events: []string{"one.json"}, ExpectAlerts: 2, Expect: []map[string]string{{"requestParameters.name": "b"}}}, true, ""},
		{"expected fields match none", detections.TestCase{Events: []string{"one.json"}, ExpectAlerts: 2, Expect: []map[string]string{{"requestParameters.name": "c", "eventName": "StopLogging"}}}, false, "expect #1 (eventName=StopLogging requestParameters.name=c) matches no alert"},
		{"files in order: a repeat inside suppress is not a new alert", detections.TestCase{Events: []string{"one.json", "two.json"}, ExpectAlerts: 3, PerFile: []int{2, 1}}, true, ""},
		{"per-file mismatch", detections.TestCase{Events: []string{"one.json", "two.json"}, ExpectAlerts: 3, PerFile: []int{1, 2}}, false, "new alerts per events file: got [2 1], want [1 2]"},
		{"missing file", detections.TestCase{Events: []string{"nope.json"}}, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := replay.Run(context.Background(), fs.env(d), d, tc.tc)
			if res.Passed() != tc.pass || !strings.Contains(strings.Join(res.Problems, ";"), tc.problems) {
				t.Errorf("result %+v", res)
			}
		})
	}
}
