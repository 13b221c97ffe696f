package main

import (
	"context"
	"fmt"
	"io"
	"os/user"
	"strconv"
	"strings"
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
	if *as == "" {
		if u, err := user.Current(); err == nil {
			*as = u.Username
		}
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
