package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/progress"
)

func cmdOnce(ctx context.Context, args []string, out, errOut io.Writer) int {
	fs, cfgPath := flags("once", errOut)
	var ids multiFlag
	fs.Var(&ids, "detection", "run only this detection (repeatable); default: all")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if !wantArgs(fs, 0, 0) {
		return exitInvalid
	}
	a, code := setup(ctx, *cfgPath, setupOptions{lock: true, jobs: true, partial: true, terse: true}, errOut)
	if a == nil {
		return code
	}
	defer a.close()
	selected, err := selectDetections(*a.dets.Load(), ids)
	if err != nil {
		fmt.Fprintf(errOut, "patrol once: %v\n", err)
		return exitInvalid
	}
	if showProgress(errOut) {
		// Each search's progress is redrawn in place and erased when it
		// ends, before the detection's own line is printed.
		ctx = progress.NewContext(ctx, liveMeter(errOut, "search", nil))
	}
	failed := false
	for _, d := range sequencesLast(selected) {
		st, err := a.detectOnce(ctx, d)
		status := "ok"
		if st.Waiting > 0 {
			// Not a failure: their tickets are looked up once the tracker's
			// search can show what a create with an unknown outcome made.
			status = fmt.Sprintf("ok (%d alert(s) wait for the tracker's index)", st.Waiting)
		}
		if st.Shadow {
			status += " (shadow: recorded, no ticket)"
		}
		if st.Excepted > 0 || st.Silenced > 0 {
			status += fmt.Sprintf(" excepted=%d silenced=%d", st.Excepted, st.Silenced)
		}
		switch {
		case errors.Is(err, poller.ErrCancelled):
			failed, status = true, "cancelled (interrupted)"
		case err != nil:
			failed, status = true, "FAILED: "+poller.CleanText(err.Error())
		}
		fmt.Fprintf(out, "detect  %-40s results=%-5d alerts=%-3d repeats=%-3d %s\n", d.ID, st.Results, st.Alerts, st.Repeats, status)
		if ctx.Err() != nil {
			return exitFailed
		}
	}
	st, err := a.respondOnce(ctx)
	status := "ok"
	switch n := a.outcomes.failed(); {
	case err != nil:
		failed, status = true, "FAILED: "+poller.CleanText(err.Error())
	case n > 0:
		failed, status = true, fmt.Sprintf("FAILED: %d remediation(s) did not complete ('patrol tickets' shows which)", n)
	}
	remediations := a.outcomes.String()
	if remediations == "" {
		remediations = "none"
	}
	fmt.Fprintf(out, "respond tickets=%d handled=%d remediations: %s  %s\n", st.Tickets, st.Handled, remediations, status)
	if len(a.digests) > 0 {
		status := "ok"
		if err := a.runDigests(ctx); err != nil {
			failed, status = true, "FAILED: "+poller.CleanText(err.Error())
		}
		fmt.Fprintf(out, "digests %d %s\n", len(a.digests), status)
	}
	switch {
	case a.invalidDetections:
		return exitInvalid
	case failed:
		return exitFailed
	}
	return exitOK
}

func selectDetections(all []*detections.Detection, ids []string) ([]*detections.Detection, error) {
	if len(ids) == 0 {
		return all, nil
	}
	byID := map[string]*detections.Detection{}
	for _, d := range all {
		byID[d.ID] = d
	}
	var out []*detections.Detection
	for _, id := range ids {
		d, ok := byID[id]
		if !ok {
			return nil, fmt.Errorf("no detection with id %q (see 'patrol status' for the loaded ones)", id)
		}
		out = append(out, d)
	}
	return out, nil
}

// sequencesLast orders detections so that sequences run after the searches
// whose alerts they read: one `once` then sees a sequence complete.
func sequencesLast(ds []*detections.Detection) []*detections.Detection {
	out := make([]*detections.Detection, 0, len(ds))
	for _, d := range ds {
		if d.Sequence == nil {
			out = append(out, d)
		}
	}
	for _, d := range ds {
		if d.Sequence != nil {
			out = append(out, d)
		}
	}
	return out
}
