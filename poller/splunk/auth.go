package splunk

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/patrolsec/patrol/poller"
)

// authenticator produces the Authorization header for one of the three
// schemes splunkd accepts. Secrets are read again at the start of every
// search (load), so a rotated token file or systemd credential is picked up
// without a restart; they are never logged and never put in errors.
type authenticator struct {
	mode    string
	cfg     Config
	baseDir string
	// login performs /services/auth/login; set by the Searcher.
	login func(ctx context.Context, user, password string) (string, error)
	// loggingIn holds one token while a login is under way.
	loggingIn chan struct{}

	mu         sync.Mutex
	token      string
	user       string
	password   string
	sessionKey string
}

// authMode resolves "" to the scheme the keys that are set imply.
func authMode(c Config) string {
	if c.Auth != AuthAuto {
		return c.Auth
	}
	if c.TokenEnv != "" || c.TokenFile != "" {
		return AuthToken
	}
	return AuthBasic
}

// load reads the secrets the mode needs.
func (a *authenticator) load() error {
	switch a.mode {
	case AuthToken:
		tok, err := poller.ReadSecret(a.cfg.TokenEnv, a.cfg.TokenFile, a.baseDir)
		if err != nil {
			return fmt.Errorf("splunk token: %w", err)
		}
		a.mu.Lock()
		a.token = tok
		a.mu.Unlock()
		return nil
	case AuthBasic, AuthSession:
		user := a.cfg.Username
		if a.cfg.UsernameEnv != "" {
			v, ok := os.LookupEnv(a.cfg.UsernameEnv)
			if !ok || strings.TrimSpace(v) == "" {
				return fmt.Errorf("splunk username: environment variable %s is not set", a.cfg.UsernameEnv)
			}
			user = strings.TrimSpace(v)
		}
		pw, err := poller.ReadSecret(a.cfg.PasswordEnv, a.cfg.PasswordFile, a.baseDir)
		if err != nil {
			return fmt.Errorf("splunk password: %w", err)
		}
		a.mu.Lock()
		if user != a.user || pw != a.password {
			a.sessionKey = "" // new credentials: the old session is not theirs
		}
		a.user, a.password = user, pw
		a.mu.Unlock()
		return nil
	}
	return fmt.Errorf("splunk auth: unknown mode %q", a.mode)
}

// header returns the Authorization value, logging in first in session mode
// when there is no session key yet. Concurrent searches wait (as long as
// their context allows) for one login instead of each starting their own.
func (a *authenticator) header(ctx context.Context) (string, error) {
	a.mu.Lock()
	mode, token, user, password, key := a.mode, a.token, a.user, a.password, a.sessionKey
	a.mu.Unlock()
	switch mode {
	case AuthToken:
		return "Bearer " + token, nil
	case AuthBasic:
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password)), nil
	case AuthSession:
		if key != "" {
			return "Splunk " + key, nil
		}
		select {
		case a.loggingIn <- struct{}{}:
		case <-ctx.Done():
			return "", &Error{Op: "login", Err: ctx.Err(), retryable: true}
		}
		defer func() { <-a.loggingIn }()
		a.mu.Lock()
		user, password, key = a.user, a.password, a.sessionKey
		a.mu.Unlock()
		if key != "" { // another search logged in while this one waited
			return "Splunk " + key, nil
		}
		key, err := a.login(ctx, user, password)
		if err != nil {
			return "", err
		}
		a.mu.Lock()
		a.sessionKey = key
		a.mu.Unlock()
		return "Splunk " + key, nil
	}
	return "", fmt.Errorf("splunk auth: unknown mode %q", mode)
}

// invalidate forgets the session key that used produced, unless another
// request has already replaced it with a fresh one.
func (a *authenticator) invalidate(used string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sessionKey != "" && used == "Splunk "+a.sessionKey {
		a.sessionKey = ""
	}
}

// login posts the credentials to /services/auth/login and returns the
// session key from {"sessionKey": ...}.
func (s *Searcher) login(ctx context.Context, user, password string) (string, error) {
	resp, err := s.send(ctx, call{
		op: "login", method: http.MethodPost, path: "auth/login", global: true, noAuth: true,
		form: url.Values{"username": {user}, "password": {password}},
	})
	if err != nil {
		return "", err
	}
	defer drain(resp)
	var out struct {
		SessionKey string `json:"sessionKey"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", &Error{Op: "login", Status: resp.StatusCode, Reason: "unreadable answer", Err: err}
	}
	if out.SessionKey == "" {
		return "", &Error{Op: "login", Status: resp.StatusCode, Reason: "answer has no sessionKey"}
	}
	return out.SessionKey, nil
}
