package config

import (
	"crypto/x509"
	"fmt"
	"os"
	"strings"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/splunk"
)

// secretRef is one secret the config names: the key that names it and the
// environment variable or file that holds it.
type secretRef struct {
	key       string
	env, file string
	prefix    string // what the secret must start with, if anything
}

// secrets lists the secrets the selected backends will read.
func (c *Config) secrets() []secretRef {
	var out []secretRef
	pick := func(prefix, envKey, fileKey, env, file string) {
		switch {
		case env != "":
			out = append(out, secretRef{key: prefix + envKey, env: env})
		case file != "":
			out = append(out, secretRef{key: prefix + fileKey, file: file})
		}
	}
	if c.Search.Backend == "splunk" {
		s := c.Search.Splunk
		mode := s.Auth
		if mode == splunk.AuthAuto {
			mode = splunk.AuthBasic
			if s.TokenEnv != "" || s.TokenFile != "" {
				mode = splunk.AuthToken
			}
		}
		if mode == splunk.AuthToken {
			pick("search.splunk.", "token_env", "token_file", s.TokenEnv, s.TokenFile)
		} else {
			pick("search.splunk.", "username_env", "", s.UsernameEnv, "")
			pick("search.splunk.", "password_env", "password_file", s.PasswordEnv, s.PasswordFile)
		}
	}
	if c.Tickets.Backend == "jira" {
		j := c.Tickets.Jira
		pick("tickets.jira.", "user_env", "user_file", j.UserEnv, j.UserFile)
		pick("tickets.jira.", "token_env", "token_file", j.TokenEnv, j.TokenFile)
	}
	if c.Notify.Backend == "slack" {
		sl := c.Notify.Slack
		pick("notify.slack.", "token_env", "token_file", sl.TokenEnv, sl.TokenFile)
		if sl.SocketMode() {
			// Only `patrol run` connects with it, so without this check a
			// missing app token would show only when the daemon starts.
			pick("notify.slack.", "app_token_env", "app_token_file", sl.AppTokenEnv, sl.AppTokenFile)
			out[len(out)-1].prefix = "xapp-"
		}
	}
	pick("aws.", "external_id_env", "external_id_file", c.AWS.ExternalIDEnv, c.AWS.ExternalIDFile)
	return out
}

// CheckSecrets reads every secret the selected backends need, as they
// will read it, and reports each one that cannot be read, with its key and
// line; values are never printed. A CA bundle that is missing or holds no
// certificate is reported too. Load does not do this: status and tickets
// need no secrets, and their users may not be allowed to read them.
func CheckSecrets(c *Config) error {
	src, _ := os.ReadFile(c.File)
	r := &detections.Reporter{File: c.File, Lines: detections.ScanKeyLines(string(src))}
	for _, s := range c.secrets() {
		v, err := poller.ReadSecret(s.env, s.file, c.Dir)
		switch {
		case err != nil:
			r.Add(s.key, "%v", err)
		case !strings.HasPrefix(v, s.prefix):
			r.Add(s.key, "the secret does not start with %s (Socket Mode needs an app-level token with connections:write, not a bot token)", s.prefix)
		}
	}
	if c.Search.Backend == "splunk" && c.Search.Splunk.CAFile != "" {
		if err := checkCAFile(c.Abs(c.Search.Splunk.CAFile)); err != nil {
			r.Add("search.splunk.ca_file", "%v", err)
		}
	}
	return r.Err()
}

func checkCAFile(path string) error {
	pem, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !x509.NewCertPool().AppendCertsFromPEM(pem) {
		return fmt.Errorf("%s: no PEM certificate in it", path)
	}
	return nil
}
