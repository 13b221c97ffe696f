package main

import (
	"context"
	"fmt"
	"io"
	"os/user"
	"strings"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/state"
)

func cmdResume(ctx context.Context, args []string, out, errOut io.Writer) int {
	fs, cfgPath := flags("resume", errOut)
	as := fs.String("as", "", "who resets the circuit breaker (recorded); default: the login name")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if fs.NArg() != 0 {
		fmt.Fprintln(errOut, "patrol resume: takes no arguments")
		return exitInvalid
	}
	if *as == "" {
		if u, err := user.Current(); err == nil {
			*as = u.Username
		}
	}
	cfg, code := loadConfig(*cfgPath, errOut)
	if cfg == nil {
		return code
	}
	limit := cfg.AWS.BreakerFailures
	if limit <= 0 {
		fmt.Fprintln(out, "the circuit breaker is off (aws.breaker_failures = 0): nothing to resume")
		return exitOK
	}
	db, err := openExisting(cfg.State.Path)
	if err != nil {
		fmt.Fprintf(errOut, "patrol resume: %v\n", err)
		return exitFailed
	}
	if db == nil {
		fmt.Fprintln(out, "the circuit breaker is closed (no action has run yet): nothing to resume")
		return exitOK
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
	// Written beside a running patrol too: it reads the breaker from the
	// state on every pass.
	if err := poller.ResetBreaker(ctx, db, *as, time.Now().UTC()); err != nil {
		fmt.Fprintf(errOut, "patrol resume: %v\n", err)
		return exitFailed
	}
	held, err := db.TicketsInStage(ctx, state.StageDeferred)
	if err != nil {
		fmt.Fprintf(errOut, "patrol resume: %v\n", err)
		return exitFailed
	}
	var keys []string
	for _, r := range held {
		keys = append(keys, r.Key)
	}
	fmt.Fprintf(out, "circuit breaker reset by %s after %d failures in a row: held actions run on the next respond pass", *as, b.Failures)
	if len(keys) > 0 {
		fmt.Fprintf(out, " (%s)", strings.Join(keys, ", "))
	}
	fmt.Fprintln(out)
	return exitOK
}
