package detections

import (
	"fmt"
	"path/filepath"
)

// validateTests reads the [[test]] cases: events is a path or a list of
// paths, expect_alerts a number (in total) or a list (one per file).
func validateTests(r *Reporter, d *Detection, raw *rawDetection, dir string) {
	for i, t := range raw.Tests {
		key := fmt.Sprintf("test[%d]", i+1)
		tc := TestCase{Name: t.Name, Expect: t.Expect}
		if t.Name == "" {
			r.Add(key+".name", "is required")
		}
		switch ev := t.Events.(type) {
		case nil:
			r.Add(key+".events", "is required (a file of events, or a list of files replayed in order, relative to the detection file)")
		case string:
			tc.Events = []string{ev}
		case []any:
			for _, e := range ev {
				s, ok := e.(string)
				if !ok {
					r.Add(key+".events", "entries must be file paths (strings)")
					break
				}
				tc.Events = append(tc.Events, s)
			}
			if len(ev) == 0 {
				r.Add(key+".events", "names no file")
			}
		default:
			r.Add(key+".events", "must be a path or a list of paths")
		}
		for _, e := range tc.Events {
			if e == "" {
				r.Add(key+".events", "a path is empty")
			} else if msg := checkEventsPath(dir, e); msg != "" {
				r.Add(key+".events", "%s", msg)
			}
		}
		switch n := t.ExpectAlerts.(type) {
		case nil:
			r.Add(key+".expect_alerts", "is required (the number of alerts the events must make, or a list: one number per events file)")
		case int64:
			if n < 0 {
				r.Add(key+".expect_alerts", "must not be negative")
			}
			tc.ExpectAlerts = int(n)
		case []any:
			for _, e := range n {
				v, ok := e.(int64)
				if !ok || v < 0 {
					r.Add(key+".expect_alerts", "entries must be numbers of alerts, 0 or more")
					break
				}
				tc.PerFile = append(tc.PerFile, int(v))
				tc.ExpectAlerts += int(v)
			}
			if len(tc.PerFile) != len(tc.Events) && len(tc.Events) > 0 {
				r.Add(key+".expect_alerts", "lists %d number(s) for %d events file(s): give one per file, or one number in total", len(tc.PerFile), len(tc.Events))
			}
		default:
			r.Add(key+".expect_alerts", "must be a number or a list of numbers")
		}
		d.Tests = append(d.Tests, tc)
	}
}

// TestPaths resolves a test case's events files (validated to lie inside
// the detection's folder).
func (d *Detection) TestPaths(t TestCase) []string {
	out := make([]string, len(t.Events))
	for i, e := range t.Events {
		out[i] = e
		if !filepath.IsAbs(e) { // the loader refuses absolute paths; tests build cases with them
			out[i] = filepath.Join(d.Dir, e)
		}
	}
	return out
}
