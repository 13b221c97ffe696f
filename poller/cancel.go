package poller

import (
	"context"
	"errors"
	"fmt"
)

// ErrCancelled marks a run stopped by a clean shutdown or a reload. It is
// not a failure: such a run is recorded as cancelled, does not count toward
// health.failures_before_alert, and is logged at Info. (A run that hits its
// run_timeout is a failure.)
var ErrCancelled = errors.New("cancelled")

// Cancelled reports whether ctx was cancelled, as opposed to timed out.
func Cancelled(ctx context.Context) bool {
	return errors.Is(ctx.Err(), context.Canceled)
}

// cancelledError returns the error of a run stopped by ctx's cancellation:
// it wraps ErrCancelled and says why (the cancellation's cause).
func cancelledError(ctx context.Context, what string) error {
	cause := context.Cause(ctx)
	if cause == nil || errors.Is(cause, context.Canceled) {
		return fmt.Errorf("%s: %w", what, ErrCancelled)
	}
	return fmt.Errorf("%s: %w: %v", what, ErrCancelled, cause)
}
