package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/detections/attack"
)

func cmdCoverage(ctx context.Context, args []string, out, errOut io.Writer) int {
	fs, cfgPath := flags("coverage", errOut)
	asJSON := fs.Bool("json", false, "print the coverage as one JSON document")
	navigator := fs.String("navigator", "", "also write an ATT&CK Navigator layer (JSON, layer format 4.5) to `FILE`")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(errOut, "patrol coverage: unexpected argument %q\n", fs.Arg(0))
		return exitInvalid
	}
	cfg, code := loadConfig(*cfgPath, errOut)
	if cfg == nil {
		return code
	}
	ds, err := loadDetections(cfg)
	if err != nil {
		printProblems(errOut, err)
		return exitInvalid
	}
	m, err := attack.Enterprise()
	if err != nil {
		fmt.Fprintf(errOut, "patrol coverage: %v\n", err)
		return exitFailed
	}
	report := m.Cover(coverageOf(ds))
	if *navigator != "" {
		if err := writeLayer(*navigator, report.Layer("patrol detections")); err != nil {
			fmt.Fprintf(errOut, "patrol coverage: %v\n", err)
			return exitFailed
		}
		fmt.Fprintf(errOut, "wrote ATT&CK Navigator layer %s\n", *navigator)
	}
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			return exitFailed
		}
		return exitOK
	}
	if err := report.WriteText(out); err != nil {
		return exitFailed
	}
	return exitOK
}

// coverageOf is what coverage needs of each detection, with its stage.
func coverageOf(ds []*detections.Detection) []attack.Detection {
	out := make([]attack.Detection, len(ds))
	for i, d := range ds {
		stage := attack.StageLive
		if d.Shadow() {
			stage = attack.StageShadow
		}
		out[i] = attack.Detection{ID: d.ID, Techniques: d.Attack, Stage: stage}
	}
	return out
}

// writeLayer writes the layer atomically: a reader never sees half a file.
func writeLayer(path string, l attack.Layer) error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("navigator layer: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("navigator layer: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("navigator layer: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("navigator layer: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("navigator layer: %w", err)
	}
	return nil
}
