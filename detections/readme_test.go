package detections_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patrolsec/patrol/detections"
)

const (
	packStart = "<!-- pack:start -->"
	packEnd   = "<!-- pack:end -->"
)

// packTable renders the README's table of the shipped detections.
func packTable(ds []*detections.Detection) string {
	var b strings.Builder
	b.WriteString("| id | title | severity | schedule | remediation (mode) |\n|---|---|---|---|---|\n")
	for _, d := range ds {
		rem := "—"
		if d.Remediation != nil {
			rem = fmt.Sprintf("`%s` (%s)", d.Remediation.Action, d.Remediation.Mode)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | `%s` | %s |\n", d.ID, d.Title, d.Severity, d.Schedule, rem)
	}
	return b.String()
}

// TestReadmePackTable keeps the pack table in README.md (between the
// pack:start and pack:end markers) in step with the detections;
// `go test ./detections -run TestReadmePackTable -update` rewrites it.
func TestReadmePackTable(t *testing.T) {
	_, ds := loadPack(t)
	path := filepath.Join("..", "README.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start, end := strings.Index(readme, packStart), strings.Index(readme, packEnd)
	if start < 0 || end < start {
		t.Fatalf("README.md: want the markers %s and %s around the pack table", packStart, packEnd)
	}
	want := packStart + "\n" + packTable(ds) + packEnd
	got := readme[start : end+len(packEnd)]
	if got == want {
		return
	}
	// -update is the detections package's golden-file flag (load_test.go),
	// shared by this test binary.
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.WriteFile(path, []byte(readme[:start]+want+readme[end+len(packEnd):]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's pack table is stale; run go test ./detections -run TestReadmePackTable -update\ngot:\n%s\nwant:\n%s", got, want)
}
