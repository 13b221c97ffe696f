package poller

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// NoRedirect is the CheckRedirect of every client that carries patrol's
// credentials (Splunk, Jira, Slack): it follows no redirect, so a token,
// password or session key never goes to another scheme, host or port (Go
// keeps Authorization for the same host on another port, and resends a
// POST body, password included, on 307 and 308). The 3xx answer comes back
// as it is, and the client reports it with RedirectError.
func NoRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// RedirectError describes a 3xx answer, or returns "" for any other.
func RedirectError(resp *http.Response) string {
	if resp == nil || resp.StatusCode < 300 || resp.StatusCode > 399 {
		return ""
	}
	return fmt.Sprintf("redirected to %s, which patrol does not follow (credentials would go with it): set the URL to the address that answers",
		RedactURL(resp.Header.Get("Location")))
}

// CheckURL checks a backend's base URL: absolute http(s), https unless
// allowHTTP, and no user:password in it (secrets come from *_env and
// *_file keys, never from a URL that ends up in logs and process lists).
// It returns what is wrong, or "".
func CheckURL(raw string, allowHTTP bool) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "must be an absolute URL like https://host:port"
	}
	if u.User != nil {
		return "must not carry a user name or password (" + RedactURL(raw) + "): credentials never go in a URL, which ends up in logs and process lists"
	}
	if u.Scheme == "http" && !allowHTTP {
		return "is http://, which sends credentials and data in clear text: use https://, or set allow_insecure_http = true (a loopback proxy, a test)"
	}
	return ""
}

// CheckAWSEndpoints applies CheckURL to the endpoint an AWS client is
// given (endpoint; "" keeps the SDK's own) and to every AWS_ENDPOINT_URL*
// variable in the environment, which the SDK reads by itself and prefers
// per service. Requests are signed, but a session token and every answer
// travel in clear text over http://. It names the first that is wrong.
func CheckAWSEndpoints(endpoint string, allowHTTP bool) error {
	if endpoint != "" {
		if msg := CheckURL(endpoint, allowHTTP); msg != "" {
			return fmt.Errorf("endpoint_url %s", msg)
		}
	}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "AWS_ENDPOINT_URL") || v == "" {
			continue
		}
		if msg := CheckURL(v, allowHTTP); msg != "" {
			return fmt.Errorf("environment variable %s %s", k, msg)
		}
	}
	return nil
}

// RedactURL returns raw without any user:password, for logs and errors.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unparseable URL)"
	}
	if u.User != nil {
		u.User = url.User("REDACTED")
	}
	return u.String()
}
