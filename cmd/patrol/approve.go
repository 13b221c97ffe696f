package main

import (
	"context"
	"fmt"
	"io"

	"github.com/patrolsec/patrol/state"
)

func cmdApprove(ctx context.Context, args []string, out, errOut io.Writer) int {
	fs, cfgPath := flags("approve", errOut)
	as := fs.String("as", "", "the approver's user name (must be in tickets.approvers to count)")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if !wantArgs(fs, 1, 1) {
		return exitInvalid
	}
	if *as == "" {
		fmt.Fprintf(errOut, "patrol approve: say who approves with --as USER (a name in tickets.approvers): patrol approve %s --as alice\n", fs.Arg(0))
		return exitInvalid
	}
	cfg, code := loadConfig(*cfgPath, errOut)
	if cfg == nil {
		return code
	}
	if cfg.Tickets.Backend != "local" {
		fmt.Fprintf(errOut, "patrol approve: tickets.backend is %q: approve by adding the label %q to the ticket there\n", cfg.Tickets.Backend, cfg.Tickets.ApproveLabel)
		return exitInvalid
	}
	db, err := state.Open(cfg.State.Path, nil)
	if err != nil {
		fmt.Fprintf(errOut, "patrol approve: %v\n", err)
		return exitFailed
	}
	defer db.Close()
	key := fs.Arg(0)
	if err := db.LocalAddLabel(ctx, key, cfg.Tickets.ApproveLabel, *as); err != nil {
		fmt.Fprintf(errOut, "patrol approve: %v\n", err)
		return exitFailed
	}
	allowed := false
	for _, a := range cfg.Tickets.Approvers {
		allowed = allowed || a == *as
	}
	fmt.Fprintf(out, "%s: label %q added by %s.", key, cfg.Tickets.ApproveLabel, *as)
	if allowed {
		fmt.Fprintln(out, " The next respond pass ('patrol once' or the running daemon) acts on it.")
	} else {
		fmt.Fprintf(out, " %s is not in tickets.approvers, so it does not approve the remediation.\n", *as)
	}
	return exitOK
}
