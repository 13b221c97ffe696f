package detections

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

func validateTests(r *Reporter, d *Detection, raw *rawDetection, dir string) {
	for i, t := range raw.Tests {
		key := fmt.Sprintf("test[%d]", i+1)
		tc := TestCase{Name: t.Name, Events: t.Events, Expect: t.Expect}
		if t.Name == "" {
			r.Add(key+".name", "is required")
		}
		if t.Events == "" {
			r.Add(key+".events", "is required (a file of events, relative to the detection file)")
		} else if msg := checkEventsPath(dir, t.Events); msg != "" {
			r.Add(key+".events", "%s", msg)
		}
		if t.ExpectAlerts == nil {
			r.Add(key+".expect_alerts", "is required (the number of alerts the events must make)")
		} else if *t.ExpectAlerts < 0 {
			r.Add(key+".expect_alerts", "must not be negative")
		} else {
			tc.ExpectAlerts = *t.ExpectAlerts
		}
		d.Tests = append(d.Tests, tc)
	}
}

// TestPath resolves a test case's events file (validated to lie inside
// the detection's folder).
func (d *Detection) TestPath(t TestCase) string { return filepath.Join(d.Dir, t.Events) }

// checkEventsPath confines a test's events file to the detection's folder:
// detections come through pull requests, and `patrol test` must not read
// (nor report on) whatever file one names. It says what is wrong, naming
// the path as written and never the file's content, or "".
func checkEventsPath(dir, path string) string {
	switch {
	case filepath.IsAbs(path) || strings.HasPrefix(path, "/") || filepath.VolumeName(path) != "":
		return fmt.Sprintf("%s: must be a path relative to the detection file, inside its folder", path)
	case slices.Contains(strings.Split(filepath.ToSlash(path), "/"), ".."):
		return fmt.Sprintf("%s: must not climb out with \"..\": test events live in the detection's folder", path)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Sprintf("%s: the detection's folder cannot be opened", path)
	}
	defer root.Close()
	// os.Root follows symbolic links only while they stay inside dir.
	fi, err := root.Stat(path)
	switch {
	case err != nil && errors.Is(err, os.ErrNotExist):
		return fmt.Sprintf("%s: no such file (paths are relative to the detection file)", path)
	case err != nil:
		return fmt.Sprintf("%s: leads outside the detection's folder, or cannot be read there", path)
	case !fi.Mode().IsRegular():
		return fmt.Sprintf("%s: not a regular file", path)
	}
	return ""
}
