package splunk

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// call is one REST request. Every request carries output_mode=json: without
// it splunkd answers in XML/Atom.
type call struct {
	op     string // names the step in errors and logs
	sid    string
	method string
	path   string // under the namespace, e.g. "search/jobs"
	global bool   // under /services/ whatever the namespace (auth/login)
	noAuth bool
	query  url.Values // GET and DELETE parameters
	form   url.Values // POST body
}

// endpoint builds the URL of c: /servicesNS/{owner}/{app}/path when a
// namespace is configured, /services/path otherwise.
func (s *Searcher) endpoint(c call) string {
	prefix := "/services/"
	if !c.global && s.nsApp != "" {
		prefix = "/servicesNS/" + url.PathEscape(s.nsOwner) + "/" + url.PathEscape(s.nsApp) + "/"
	}
	return s.base + prefix + c.path
}

// send performs c and returns a 2xx response whose body the caller closes.
// It retries what may succeed later (5xx, 429, quota, network errors) with
// jittered exponential backoff honouring Retry-After, and in session mode
// logs in again once when Splunk answers 401.
func (s *Searcher) send(ctx context.Context, c call) (*http.Response, error) {
	relogged := false
	for attempt := 0; ; {
		resp, used, err := s.once(ctx, c)
		if err == nil {
			return resp, nil
		}
		var se *Error
		errors.As(err, &se)
		if se != nil && se.Op == "login" && c.op != "login" {
			return nil, err // the login itself failed: logging in again cannot help
		}
		if se != nil && se.Status == http.StatusUnauthorized && s.auth.mode == AuthSession && !c.noAuth {
			if relogged {
				se.Reason = "still unauthorized after logging in again"
				return nil, se
			}
			relogged = true
			s.auth.invalidate(used)
			s.log.Info("splunk session expired; logging in again", "op", c.op)
			continue
		}
		if se == nil || !se.Retryable() || attempt >= s.maxRetries || ctx.Err() != nil {
			return nil, err
		}
		wait := s.backoff(attempt, se)
		attempt++
		s.log.Warn("splunk request will be retried", "op", c.op, "sid", c.sid,
			"attempt", attempt, "wait", wait.String(), "quota", se.Quota, "err", err.Error())
		if serr := s.sleep(ctx, wait); serr != nil {
			return nil, netError(c.op, c.sid, fmt.Errorf("waiting to retry after %v: %w", err, serr))
		}
	}
}

// once performs c a single time. It returns the Authorization value used,
// so a 401 can invalidate exactly the session key that failed.
func (s *Searcher) once(ctx context.Context, c call) (*http.Response, string, error) {
	var body io.Reader
	target := s.endpoint(c)
	if c.method == http.MethodPost {
		form := cloneValues(c.form)
		form.Set("output_mode", "json")
		body = strings.NewReader(form.Encode())
	} else {
		q := cloneValues(c.query)
		q.Set("output_mode", "json")
		target += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, c.method, target, body)
	if err != nil {
		return nil, "", &Error{Op: c.op, SID: c.sid, Err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "application/json")
	var used string
	if !c.noAuth {
		used, err = s.auth.header(ctx)
		if err != nil {
			return nil, "", err
		}
		req.Header.Set("Authorization", used)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, used, netError(c.op, c.sid, withoutQuery(err))
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, used, nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return nil, used, httpError(c.op, c.sid, resp, b, s.now())
}

// backoff is the wait before retry number attempt+1: exponential from 1s
// (2s for quota refusals, which clear only as other searches end) up to a
// cap, with equal jitter so several patrol searches do not retry in step,
// and never shorter than Splunk's Retry-After.
func (s *Searcher) backoff(attempt int, e *Error) time.Duration {
	base, ceiling := time.Second, 30*time.Second
	if e != nil && e.Quota {
		base, ceiling = 2*time.Second, 60*time.Second
	}
	d := ceiling
	if attempt < 16 {
		if b := base << attempt; b < ceiling {
			d = b
		}
	}
	d = d/2 + time.Duration(s.jitter()*float64(d/2))
	if e != nil && e.RetryAfter > d {
		d = e.RetryAfter
	}
	return d
}

// sleepCtx waits d or until ctx ends.
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

// newTransport builds the HTTP transport: TLS always verified, against
// ca_file alone when it is set (a private CA pins trust to it), else the
// system pool. No overall client timeout: it would cut long result reads;
// contexts bound each search instead.
func newTransport(cfg Config, baseDir string) (*http.Transport, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		path := cfg.CAFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(baseDir, path)
		}
		pem, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificates in it", path)
		}
		tc.RootCAs = pool
	}
	tc.InsecureSkipVerify = cfg.InsecureSkipVerify //nolint:gosec // only when the config says so, with a warning at start
	t.TLSClientConfig = tc
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	// Dispatch on a busy search head can take a while to answer; a silent
	// server still fails in bounded time.
	t.ResponseHeaderTimeout = 2 * time.Minute
	t.MaxIdleConnsPerHost = max(4, 2*cfg.MaxConcurrent)
	return t, nil
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v)+1)
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// drain reads what is left of a body (bounded) so the connection can be
// reused, then closes it.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
}
