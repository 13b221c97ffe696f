package jira

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"
)

// Backoff after 429/5xx without a Retry-After, as Atlassian recommends:
// start at 5s, double up to 30s, jitter ×[0.7, 1.3].
const (
	backoffBase = 5 * time.Second
	backoffMax  = 30 * time.Second
	// maxRetryWait is the longest patrol sleeps inside one request; past
	// it the error goes back to the job, which tries again on its next run.
	maxRetryWait = 60 * time.Second
)

// doer is the HTTP client go-jira sends through. It adds the credentials
// and retries idempotent requests (GET, PUT) after 429 and 5xx. It never
// retries POST: a create, comment or transition that timed out may have
// been applied, and Jira has no idempotency key.
type doer struct {
	client     *http.Client
	auth       func(*http.Request)
	maxRetries int
	sleep      func(context.Context, time.Duration) error
	now        func() time.Time
	jitter     func() float64 // in [0, 1)
	log        *slog.Logger
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// Do sends req, retrying when that is safe and useful.
func (d *doer) Do(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		r := req.Clone(ctx)
		if attempt > 0 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r.Body = body
		}
		r.Header.Set("Accept", "application/json")
		r.Header.Set("User-Agent", "patrol")
		d.auth(r)
		resp, err := d.client.Do(r)
		if !idempotent(req.Method) || attempt >= d.maxRetries || ctx.Value(noRetryKey{}) != nil {
			return resp, err
		}
		wait, ok := d.retryWait(ctx, resp, err, attempt)
		if !ok {
			return resp, err
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
			_ = resp.Body.Close()
		}
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		d.log.Debug("jira request retried", "method", req.Method, "path", req.URL.Path,
			"status", status, "wait", wait, "attempt", attempt+1)
		if err := d.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// retryWait decides whether a response or error is worth another try and
// how long to wait first.
func (d *doer) retryWait(ctx context.Context, resp *http.Response, err error, attempt int) (time.Duration, bool) {
	if err != nil {
		if ctx.Err() != nil {
			return 0, false
		}
		return d.backoff(attempt), true
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests,
		resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
	default:
		return 0, false
	}
	wait := retryAfter(resp.Header, d.now())
	if wait == 0 {
		wait = d.backoff(attempt)
	}
	if wait > maxRetryWait {
		return 0, false
	}
	return wait, true
}

func (d *doer) backoff(attempt int) time.Duration {
	b := backoffBase << attempt
	if b > backoffMax || b <= 0 {
		b = backoffMax
	}
	return time.Duration(float64(b) * (0.7 + 0.6*d.jitter()))
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func defaultJitter() float64 { return rand.Float64() }
