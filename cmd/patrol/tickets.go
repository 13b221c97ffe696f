package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/state"
)

type ticketView struct {
	Key       string   `json:"key"`
	Detection string   `json:"detection"`
	Summary   string   `json:"summary"`
	Status    string   `json:"status"`
	Stage     string   `json:"stage"`
	Labels    []string `json:"labels"`
	URL       string   `json:"url,omitempty"`
	Actions   []string `json:"actions"`
	Created   string   `json:"created"`
}

func cmdTickets(ctx context.Context, args []string, out, errOut io.Writer) int {
	fs, cfgPath := flags("tickets", errOut)
	asJSON := fs.Bool("json", false, "print one JSON object per ticket")
	if code, stop := parse(fs, args); stop {
		return code
	}
	cfg, code := loadConfig(*cfgPath, errOut)
	if cfg == nil {
		return code
	}
	db, err := state.Open(cfg.State.Path, nil)
	if err != nil {
		fmt.Fprintf(errOut, "patrol tickets: %v\n", err)
		return exitFailed
	}
	defer db.Close()
	if fs.NArg() == 1 {
		return showTicket(ctx, db, fs.Arg(0), cfg.Tickets.Backend == "local", out, errOut)
	}
	rows, err := db.TicketsInStage(ctx)
	if err != nil {
		fmt.Fprintf(errOut, "patrol tickets: %v\n", err)
		return exitFailed
	}
	var views []ticketView
	for _, r := range rows {
		v := ticketView{Key: r.Key, Detection: r.Detection, Summary: r.Summary, Status: r.Status, Stage: r.Stage,
			Labels: r.Labels, URL: r.URL, Actions: []string{}, Created: r.Created.Format(time.RFC3339)}
		if cfg.Tickets.Backend == "local" {
			if lt, err := db.LocalGet(ctx, r.Key); err == nil {
				v.Status, v.Labels = lt.Status, lt.Labels
			}
		}
		evs, err := db.TicketActions(ctx, r.Key)
		if err != nil {
			fmt.Fprintf(errOut, "patrol tickets: %v\n", err)
			return exitFailed
		}
		for _, e := range evs {
			s := e.Action + ":" + e.Phase
			if e.DryRun {
				s += "(dry-run)"
			}
			v.Actions = append(v.Actions, s)
		}
		views = append(views, v)
	}
	if *asJSON {
		enc := json.NewEncoder(out)
		for _, v := range views {
			enc.Encode(v)
		}
		return exitOK
	}
	if len(views) == 0 {
		fmt.Fprintln(out, "no tickets yet")
		return exitOK
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tSTATUS\tSTAGE\tDETECTION\tSUMMARY\tLAST ACTION")
	for _, v := range views {
		last := "-"
		if n := len(v.Actions); n > 0 {
			last = v.Actions[n-1]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.Key, v.Status, v.Stage, v.Detection, poller.CleanText(truncate(v.Summary, 70)), last)
	}
	tw.Flush()
	fmt.Fprintln(out, "\n'patrol tickets KEY' shows one ticket in full.")
	return exitOK
}

func showTicket(ctx context.Context, db *state.DB, key string, local bool, out, errOut io.Writer) int {
	row, err := db.Ticket(ctx, key)
	if err != nil || row == nil {
		fmt.Fprintf(errOut, "patrol tickets: no ticket %s in the ledger\n", key)
		return exitFailed
	}
	fmt.Fprintf(out, "%s  %s\n", row.Key, poller.CleanText(row.Summary))
	fmt.Fprintf(out, "detection: %s  stage: %s  %s\n", row.Detection, row.Stage, poller.CleanText(row.Note))
	if local {
		lt, err := db.LocalGet(ctx, key)
		if err == nil {
			fmt.Fprintf(out, "status: %s  labels: %s  assignee: %s  component: %s\n\n", lt.Status, strings.Join(lt.Labels, " "), lt.Assignee, lt.Component)
			fmt.Fprintln(out, indent(lt.Description))
			cs, _ := db.LocalComments(ctx, key)
			for _, c := range cs {
				fmt.Fprintf(out, "--- comment by %s at %s\n%s\n", c.Author, c.At.Format(time.RFC3339), indent(c.Body))
			}
		}
	} else if row.URL != "" {
		fmt.Fprintf(out, "url: %s\n", row.URL)
	}
	if plans, _ := db.Plans(ctx, key); len(plans) > 0 {
		fmt.Fprintln(out, "--- plans shown for approval")
		for _, p := range plans {
			posted, void := "not posted yet", ""
			if !p.Posted.IsZero() {
				posted = "posted " + p.Posted.Format(time.RFC3339)
			}
			if !p.Void.IsZero() {
				void = "  void: " + p.VoidReason
			}
			fmt.Fprintf(out, "digest %s %s%s\n", p.Digest, posted, void)
		}
	}
	if aps, _ := db.Approvals(ctx, key); len(aps) > 0 {
		fmt.Fprintln(out, "--- approvals")
		for _, a := range aps {
			fmt.Fprintf(out, "%s approved digest %s at %s via %s\n", poller.CleanText(a.By), a.Digest, a.At.Format(time.RFC3339), a.Via)
		}
	}
	evs, _ := db.TicketActions(ctx, key)
	if len(evs) > 0 {
		fmt.Fprintln(out, "--- action ledger")
		for _, e := range evs {
			fmt.Fprintf(out, "#%d %s %s %s on %s dry_run=%v %s\n", e.ID, e.At.Format(time.RFC3339), e.Action, e.Phase, e.Target, e.DryRun, poller.CleanText(e.Detail))
		}
	}
	return exitOK
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}
