package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/patrolsec/patrol/poller"
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
			level, _ := logLevel()
			s, err := newFileSearcher(cfg, d.TestPath(tc), newLogger(errOut, level))
			var res poller.TestResult
			if err != nil {
				res = poller.TestResult{Detection: d.ID, Case: tc.Name, Want: tc.ExpectAlerts, Err: err}
			} else {
				res = poller.RunTest(ctx, d, tc, s)
			}
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
