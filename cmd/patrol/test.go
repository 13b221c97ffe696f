package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/replay"
)

func cmdTest(ctx context.Context, args []string, out, errOut io.Writer) int {
	fs, cfgPath := flags("test", errOut)
	if code, stop := parse(fs, args); stop {
		return code
	}
	cfg, code := loadConfig(*cfgPath, errOut)
	if cfg == nil {
		return code
	}
	all, err := loadDetections(cfg)
	if err != nil {
		printProblems(errOut, err)
		return exitInvalid
	}
	selected, err := selectDetections(all, fs.Args())
	if err != nil {
		fmt.Fprintf(errOut, "patrol test: %v\n", err)
		return exitInvalid
	}
	level, _ := logLevel()
	log := newLogger(errOut, level)
	env := replay.Env{Detection: byID(all), Searcher: func(path string) (poller.Searcher, error) { return newFileSearcher(cfg, path, log) }}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RESULT\tDETECTION\tCASE\tALERTS\tDETAIL")
	passed, failed, untested := 0, 0, 0
	for _, d := range selected {
		if len(d.Tests) == 0 {
			untested++
			fmt.Fprintf(tw, "none\t%s\t-\t-\tno [[test]] cases\n", d.ID)
			continue
		}
		for _, tc := range d.Tests {
			res := replay.Run(ctx, env, d, tc)
			verdict, detail := "PASS", ""
			if !res.Passed() {
				verdict = "FAIL"
				failed++
				if res.Err != nil {
					detail = res.Err.Error()
				}
				for _, p := range res.Problems {
					if detail != "" {
						detail += "; "
					}
					detail += p
				}
			} else {
				passed++
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\n", verdict, d.ID, tc.Name, res.Alerts, res.Want, detail)
		}
	}
	tw.Flush()
	fmt.Fprintf(out, "\n%d passed, %d failed", passed, failed)
	if untested > 0 {
		fmt.Fprintf(out, ", %d detection(s) without tests", untested)
	}
	fmt.Fprintln(out)
	if failed > 0 {
		return exitFailed
	}
	return exitOK
}

// byID returns a lookup of detections by id.
func byID(ds []*detections.Detection) func(string) *detections.Detection {
	m := map[string]*detections.Detection{}
	for _, d := range ds {
		m[d.ID] = d
	}
	return func(id string) *detections.Detection { return m[id] }
}
