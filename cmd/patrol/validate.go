package main

import (
	"context"
	"fmt"
	"io"
)

func cmdValidate(ctx context.Context, args []string, out, errOut io.Writer) int {
	fs, cfgPath := flags("validate", errOut)
	remote := fs.Bool("remote", false, "also ask Splunk to parse each detection's search (search.backend = \"splunk\")")
	if code, stop := parse(fs, args); stop {
		return code
	}
	cfg, code := loadConfig(*cfgPath, out)
	if cfg == nil {
		return code
	}
	ds, err := loadDetections(cfg)
	if err != nil {
		printProblems(out, err)
		return exitInvalid
	}
	if *remote {
		if code := validateRemote(ctx, cfg, ds, out, errOut); code != exitOK {
			return code
		}
	}
	fmt.Fprintf(out, "ok: %s and %d detection(s) in %s are valid\n", cfg.File, len(ds), cfg.Detections.Dir)
	return exitOK
}
