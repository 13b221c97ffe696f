package detections

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

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
