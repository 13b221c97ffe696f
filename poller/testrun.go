package poller

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/patrolsec/patrol/detections"
)

// TestResult is the outcome of one detection test case.
type TestResult struct {
	Detection string
	Case      string
	Alerts    int
	Want      int
	Err       error
	Problems  []string
}

// Passed reports whether the case passed.
func (r TestResult) Passed() bool { return r.Err == nil && len(r.Problems) == 0 }

// RunTest runs one test case: the events file through searcher (built for
// that file) and the detection's search, grouped by the same fingerprint as
// production. Alerts are distinct fingerprints.
func RunTest(ctx context.Context, d *detections.Detection, tc detections.TestCase, searcher Searcher) TestResult {
	res := TestResult{Detection: d.ID, Case: tc.Name, Want: tc.ExpectAlerts}
	first := map[string]Result{}
	var order []string
	err := searcher.Search(ctx, Query{Detection: d.ID, SPL: d.Expanded, TimeMode: EventTime}, func(r Result) error {
		fp := Fingerprint(d.ID, d.GroupBy, r)
		if _, ok := first[fp]; !ok {
			first[fp] = r
			order = append(order, fp)
		}
		return nil
	})
	if err != nil {
		res.Err = err
		return res
	}
	res.Alerts = len(first)
	if res.Alerts != tc.ExpectAlerts {
		res.Problems = append(res.Problems, fmt.Sprintf("got %d alert(s), want %d", res.Alerts, tc.ExpectAlerts))
	}
	for i, want := range tc.Expect {
		if !anyMatches(first, order, want) {
			res.Problems = append(res.Problems, fmt.Sprintf("expect #%d (%s) matches no alert", i+1, describe(want)))
		}
	}
	return res
}

func anyMatches(alerts map[string]Result, order []string, want map[string]string) bool {
	for _, fp := range order {
		r := alerts[fp]
		ok := true
		for f, v := range want {
			if got, _ := r.Lookup(f); got != v {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func describe(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, " ")
}
