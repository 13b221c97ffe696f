package slack

import (
	"regexp"
	"time"

	"github.com/patrolsec/patrol/poller"
)

// Config is the [notify.slack] section.
type Config struct {
	TokenEnv  string `toml:"token_env"`
	TokenFile string `toml:"token_file"`
	// APIURL overrides Slack's Web API base URL (tests, proxies), e.g.
	// "http://127.0.0.1:8080/api/"; a missing trailing slash is added.
	APIURL string `toml:"api_url"`
	// AllowInsecureHTTP permits an http:// api_url, which sends the token
	// in clear text (a loopback proxy, tests).
	AllowInsecureHTTP bool   `toml:"allow_insecure_http"`
	Channel           string `toml:"channel"` // the default channel: name (#x) or ID (C123)
	// MaxRetries is how often a rate-limited (429) call is retried after
	// the Retry-After Slack gives. Other failures are never retried: a
	// post that timed out or got a 5xx may have gone out.
	MaxRetries int `toml:"max_retries"`
	// Timeout bounds one HTTP request, e.g. "10s".
	Timeout string `toml:"timeout"`
	// AppTokenEnv or AppTokenFile name an app-level token (xapp-, with
	// the connections:write scope). Setting one turns Socket Mode on in
	// `patrol run`: plans waiting for approval get Approve and Hold
	// buttons, and the clicks arrive over a WebSocket patrol opens.
	AppTokenEnv  string `toml:"app_token_env"`
	AppTokenFile string `toml:"app_token_file"`
}

// SocketMode reports whether an app-level token is configured.
func (c Config) SocketMode() bool { return c.AppTokenEnv != "" || c.AppTokenFile != "" }

// Defaults returns the section's defaults.
func Defaults() Config { return Config{MaxRetries: 3, Timeout: "10s"} }

var channelPattern = regexp.MustCompile(`^(#[a-z0-9][a-z0-9._-]*|[CGD][A-Z0-9]+)$`)

// ValidChannel reports whether ch is a channel name (#x) or ID (C123).
func ValidChannel(ch string) bool { return channelPattern.MatchString(ch) }

// Validate checks the section when Slack is the selected notifier.
func (c Config) Validate() []poller.FieldError {
	var errs []poller.FieldError
	if c.TokenEnv == "" && c.TokenFile == "" {
		errs = append(errs, poller.FieldError{Key: "token_env", Msg: "set token_env or token_file (a bot token)"})
	}
	if c.TokenEnv != "" && c.TokenFile != "" {
		errs = append(errs, poller.FieldError{Key: "token_file", Msg: "set token_env or token_file, not both"})
	}
	if c.AppTokenEnv != "" && c.AppTokenFile != "" {
		errs = append(errs, poller.FieldError{Key: "app_token_file", Msg: "set app_token_env or app_token_file, not both"})
	}
	if c.Channel == "" {
		errs = append(errs, poller.FieldError{Key: "channel", Msg: "is required (the default channel)"})
	} else if !channelPattern.MatchString(c.Channel) {
		errs = append(errs, poller.FieldError{Key: "channel", Msg: "must be a channel name like #security-alerts or an ID like C0123456"})
	}
	if c.APIURL != "" {
		if msg := poller.CheckURL(c.APIURL, c.AllowInsecureHTTP); msg != "" {
			errs = append(errs, poller.FieldError{Key: "api_url", Msg: msg})
		}
	}
	if c.MaxRetries < 0 || c.MaxRetries > 10 {
		errs = append(errs, poller.FieldError{Key: "max_retries", Msg: "must be between 0 and 10"})
	}
	if d, err := time.ParseDuration(c.Timeout); err != nil || d <= 0 {
		errs = append(errs, poller.FieldError{Key: "timeout", Msg: "must be a positive duration like \"10s\""})
	}
	return errs
}
