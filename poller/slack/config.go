// Package slack is patrol's Slack notifier.
package slack

import (
	"net/url"

	"github.com/patrolsec/patrol/poller"
)

// Config is the [notify.slack] section.
type Config struct {
	TokenEnv  string `toml:"token_env"`
	TokenFile string `toml:"token_file"`
	APIURL    string `toml:"api_url"`
	Channel   string `toml:"channel"`
}

// Defaults returns the section's defaults.
func Defaults() Config { return Config{} }

// Validate checks the section when Slack is the selected notifier.
func (c Config) Validate() []poller.FieldError {
	var errs []poller.FieldError
	if c.TokenEnv == "" && c.TokenFile == "" {
		errs = append(errs, poller.FieldError{Key: "token_env", Msg: "set token_env or token_file (a bot token)"})
	}
	if c.Channel == "" {
		errs = append(errs, poller.FieldError{Key: "channel", Msg: "is required (the default channel)"})
	}
	if c.APIURL != "" {
		if u, err := url.Parse(c.APIURL); err != nil || u.Scheme == "" || u.Host == "" {
			errs = append(errs, poller.FieldError{Key: "api_url", Msg: "must be an absolute URL"})
		}
	}
	return errs
}
