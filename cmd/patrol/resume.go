package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/local"
	"github.com/patrolsec/patrol/state"
)

func cmdResume(ctx context.Context, args []string, out, errOut io.Writer) int {
	fs, cfgPath := flags("resume", errOut)
	as := fs.String("as", "", "who resets the circuit breaker (recorded); default: the login name")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if !wantArgs(fs, 0, 0) {
		return exitInvalid
	}
	*as = orLoginName(*as)
	cfg, code := loadConfig(*cfgPath, errOut)
	if cfg == nil {
		return code
	}
	limit := cfg.AWS.BreakerFailures
	if limit <= 0 {
		fmt.Fprintln(out, "the circuit breaker is off (aws.breaker_failures = 0): nothing to resume")
		return exitOK
	}
	if _, err := os.Stat(cfg.State.Path); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(out, "the circuit breaker is closed (no action has run yet): nothing to resume")
		return exitOK
	}
	// Written beside a running patrol too: it reads the breaker from the
	// state on every pass.
	db, err := state.Open(cfg.State.Path, nil)
	if err != nil {
		fmt.Fprintf(errOut, "patrol resume: %v\n", err)
		return exitFailed
	}
	defer db.Close()
	b, err := poller.Breaker(ctx, db, limit)
	if err != nil {
		fmt.Fprintf(errOut, "patrol resume: %v\n", err)
		return exitFailed
	}
	if !b.Open {
		fmt.Fprintf(out, "the circuit breaker is closed (%d of %d failures in a row): nothing to resume\n", b.Failures, limit)
		return exitOK
	}
	if err := poller.ResetBreaker(ctx, db, *as, time.Now().UTC()); err != nil {
		fmt.Fprintf(errOut, "patrol resume: %v\n", err)
		return exitFailed
	}
	held, err := db.TicketsInStage(ctx, state.StageDeferred)
	if err != nil {
		fmt.Fprintf(errOut, "patrol resume: %v\n", err)
		return exitFailed
	}
	// A held ticket a person closed meanwhile does not run: the next
	// respond pass cancels its remediation (poller/closed.go), so it is
	// not announced as one that will run. The local tracker lives in the
	// state file and is read as the respond pass reads it; a Jira ticket
	// is judged by what the ledger last saw (resume does not call Jira).
	var keys []string
	for _, r := range held {
		var t poller.Ticket
		if cfg.Tickets.Backend == "local" {
			// The breaker is reset by now: a ticket that cannot be read is
			// judged by the ledger rather than failing the command.
			got, err := (&local.Tracker{DB: db, Label: cfg.Tickets.Label}).Get(ctx, r.Key)
			if err != nil {
				fmt.Fprintf(errOut, "patrol resume: read %s: %v (judged by the ledger)\n", r.Key, err)
			}
			t = got
		}
		if poller.Closed(t, &r, cfg.Tickets.DoneTransition) {
			keys = append(keys, r.Key+" (closed: will be cancelled)")
			continue
		}
		keys = append(keys, r.Key)
	}
	fmt.Fprintf(out, "circuit breaker reset by %s after %d failures in a row: held actions run on the next respond pass", *as, b.Failures)
	if len(keys) > 0 {
		fmt.Fprintf(out, " (%s)", strings.Join(keys, ", "))
	}
	fmt.Fprintln(out)
	return exitOK
}
