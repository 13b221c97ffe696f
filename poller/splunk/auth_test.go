package splunk

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/splunk/splunktest"
)

func useBasic(mode string) func(*Config) {
	return func(c *Config) {
		c.TokenEnv, c.Auth = "", mode
		c.Username, c.PasswordEnv = testUser, passwordEnv
	}
}

func TestAuthSchemes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(*Config)
		scheme string
		logins int
	}{
		{"token (auto)", nil, "Bearer", 0},
		{"token", func(c *Config) { c.Auth = AuthToken }, "Bearer", 0},
		{"basic (auto)", useBasic(AuthAuto), "Basic", 0},
		{"basic", useBasic(AuthBasic), "Basic", 0},
		{"session", useBasic(AuthSession), "Splunk", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, splunktest.Options{}, tc.edit)
			e.fake.Add(ev(t0.Add(-time.Minute), "a", "1"))
			for range 2 {
				if got, err := e.search(query("*")); err != nil || len(got) != 1 {
					t.Fatalf("got %d results, err %v", len(got), err)
				}
			}
			if err := e.s.Parse(t.Context(), "index=aws"); err != nil {
				t.Fatal(err)
			}
			for _, r := range e.fake.Requests() {
				if r.Endpoint != splunktest.Login && r.AuthScheme != tc.scheme {
					t.Errorf("%s %s sent %q", r.Method, r.Path, r.AuthScheme)
				}
			}
			if got := e.fake.Stats().Logins; got != tc.logins {
				t.Errorf("logins = %d, want %d (the session key is reused)", got, tc.logins)
			}
		})
	}
}

func TestSessionReloginOnExpiry(t *testing.T) {
	e := newEnv(t, splunktest.Options{}, useBasic(AuthSession))
	e.fake.Add(ev(t0.Add(-time.Minute), "a", "1"))
	if _, err := e.search(query("*")); err != nil {
		t.Fatal(err)
	}
	e.fake.ExpireSessions()
	if got, err := e.search(query("*")); err != nil || len(got) != 1 {
		t.Fatalf("after expiry: %d results, err %v", len(got), err)
	}
	if got := e.fake.Stats().Logins; got != 2 {
		t.Errorf("logins = %d, want 2", got)
	}
	if !strings.Contains(e.logs.String(), "logging in again") {
		t.Error("re-login not logged")
	}
}

// TestSessionReloginOnce: a 401 after a fresh login is not followed by
// another login.
func TestSessionReloginOnce(t *testing.T) {
	e := newEnv(t, splunktest.Options{}, useBasic(AuthSession))
	e.fake.Fail(splunktest.Fault{Endpoint: splunktest.Dispatch, Status: 401, Type: "WARN", Text: "call not properly authenticated", Times: 5})
	_, err := e.search(query("*"))
	if err == nil || !strings.Contains(err.Error(), "still unauthorized after logging in again") {
		t.Fatalf("err = %v", err)
	}
	if poller.Retryable(err) {
		t.Error("auth failure marked retryable")
	}
	if got := e.fake.Stats().Logins; got != 2 {
		t.Errorf("logins = %d, want 2 (first login and exactly one re-login)", got)
	}
	dispatches := 0
	for _, r := range e.fake.Requests() {
		if r.Endpoint == splunktest.Dispatch {
			dispatches++
		}
	}
	if dispatches != 2 {
		t.Errorf("dispatch tried %d times, want 2", dispatches)
	}
}

func TestAuthFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		env  map[string]string
		want string
	}{
		{"bad password, session", useBasic(AuthSession), map[string]string{passwordEnv: "wrong-SECRET"}, "splunk login: HTTP 401: WARN Login failed"},
		{"bad password, basic", useBasic(AuthBasic), map[string]string{passwordEnv: "wrong-SECRET"}, "HTTP 401: ERROR Unauthorized"},
		{"bad token", nil, map[string]string{tokenEnv: "wrong-SECRET"}, "HTTP 401: WARN call not properly authenticated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, splunktest.Options{}, tc.edit)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, err := e.search(query("*"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if poller.Retryable(err) {
				t.Error("auth failure marked retryable")
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("secret in error: %v", err)
			}
		})
	}
}

