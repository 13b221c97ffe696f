package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/detections/sigma"
	"github.com/patrolsec/patrol/detections/spl"
)

func cmdImport(ctx context.Context, args []string, out, errOut io.Writer) int {
	if len(args) == 0 || args[0] != "sigma" {
		fs, _ := flags("import", errOut)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fs.Usage()
			return exitOK
		}
		fmt.Fprintln(errOut, "patrol import: name the format first: patrol import sigma [--out DIR] [--force] PATH...")
		return exitInvalid
	}
	fs, cfgPath := flags("import", errOut)
	outDir := fs.String("out", "", "folder to write the detections to (default: the config's detections.dir)")
	force := fs.Bool("force", false, "overwrite detection files that already exist")
	if code, stop := parse(fs, args[1:]); stop {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(errOut, "patrol import sigma: give the Sigma rule files or folders to import (flags go before them)")
		return exitInvalid
	}
	cfg, code := loadConfig(*cfgPath, errOut)
	if cfg == nil {
		return code
	}
	dir := *outDir
	if dir == "" {
		dir = cfg.Detections.Dir
	}
	// Written files must pass `patrol validate` and run on the local engine
	// whatever the configured backend.
	opts := detections.LoadOptions{Macros: cfg.Macros(), CheckSPL: func(q string) error {
		if check := checkSPL(cfg); check != nil {
			return check(q)
		}
		return spl.Validate(q)
	}}
	im := &sigma.Importer{Dir: dir, Force: *force, Stage: sigma.DefaultStage, IDs: existingIDs(dir),
		Validate: func(path string) error { _, err := detections.LoadFile(path, opts); return err }}
	files, outcomes := sigma.Files(fs.Args())
	for _, f := range files {
		outcomes = append(outcomes, im.Import(f))
	}
	converted, failed, unreadable := 0, 0, 0
	for _, o := range outcomes {
		o.File, o.Out = relPath(o.File), relPath(o.Out)
		fmt.Fprintln(out, o.Line())
		switch {
		case o.Out != "":
			converted++
		case o.Unreadable:
			unreadable++
		case o.Failed:
			failed++
		}
	}
	fmt.Fprintf(errOut, "%d converted, %d skipped (%d CloudTrail rule(s) could not be converted, %d file(s) unreadable)\n",
		converted, len(outcomes)-converted, failed, unreadable)
	switch {
	case unreadable > 0:
		return exitInvalid
	case failed > 0:
		return exitFailed
	}
	return exitOK
}

// existingIDs maps the ids of the detections in dir to their files.
func existingIDs(dir string) map[string]string {
	ids := map[string]string{}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.toml"))
	for _, p := range paths {
		if d, _ := detections.LoadFile(p, detections.LoadOptions{}); d != nil && d.ID != "" {
			ids[d.ID] = p
		}
	}
	return ids
}

// relPath shows a path under the working directory relative to it.
func relPath(p string) string {
	if p == "" || !filepath.IsAbs(p) {
		return p
	}
	wd, _ := os.Getwd()
	if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return p
}
