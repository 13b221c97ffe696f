package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/patrolsec/patrol/poller/tuning"
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
	if _, serr := tuning.LoadSilences(cfg.Detections.Silences); serr != nil {
		err = errors.Join(err, serr)
	}
	if err != nil {
		printProblems(out, err)
		return exitInvalid
	}
	// Warnings do not make the input invalid: an exception expiring soon
	// or expired (it stops applying by itself).
	if ws := tuning.Warnings(ds, time.Now()); len(ws) > 0 {
		warnings := make([]error, len(ws))
		for i, w := range ws {
			warnings[i] = w
		}
		printProblems(out, errors.Join(warnings...))
	}
	if *remote {
		if code := validateRemote(ctx, cfg, ds, out, errOut); code != exitOK {
			return code
		}
	}
	fmt.Fprintf(out, "ok: %s and %d detection(s) in %s are valid\n", cfg.File, len(ds), cfg.Detections.Dir)
	return exitOK
}