// TestNoSecretsInLogs runs searches through every auth scheme, with
// retries, re-logins and failures, logging at debug, and checks no token,
// password or session key reaches the log or an error.
func TestNoSecretsInLogs(t *testing.T) {
	var secrets []string
	check := func(t *testing.T, e *env, errs ...error) {
		t.Helper()
		out := e.logs.String()
		for _, err := range errs {
			if err != nil {
				out += err.Error()
			}
		}
		for _, s := range append(secrets, e.fake.SessionKeys()...) {
			if strings.Contains(out, s) {
				t.Errorf("secret %q appears in logs or errors:\n%s", s, out)
			}
		}
		if out == "" {
			t.Error("nothing logged: the check proves nothing")
		}
	}
	secrets = []string{testToken, testPassword, "wrong-SECRET"}
	for _, edit := range []func(*Config){nil, useBasic(AuthBasic), useBasic(AuthSession)} {
		e := newEnv(t, splunktest.Options{}, edit)
		e.fake.Add(ev(t0.Add(-time.Minute), "a", "1"))
		e.fake.Fail(splunktest.QuotaFault(1))
		e.fake.Fail(splunktest.Fault{Endpoint: splunktest.Status, Status: 500, Text: "oops"})
		_, err1 := e.search(query("*"))
		e.fake.ExpireSessions()
		_, err2 := e.search(query("index=aws | nosuchcmd"))
		t.Setenv(passwordEnv, "wrong-SECRET")
		t.Setenv(tokenEnv, "wrong-SECRET")
		e.fake.ExpireSessions()
		_, err3 := e.search(query("*"))
		check(t, e, err1, err2, err3)
	}
}

func TestNewReadsSecrets(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "splunk.token"), []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, splunktest.Options{}, nil)
	e.cfg.TokenEnv, e.cfg.TokenFile = "", "splunk.token"
	e.s = e.newSearcher(dir)
	e.fake.Add(ev(t0.Add(-time.Minute), "a", "1"))
	if _, err := e.search(query("*")); err != nil {
		t.Fatalf("token_file relative to the config folder: %v", err)
	}

	e.cfg.TokenFile = "missing.token"
	if _, err := e.tryNew(dir); err == nil || !strings.Contains(err.Error(), "splunk token") {
		t.Errorf("missing token file: %v", err)
	}
	e.cfg = Defaults()
	e.cfg.URL, e.cfg.TokenEnv, e.cfg.AllowInsecureHTTP = e.fake.URL, "PATROL_TEST_UNSET_VARIABLE", true
	if _, err := e.tryNew(dir); err == nil || !strings.Contains(err.Error(), "PATROL_TEST_UNSET_VARIABLE is not set") {
		t.Errorf("unset token env: %v", err)
	}
	e.cfg.URL = ""
	if _, err := e.tryNew(dir); err == nil || !strings.Contains(err.Error(), "url: is required") {
		t.Errorf("invalid config: %v", err)
	}
}

func TestTLS(t *testing.T) {
	newTLS := func(t *testing.T, edit func(*Config)) (*env, error) {
		t.Helper()
		e := &env{t: t, logs: &syncBuffer{}}
		t.Setenv(tokenEnv, testToken)
		e.fake = splunktest.New(t, splunktest.Options{TLS: true, Token: testToken})
		e.fake.Add(ev(t0.Add(-time.Minute), "a", "1"))
		e.cfg = Defaults()
		e.cfg.URL, e.cfg.TokenEnv = e.fake.URL, tokenEnv
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "ca.pem"), e.fake.CertPEM(), 0o600); err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			edit(&e.cfg)
		}
		s, err := e.tryNew(dir)
		e.s = s
		return e, err
	}
	t.Run("ca_file", func(t *testing.T) {
		e, err := newTLS(t, func(c *Config) { c.CAFile = "ca.pem" })
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.search(query("*")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("refused without ca_file", func(t *testing.T) {
		e, err := newTLS(t, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.search(query("*"))
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("err = %v, want a certificate error", err)
		}
		if e.fake.Stats().Dispatched != 0 {
			t.Error("a request got through")
		}
		if n := len(e.recordedSleeps()); n != 0 || poller.Retryable(err) {
			t.Errorf("certificate failure retried %d times (retryable %v)", n, poller.Retryable(err))
		}
	})
	t.Run("insecure_skip_verify warns", func(t *testing.T) {
		e, err := newTLS(t, func(c *Config) { c.InsecureSkipVerify = true })
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.search(query("*")); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(e.logs.String(), "level=WARN") || !strings.Contains(e.logs.String(), "insecure_skip_verify") {
			t.Errorf("no warning logged:\n%s", e.logs.String())
		}
	})
	t.Run("bad ca_file", func(t *testing.T) {
		if _, err := newTLS(t, func(c *Config) { c.CAFile = "nope.pem" }); err == nil || !strings.Contains(err.Error(), "ca_file") {
			t.Errorf("err = %v", err)
		}
	})
}
