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
	Key         string        `json:"key"`
	Detection   string        `json:"detection"`
	Summary     string        `json:"summary"`
	Status      string        `json:"status"`
	Stage       string        `json:"stage"`
	Note        string        `json:"note,omitempty"`
	Labels      []string      `json:"labels"`
	URL         string        `json:"url,omitempty"`
	Actions     []actionView  `json:"actions"`
	Created     time.Time     `json:"created"`
	Description string        `json:"description,omitempty"` // KEY --json, local tickets
	Comments    []commentView `json:"comments,omitempty"`    // KEY --json, local tickets
	local       *state.LocalTicket
}

type commentView struct {
	Author string    `json:"author"`
	At     time.Time `json:"at"`
	Body   string    `json:"body"`
}

func cmdTickets(ctx context.Context, args []string, out, errOut io.Writer) int {
	fs, cfgPath := flags("tickets", errOut)
	asJSON := fs.Bool("json", false, "print one JSON object per ticket")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if !wantArgs(fs, 0, 1) {
		return exitInvalid
	}
	cfg, code := loadConfig(*cfgPath, errOut)
	if cfg == nil {
		return code
	}
	db, err := state.OpenReadOnly(cfg.State.Path)
	if err != nil {
		fmt.Fprintf(errOut, "patrol tickets: %v\n", err)
		return exitFailed
	}
	defer db.Close()
	local := cfg.Tickets.Backend == "local"
	if fs.NArg() == 1 {
		return showTicket(ctx, db, fs.Arg(0), local, *asJSON, out, errOut)
	}
	rows, err := db.TicketsInStage(ctx)
	if err != nil {
		fmt.Fprintf(errOut, "patrol tickets: %v\n", err)
		return exitFailed
	}
	views := make([]ticketView, 0, len(rows))
	for _, r := range rows {
		v, err := viewTicket(ctx, db, r, local)
		if err != nil {
			fmt.Fprintf(errOut, "patrol tickets: %v\n", err)
			return exitFailed
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
			e := v.Actions[n-1]
			last = e.Action + ":" + e.Phase
			if e.DryRun {
				last += "(dry-run)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.Key, v.Status, v.Stage, v.Detection, poller.CleanText(truncate(v.Summary, 70)), last)
	}
	tw.Flush()
	fmt.Fprintln(out, "\n'patrol tickets KEY' shows one ticket in full.")
	return exitOK
}

// viewTicket is a ledger row with its action rows and, for local tickets,
// the ticket's own status and labels.
func viewTicket(ctx context.Context, db *state.DB, r state.TicketRow, local bool) (ticketView, error) {
	v := ticketView{Key: r.Key, Detection: r.Detection, Summary: r.Summary, Status: r.Status, Stage: r.Stage,
		Note: r.Note, Labels: r.Labels, URL: r.URL, Created: r.Created}
	if local {
		if lt, err := db.LocalGet(ctx, r.Key); err == nil {
			v.Status, v.Labels, v.local = lt.Status, lt.Labels, lt
		}
	}
	if v.Labels == nil {
		v.Labels = []string{}
	}
	evs, err := db.TicketActions(ctx, r.Key)
	if err != nil {
		return v, err
	}
	v.Actions = actionViews(evs)
	return v, nil
}

func showTicket(ctx context.Context, db *state.DB, key string, local, asJSON bool, out, errOut io.Writer) int {
	row, err := db.Ticket(ctx, key)
	if err != nil {
		fmt.Fprintf(errOut, "patrol tickets: %v\n", err)
		return exitFailed
	}
	if row == nil {
		fmt.Fprintf(errOut, "patrol tickets: no ticket %s in the ledger ('patrol tickets' lists them)\n", poller.CleanText(key))
		return exitFailed
	}
	v, err := viewTicket(ctx, db, *row, local)
	if err != nil {
		fmt.Fprintf(errOut, "patrol tickets: %v\n", err)
		return exitFailed
	}
	var comments []state.LocalComment
	if v.local != nil {
		comments, _ = db.LocalComments(ctx, key)
	}
	if asJSON {
		if v.local != nil {
			v.Description = v.local.Description
			for _, c := range comments {
				v.Comments = append(v.Comments, commentView{Author: c.Author, At: c.At, Body: c.Body})
			}
		}
		json.NewEncoder(out).Encode(v)
		return exitOK
	}
	fmt.Fprintf(out, "%s  %s\n", row.Key, poller.CleanText(row.Summary))
	fmt.Fprintf(out, "detection: %s  stage: %s  %s\n", row.Detection, row.Stage, poller.CleanText(row.Note))
	if lt := v.local; lt != nil {
		fmt.Fprintf(out, "status: %s  labels: %s  assignee: %s  component: %s\n\n", lt.Status, strings.Join(lt.Labels, " "), lt.Assignee, lt.Component)
		fmt.Fprintln(out, indent(lt.Description))
		for _, c := range comments {
			fmt.Fprintf(out, "--- comment by %s at %s\n%s\n", c.Author, c.At.Format(time.RFC3339), indent(c.Body))
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
	if cas, _ := db.ChatActions(ctx, key); len(cas) > 0 {
		fmt.Fprintln(out, "--- clicks in the chat")
		for _, a := range cas {
			fmt.Fprintf(out, "%s by %s (%s user %s, approver %s) on digest %s at %s\n", a.Kind, poller.CleanText(a.ChatName), a.Via,
				poller.CleanText(a.ChatUser), poller.CleanText(a.By), a.Digest, a.At.Format(time.RFC3339))
		}
	}
	if len(v.Actions) > 0 {
		fmt.Fprintln(out, "--- action ledger")
		for _, e := range v.Actions {
			fmt.Fprintf(out, "#%d %s %s %s on %s dry_run=%v %s\n", e.ID, e.At.Format(time.RFC3339), e.Action, e.Phase, e.Target, e.DryRun, poller.CleanText(e.Detail))
		}
	}
	return exitOK
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}
