package jira

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	gojira "github.com/andygrunwald/go-jira"

	"github.com/patrolsec/patrol/poller"
)

// Error is a failed Jira request. It carries Jira's own messages (the
// errorMessages and per-field errors of its ErrorCollection) so that the
// operator sees "summary: Summary can't exceed 255 characters." rather than
// a bare status code.
type Error struct {
	Op         string        // what patrol was doing, e.g. "create issue in SEC"
	Status     int           // HTTP status; 0 when no response arrived
	Messages   []string      // Jira's errorMessages, then "field: message" errors
	RetryAfter time.Duration // what Jira asked us to wait (429, some 503s)
	// Unknown is set when a request that changes something may or may not
	// have been applied (a timeout or 5xx on a create or comment): look
	// before repeating it.
	Unknown bool
	Err     error // the transport error, when there was no response
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("jira: ")
	b.WriteString(e.Op)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": %d %s", e.Status, http.StatusText(e.Status))
	}
	if len(e.Messages) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(e.Messages, "; "))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.Unknown {
		b.WriteString(" (outcome unknown: it may have been applied)")
	}
	return b.String()
}

// Unwrap returns the transport error, if any.
func (e *Error) Unwrap() error { return e.Err }

// OutcomeUnknown reports whether the request may have been applied although
// it failed: a create must then be looked up, not sent again.
func (e *Error) OutcomeUnknown() bool { return e.Unknown }

// Unauthorized reports a rejected credential: every request fails alike
// until it is fixed.
func (e *Error) Unauthorized() bool { return e.Status == http.StatusUnauthorized }

// Class names the kind of failure for a self-alert: the HTTP status, or
// "jira" for one Jira reported without a status.
func (e *Error) Class() string {
	if e.Status != 0 {
		return "jira " + strconv.Itoa(e.Status)
	}
	if e.Err != nil {
		return "network"
	}
	return "jira"
}

// Retryable reports whether the same request may succeed later: rate
// limits, server errors and network failures. A 4xx other than 429 is the
// request's own fault and fails the same way every time.
func (e *Error) Retryable() bool {
	switch {
	case e.Status == http.StatusTooManyRequests || e.Status >= 500:
		return true
	case e.Status == 0 && e.Err != nil:
		return !errors.Is(e.Err, context.Canceled)
	}
	return false
}

// errorCollection is Jira's error body.
type errorCollection struct {
	ErrorMessages []string          `json:"errorMessages"`
	Errors        map[string]string `json:"errors"`
}

func (c errorCollection) messages() []string {
	out := append([]string(nil), c.ErrorMessages...)
	keys := make([]string, 0, len(c.Errors))
	for k := range c.Errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+": "+c.Errors[k])
	}
	return out
}

// maxErrorBody bounds how much of an error body is read.
const maxErrorBody = 64 << 10

// responseError builds an Error from a non-2xx response, reading (and
// closing) its body.
func responseError(op string, resp *http.Response, now time.Time) *Error {
	e := &Error{Op: op, Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header, now)}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_ = resp.Body.Close()
	e.Messages = bodyMessages(resp.Header.Get("Content-Type"), body)
	if r := poller.RedirectError(resp); r != "" {
		e.Messages = []string{r}
	}
	return e
}

// bodyMessages extracts Jira's messages from an error body: the
// ErrorCollection when it is JSON, else a short plain-text excerpt. HTML
// pages (Data Center's Tomcat 429 page) say nothing the status does not.
func bodyMessages(contentType string, body []byte) []string {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/json" {
		var c errorCollection
		if err := json.Unmarshal(body, &c); err == nil {
			return c.messages()
		}
	}
	text := strings.TrimSpace(string(body))
	if text == "" || mt == "text/html" || strings.HasPrefix(text, "<") {
		return nil
	}
	return []string{truncate(strings.Join(strings.Fields(text), " "), 300)}
}

// goJiraError converts what a go-jira call returned. go-jira has already
// consumed the body into *gojira.Error (JSON) or a text error.
func goJiraError(op string, resp *gojira.Response, err error, now time.Time) *Error {
	if resp == nil || resp.Response == nil {
		return &Error{Op: op, Err: unwrapNoResponse(err)}
	}
	e := &Error{Op: op, Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header, now)}
	if r := poller.RedirectError(resp.Response); r != "" {
		e.Messages = []string{r}
		return e
	}
	var je *gojira.Error
	if errors.As(err, &je) {
		e.Messages = errorCollection{ErrorMessages: je.ErrorMessages, Errors: je.Errors}.messages()
	} else if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		e.Err = err // a 2xx body that did not decode
	}
	return e
}

// unwrapNoResponse strips go-jira's "No response returned" wrapping so that
// errors.Is sees context and network errors.
func unwrapNoResponse(err error) error {
	type causer interface{ Cause() error }
	for {
		c, ok := err.(causer)
		if !ok || c.Cause() == nil || c.Cause() == err {
			return err
		}
		err = c.Cause()
	}
}

// retryAfter reads how long Jira asked us to wait: Retry-After (seconds or
// an HTTP date), else X-RateLimit-Reset (ISO 8601, Cloud).
func retryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.Atoi(v); err == nil && s >= 0 {
			return time.Duration(s) * time.Second
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0)
		}
	}
	if v := strings.TrimSpace(h.Get("X-RateLimit-Reset")); v != "" {
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02T15:04:05.000Z0700"} {
			if t, err := time.Parse(layout, v); err == nil {
				return max(t.Sub(now), 0)
			}
		}
	}
	return 0
}
