package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	goslack "github.com/slack-go/slack"
)

// Error is a failed Slack call.
type Error struct {
	Op         string        // e.g. "post SEC-12"
	Code       string        // Slack's error code when it answered ok:false
	Status     int           // HTTP status when it was not 200
	RetryAfter time.Duration // from a 429
	Err        error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("slack: " + e.Op)
	switch {
	case e.Code != "":
		b.WriteString(": " + e.Code)
	case e.Status != 0:
		fmt.Fprintf(&b, ": %d %s", e.Status, http.StatusText(e.Status))
	case e.Err != nil:
		b.WriteString(": " + e.Err.Error())
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Unwrap returns slack-go's error.
func (e *Error) Unwrap() error { return e.Err }

// transientCodes are ok:false codes that say "not now" rather than "no".
var transientCodes = map[string]bool{
	"ratelimited": true, "service_unavailable": true, "fatal_error": true,
	"internal_error": true, "request_timeout": true, "team_added_to_org": true,
}

// Retryable reports whether the call may succeed later. A 5xx or a
// network error on a post is retryable but ambiguous: the message may
// have gone out.
func (e *Error) Retryable() bool {
	switch {
	case e.Code != "":
		return transientCodes[e.Code]
	case e.Status != 0:
		return e.Status == http.StatusTooManyRequests || e.Status >= 500
	}
	return e.Err != nil && !errors.Is(e.Err, context.Canceled)
}

// authCodes are ok:false codes that say the token itself is refused: every
// call fails alike until it is fixed, so none of them is one message's fault.
var authCodes = map[string]bool{
	"not_authed": true, "invalid_auth": true, "account_inactive": true, "token_revoked": true,
	"token_expired": true, "missing_scope": true, "org_login_required": true, "ekm_access_denied": true,
}

// Unauthorized reports a refused token (see authCodes, or HTTP 401/403).
func (e *Error) Unauthorized() bool {
	return authCodes[e.Code] || e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
}

// Class names the kind of failure for a self-alert: Slack's error code,
// else the HTTP status.
func (e *Error) Class() string {
	switch {
	case e.Code != "":
		return "slack " + e.Code
	case e.Status != 0:
		return fmt.Sprintf("slack %d", e.Status)
	}
	return "slack"
}

func newError(op string, err error) *Error {
	e := &Error{Op: op, Err: err}
	var se goslack.SlackErrorResponse
	var rl *goslack.RateLimitedError
	var sc goslack.StatusCodeError
	switch {
	case errors.As(err, &se):
		e.Code = se.Err
	case errors.As(err, &rl):
		e.Status, e.RetryAfter = http.StatusTooManyRequests, rl.RetryAfter
	case errors.As(err, &sc):
		e.Status = sc.Code
	}
	return e
}
