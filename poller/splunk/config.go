// Package splunk is patrol's Splunk search backend over the REST API.
package splunk

import (
	"net/url"

	"github.com/patrolsec/patrol/poller"
)

// Config is the [search.splunk] section.
type Config struct {
	URL                string `toml:"url"`
	TokenEnv           string `toml:"token_env"`
	TokenFile          string `toml:"token_file"`
	UsernameEnv        string `toml:"username_env"`
	PasswordEnv        string `toml:"password_env"`
	PasswordFile       string `toml:"password_file"`
	CAFile             string `toml:"ca_file"`
	InsecureSkipVerify bool   `toml:"insecure_skip_verify"`
	MaxConcurrent      int    `toml:"max_concurrent"`
}

// Defaults returns the section's defaults.
func Defaults() Config {
	return Config{MaxConcurrent: 2}
}

// Validate checks the section when Splunk is the selected backend.
func (c Config) Validate() []poller.FieldError {
	var errs []poller.FieldError
	if c.URL == "" {
		errs = append(errs, poller.FieldError{Key: "url", Msg: "is required when search.backend = \"splunk\""})
	} else if u, err := url.Parse(c.URL); err != nil || u.Scheme == "" || u.Host == "" {
		errs = append(errs, poller.FieldError{Key: "url", Msg: "must be an absolute URL like https://splunk.example.com:8089"})
	}
	if c.TokenEnv == "" && c.TokenFile == "" && c.UsernameEnv == "" {
		errs = append(errs, poller.FieldError{Key: "token_env", Msg: "set token_env or token_file (bearer token), or username_env with password_env"})
	}
	if c.UsernameEnv != "" && c.PasswordEnv == "" && c.PasswordFile == "" {
		errs = append(errs, poller.FieldError{Key: "password_env", Msg: "is required with username_env"})
	}
	if c.MaxConcurrent < 1 {
		errs = append(errs, poller.FieldError{Key: "max_concurrent", Msg: "must be at least 1"})
	}
	return errs
}
