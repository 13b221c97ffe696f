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
