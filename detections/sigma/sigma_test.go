package sigma_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patrolsec/patrol/detections/sigma"
	"github.com/patrolsec/patrol/poller/golden"
)

// TestGoldenDetections holds the detections generated from this package's
// rules, which use every modifier the converter supports, to golden files.
func TestGoldenDetections(t *testing.T) {
	rules, _ := filepath.Glob(filepath.Join("testdata", "rules", "*.yml"))
	if len(rules) == 0 {
		t.Fatal("no rules")
	}
	dir := t.TempDir()
	im := &sigma.Importer{Dir: dir, Validate: validate(t)}
	for _, r := range rules {
		o := im.Import(r)
		if o.Out == "" {
			t.Errorf("%s", o.Line())
			continue
		}
		b, err := os.ReadFile(o.Out)
		if err != nil {
			t.Fatal(err)
		}
		golden.Check(t, filepath.Join("testdata", "golden", filepath.Base(o.Out)), b)
	}
}

// TestSkipped shows what the converter refuses, and why: one line per file
// as `patrol import sigma` prints it.
func TestSkipped(t *testing.T) {
	files, bad := sigma.Files([]string{filepath.Join("testdata", "skip"), filepath.Join("testdata", "nope.yml")})
	im := &sigma.Importer{Dir: t.TempDir(), Validate: validate(t)}
	var lines []string
	for _, o := range bad {
		lines = append(lines, o.Line()+flags(o))
	}
	for _, f := range files {
		o := im.Import(f)
		if o.Out != "" {
			t.Errorf("%s converted", f)
		}
		lines = append(lines, o.Line()+flags(o))
	}
	golden.Check(t, filepath.Join("testdata", "skip.golden"), []byte(strings.Join(lines, "\n")+"\n"))
}

func flags(o sigma.Outcome) string {
	switch {
	case o.Unreadable:
		return " [unreadable]"
	case o.Failed:
		return " [failed]"
	}
	return " [not CloudTrail]"
}

// TestImporterKeepsAndOverwrites: an existing file is kept unless Force,
// and a second detection with the same id is refused.
func TestImporterKeepsAndOverwrites(t *testing.T) {
	dir := t.TempDir()
	rule := filepath.Join("testdata", "rules", "patrol_type_modifiers.yml")
	im := &sigma.Importer{Dir: dir, Validate: validate(t)}
	first := im.Import(rule)
	if first.Out == "" {
		t.Fatal(first.Line())
	}
	if err := os.WriteFile(first.Out, []byte("# edited by hand\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	again := im.Import(rule)
	if again.Out != "" || again.Failed || !strings.Contains(again.Reason, "exists (--force overwrites it)") {
		t.Errorf("second import: %+v", again)
	}
	if b, _ := os.ReadFile(first.Out); string(b) != "# edited by hand\n" {
		t.Error("the existing file was changed")
	}
	im.Force = true
	if o := im.Import(rule); o.Out == "" {
		t.Errorf("forced import: %s", o.Line())
	}
	if b, _ := os.ReadFile(first.Out); !strings.Contains(string(b), `id = "sigma-patrol-type-modifiers"`) {
		t.Error("--force did not overwrite")
	}
	im.IDs["sigma-patrol-type-modifiers"] = filepath.Join(dir, "mine.toml")
	if o := im.Import(rule); !o.Failed || !strings.Contains(o.Reason, "already used by") {
		t.Errorf("id clash: %+v", o)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("stray temporary file %s", e.Name())
		}
	}
}

// TestSearchCommands keeps generated searches to commands both backends
// run and that neither write nor send anything.
func TestSearchCommands(t *testing.T) {
	allowed := map[string]bool{"search": true, "spath": true, "where": true, "eval": true, "table": true}
	dir := t.TempDir()
	im := &sigma.Importer{Dir: dir, Validate: validate(t)}
	rules, _ := filepath.Glob(filepath.Join("testdata", "rules", "*.yml"))
	for _, r := range rules {
		o := im.Import(r)
		b, err := os.ReadFile(o.Out)
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		search := src[strings.Index(src, "search = '''")+len("search = '''") : strings.LastIndex(src, "'''")]
		for _, line := range strings.Split(strings.TrimSpace(search), "\n")[1:] {
			cmd := strings.Fields(strings.TrimPrefix(line, "|"))[0]
			if !strings.HasPrefix(line, "| ") || !allowed[cmd] {
				t.Errorf("%s: command line %q", o.Out, line)
			}
		}
	}
}
