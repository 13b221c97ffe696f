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
// and retries idempotent requests (GET, PUT) after 429 and 5xx. A POST (a
// create, comment or transition) is retried only when Jira refused it
// outright: 429, or 503 with Retry-After (Jira's rate limiting). One that
// timed out or failed otherwise may have been applied, and Jira has no
// idempotency key, so it is never sent again blindly.
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
	var waited time.Duration
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
		if attempt >= d.maxRetries || ctx.Value(noRetryKey{}) != nil {
			return resp, err
		}
		wait, ok := d.retryWait(ctx, resp, err, attempt)
		if !idempotent(req.Method) {
			// Only a refusal, and within one bound on the total wait.
			ok = ok && err == nil && refused(resp) && waited+wait <= maxRetryWait
		}
		if !ok {
			return resp, err
		}
		waited += wait
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

// refused reports whether Jira turned the request away without applying
// it: rate limited (429), or unavailable with a Retry-After (its resource
// limits). Anything else may have been applied.
func refused(resp *http.Response) bool {
	return resp != nil && (resp.StatusCode == http.StatusTooManyRequests ||
		(resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != ""))
}

// CreateDeadline is the longest one Create may take with cfg: each try
// runs up to the request timeout, and refusals are waited out for at most
// maxRetryWait in total. A create cut off by a crash may have made an
// issue until then.
func CreateDeadline(cfg Config) time.Duration {
	timeout, _ := time.ParseDuration(cfg.Timeout)
	d := time.Duration(cfg.MaxRetries+1) * timeout
	if cfg.MaxRetries > 0 {
		d += maxRetryWait
	}
	return d
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
