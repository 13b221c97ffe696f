package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/state"
)

// shadowView is one shadow alert and what patrol would have done about it.
type shadowView struct {
	Detection   string    `json:"detection"`
	Fingerprint string    `json:"fingerprint"`
	FirstSeen   time.Time `json:"first_seen"`
	LastSeen    time.Time `json:"last_seen"`
	Results     int       `json:"results"`
	poller.Would
}

func cmdShadow(ctx context.Context, args []string, out, errOut io.Writer) int {
	fs, cfgPath := flags("shadow", errOut)
	asJSON := fs.Bool("json", false, "print one JSON object per shadow alert")
	if code, stop := parse(fs, args); stop {
		return code
	}
	a, code := setup(ctx, *cfgPath, setupOptions{detect: true}, errOut)
	if a == nil {
		return code
	}
	defer a.close()
	ids := fs.Args()
	if len(ids) == 0 {
		for _, d := range *a.dets.Load() {
			if d.Shadow() {
				ids = append(ids, d.ID)
			}
		}
	} else if _, err := selectDetections(*a.dets.Load(), ids); err != nil {
		fmt.Fprintf(errOut, "patrol shadow: %v\n", err)
		return exitInvalid
	}
	var alerts []state.Alert
	if len(ids) > 0 {
		db, err := openExisting(a.cfg.State.Path)
		if err != nil {
			fmt.Fprintf(errOut, "patrol shadow: %v\n", err)
			return exitFailed
		}
		if db != nil {
			defer db.Close()
			if alerts, err = db.ShadowAlerts(ctx, ids...); err != nil {
				fmt.Fprintf(errOut, "patrol shadow: %v\n", err)
				return exitFailed
			}
		}
	}
	views := map[string][]shadowView{}
	for _, al := range alerts {
		v := shadowView{Detection: al.Detection, Fingerprint: al.Fingerprint, FirstSeen: al.FirstSeen, LastSeen: al.LastSeen, Results: al.Count}
		_ = json.Unmarshal([]byte(al.Would), &v.Would)
		views[al.Detection] = append(views[al.Detection], v)
		if *asJSON {
			b, _ := json.Marshal(v)
			fmt.Fprintf(out, "%s\n", b)
		}
	}
	if *asJSON {
		return exitOK
	}
	if len(ids) == 0 {
		fmt.Fprintln(out, "no detection is in the shadow stage (stage = \"shadow\")")
		return exitOK
	}
	for _, id := range ids {
		printShadow(out, a.detection(id), id, views[id])
	}
	return exitOK
}

func printShadow(out io.Writer, d *detections.Detection, id string, vs []shadowView) {
	stage := "now live"
	if d != nil && d.Shadow() {
		stage = "shadow"
	}
	fmt.Fprintf(out, "%s (%s): %d alert(s) recorded without a ticket\n", id, stage, len(vs))
	for _, v := range vs {
		fmt.Fprintf(out, "  %s  x%d  would open: %s\n", v.FirstSeen.Format(time.RFC3339), v.Results, poller.CleanText(v.Summary))
		route := v.Route.Team
		for _, part := range []string{v.Route.Component, v.Route.Assignee, v.Route.SlackChannel} {
			if part != "" {
				route += " " + part
			}
		}
		if route != "" {
			fmt.Fprintf(out, "      route: %s\n", poller.CleanText(route))
		}
		if rem := v.Remediation; rem != nil {
			text := rem.PlanText
			if rem.Error != "" {
				text = "cannot be planned: " + rem.Error
			}
			fmt.Fprintf(out, "      would run %s (%s): %s\n", rem.Action, rem.Mode, poller.CleanText(strings.SplitN(text, "\n", 2)[0]))
		}
	}
}

// openExisting opens the state file read-only for a command that only
// reads it, or returns nil when there is none yet (nothing has run): it
// never creates or changes one.
func openExisting(path string) (*state.DB, error) {
	db, err := state.OpenReadOnly(path)
	if errors.Is(err, state.ErrNoState) {
		return nil, nil
	}
	return db, err
}
