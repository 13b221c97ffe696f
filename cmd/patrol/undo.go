package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/state"
)

func cmdUndo(ctx context.Context, args []string, out, errOut io.Writer) int {
	fs, cfgPath := flags("undo", errOut)
	as := fs.String("as", "", "who asks for the undo (recorded in the ledger and on the ticket); default: the login name")
	if code, stop := parse(fs, args); stop {
		return code
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(fs.Arg(0), "#"), 10, 64)
	if fs.NArg() != 1 || err != nil || id <= 0 {
		fmt.Fprintln(errOut, "patrol undo: give the action's id, the #N of its succeeded row in 'patrol tickets KEY' or 'patrol status' (2 or '#2')")
		return exitInvalid
	}
	*as = orLoginName(*as)
	cfg, code := loadConfig(*cfgPath, errOut)
	if cfg == nil {
		return code
	}
	if release, err := state.Lock(cfg.State.Path); errors.Is(err, state.ErrLocked) {
		return queueUndo(ctx, cfg.State.Path, id, *as, out, errOut)
	} else if err == nil {
		release() // setup takes it again, with the jobs
	}
	a, code := setup(ctx, *cfgPath, setupOptions{lock: true, jobs: true}, errOut)
	if a == nil {
		return code
	}
	defer a.close()
	res, err := a.responder.Undo(ctx, id, *as)
	if err != nil {
		fmt.Fprintf(errOut, "patrol undo: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(out, "action #%d undone: %s\n", id, res.Detail)
	return exitOK
}

// queueUndo leaves the undo to the patrol process that holds the state
// file (the daemon): it carries it out on its next respond pass.
func queueUndo(ctx context.Context, path string, id int64, by string, out, errOut io.Writer) int {
	db, err := state.Open(path, nil)
	if err != nil {
		fmt.Fprintf(errOut, "patrol undo: %v\n", err)
		return exitFailed
	}
	defer db.Close()
	ev, err := db.Action(ctx, id)
	switch {
	case err != nil:
		fmt.Fprintf(errOut, "patrol undo: %v\n", err)
		return exitFailed
	case ev == nil:
		fmt.Fprintf(errOut, "patrol undo: no action #%d in the ledger\n", id)
		return exitFailed
	case ev.Phase != state.PhaseSucceeded:
		fmt.Fprintf(errOut, "patrol undo: action #%d is a %q row: only a succeeded action (its last row) can be undone; see 'patrol tickets %s'\n", id, ev.Phase, ev.TicketKey)
		return exitFailed
	}
	req, err := db.RequestUndo(ctx, id, by)
	if err != nil {
		fmt.Fprintf(errOut, "patrol undo: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(out, "undo of action #%d (%s on %s) queued as request %d: another patrol process holds the state file, and carries it out on its next respond pass; 'patrol status' shows the result\n",
		id, ev.Action, poller.CleanText(ev.Target), req)
	return exitOK
}
