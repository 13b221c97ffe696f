package poller

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/detections"
)

func TestRunTest(t *testing.T) {
	d := testDetection(t, "")
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newSearcher(stop(at, "a"), stop(at.Add(time.Minute), "a"), stop(at.Add(2*time.Minute), "b"))
	tests := []struct {
		name     string
		tc       detections.TestCase
		pass     bool
		problems string
	}{
		{"alerts are distinct fingerprints", detections.TestCase{ExpectAlerts: 2}, true, ""},
		{"count mismatch", detections.TestCase{ExpectAlerts: 3}, false, "got 2 alert(s), want 3"},
		{"expected fields match an alert", detections.TestCase{ExpectAlerts: 2, Expect: []map[string]string{{"requestParameters.name": "b"}}}, true, ""},
		{"expected fields match none", detections.TestCase{ExpectAlerts: 2, Expect: []map[string]string{{"requestParameters.name": "c", "eventName": "StopLogging"}}}, false, "expect #1 (eventName=StopLogging requestParameters.name=c) matches no alert"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := RunTest(context.Background(), d, tc.tc, s)
			if res.Passed() != tc.pass || !strings.Contains(strings.Join(res.Problems, ";"), tc.problems) {
				t.Errorf("result %+v", res)
			}
		})
	}
	s.err = errors.New("bad file")
	if res := RunTest(context.Background(), d, detections.TestCase{}, s); res.Passed() || res.Err == nil {
		t.Errorf("search error: %+v", res)
	}
}

func TestFingerprintStable(t *testing.T) {
	a := Result{"x": {"2", "1"}, "y": {"v"}, "z": {"ignored"}}
	b := Result{"x": {"1", "2"}, "y": {"v"}}
	if Fingerprint("d", []string{"x", "y"}, a) != Fingerprint("d", []string{"x", "y"}, b) {
		t.Error("multivalue order or fields outside group_by changed the fingerprint")
	}
	if Fingerprint("d", []string{"x", "y"}, a) == Fingerprint("e", []string{"x", "y"}, a) {
		t.Error("detection id not in the fingerprint")
	}
	if Fingerprint("d", []string{"x"}, Result{"x": {"a b"}}) == Fingerprint("d", []string{"x"}, Result{"x": {"a", "b"}}) {
		t.Error("values are not delimited")
	}
}

func TestCleanText(t *testing.T) {
	in := "ok\tline\nnext \x1b[31mred\x07 \u202etxt.exe"
	want := "ok\tline\nnext \\x1b[31mred\\x07 \\u{202e}txt.exe"
	if got := CleanText(in); got != want {
		t.Errorf("got %q want %q", got, want)
	}
}
