package splunk

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/patrolsec/patrol/poller"
)

// Auth modes for Config.Auth.
const (
	// AuthAuto picks token when token_env/token_file is set, else basic.
	AuthAuto = ""
	// AuthToken sends "Authorization: Bearer <token>" (a Splunk
	// authentication token from Settings › Tokens).
	AuthToken = "token"
	// AuthBasic sends HTTP Basic with username and password on every request.
	AuthBasic = "basic"
	// AuthSession logs in at /services/auth/login with username and password
	// and sends "Authorization: Splunk <sessionKey>". Splunk drops idle
	// sessions (server.conf sessionTimeout, 1h by default), so on a 401 the
	// Searcher logs in again once and repeats the request; a second 401 fails.
	AuthSession = "session"
)

// maxResultRows is Splunk's per-call cap on /results rows (limits.conf
// [restapi] maxresultrows); asking for more silently returns fewer.
const maxResultRows = 50000

// Config is the [search.splunk] section.
type Config struct {
	// URL is the management API (splunkd) base, e.g. https://splunk:8089.
	URL string `toml:"url"`
	// AllowInsecureHTTP permits an http:// URL, which sends the credentials
	// in clear text (a loopback proxy, tests).
	AllowInsecureHTTP bool `toml:"allow_insecure_http"`
	// Auth is "", "token", "basic" or "session" (see the Auth* constants).
	Auth      string `toml:"auth"`
	TokenEnv  string `toml:"token_env"`
	TokenFile string `toml:"token_file"`
	// Username is the user name for basic and session auth; UsernameEnv
	// names an environment variable holding it instead.
	Username     string `toml:"username"`
	UsernameEnv  string `toml:"username_env"`
	PasswordEnv  string `toml:"password_env"`
	PasswordFile string `toml:"password_file"`
	// CAFile is a PEM bundle that replaces the system roots (a private CA).
	CAFile             string `toml:"ca_file"`
	InsecureSkipVerify bool   `toml:"insecure_skip_verify"`
	// MaxConcurrent bounds the searches in flight across all detections.
	MaxConcurrent int `toml:"max_concurrent"`
	// App and Owner select the knowledge-object namespace searches run in
	// (/servicesNS/{owner}/{app}/...), so app lookups and event types resolve.
	// Both empty means /services/, the user's default app. An empty Owner with
	// an App set means "-" (any owner).
	App   string `toml:"app"`
	Owner string `toml:"owner"`
	// Export streams results from search/jobs/export instead of running an
	// async job; see export.go for how failures are still detected.
	Export bool `toml:"export"`
	// EventTimeSpan is how late an event may be indexed after it happened and
	// still be found by an index-time window: the event-time bound starts
	// this long before the window does. "0" searches all event time.
	EventTimeSpan string `toml:"event_time_span"`
	// EventTimeAhead lets index-time windows find events stamped in the future
	// (clock skew): the event-time bound ends this long after the window.
	EventTimeAhead string `toml:"event_time_ahead"`
	// Timeout bounds one search from dispatch to its last result; it is also
	// sent as the job's ttl and auto_cancel so an abandoned job dies by itself.
	Timeout string `toml:"timeout"`
	// PollInterval is the first wait between job status polls; it grows by
	// half each poll up to ten times this (0.5s → 5s by default).
	PollInterval string `toml:"poll_interval"`
	// PageSize is the rows asked for per /results call (at most 50,000).
	PageSize int `toml:"page_size"`
	// MaxCount is sent as the job's max_count; a job that reaches it is an
	// error, never a short result set.
	MaxCount int `toml:"max_count"`
	// MaxRetries bounds retries of one request on 5xx, 429, quota and
	// network errors.
	MaxRetries int `toml:"max_retries"`
	// SearchLevel is adhoc_search_level: fast | smart | verbose. REST searches
	// default to fast, which skips field discovery; smart keeps it for event
	// searches.
	SearchLevel string `toml:"search_level"`
	// AllowCommands names commands patrol otherwise refuses to send
	// (detections.ForbiddenCommands: delete, outputlookup, collect, ...).
	// The local engine reads the same list.
	AllowCommands []string `toml:"allow_commands"`
}

// Defaults returns the section's defaults.
func Defaults() Config {
	return Config{
		MaxConcurrent:  2,
		EventTimeSpan:  "7d",
		EventTimeAhead: "1d",
		Timeout:        "15m",
		PollInterval:   "500ms",
		PageSize:       10000,
		MaxCount:       500000,
		MaxRetries:     5,
		SearchLevel:    "smart",
	}
}

// Validate checks the section when Splunk is the selected backend.
func (c Config) Validate() []poller.FieldError {
	var errs []poller.FieldError
	add := func(key, msg string) { errs = append(errs, poller.FieldError{Key: key, Msg: msg}) }

	if c.URL == "" {
		add("url", "is required when search.backend = \"splunk\"")
	} else if msg := poller.CheckURL(c.URL, c.AllowInsecureHTTP); msg != "" {
		add("url", msg+" (e.g. https://splunk.example.com:8089)")
	}

	hasToken := c.TokenEnv != "" || c.TokenFile != ""
	hasUser := c.Username != "" || c.UsernameEnv != ""
	hasPassword := c.PasswordEnv != "" || c.PasswordFile != ""
	switch c.Auth {
	case AuthAuto:
		if !hasToken && !hasUser {
			add("token_env", "set token_env or token_file (bearer token), or username_env with password_env")
		}
		if !hasToken && hasUser && !hasPassword {
			add("password_env", "is required with username_env")
		}
	case AuthToken:
		if !hasToken {
			add("token_env", "set token_env or token_file for auth = \"token\"")
		}
	case AuthBasic, AuthSession:
		if !hasUser {
			add("username_env", fmt.Sprintf("set username or username_env for auth = %q", c.Auth))
		}
		if !hasPassword {
			add("password_env", fmt.Sprintf("set password_env or password_file for auth = %q", c.Auth))
		}
	default:
		add("auth", "must be \"token\", \"basic\" or \"session\" (or empty to choose from the keys set)")
	}
	if c.TokenEnv != "" && c.TokenFile != "" {
		add("token_file", "set token_env or token_file, not both")
	}
	if c.PasswordEnv != "" && c.PasswordFile != "" {
		add("password_file", "set password_env or password_file, not both")
	}
	if c.Username != "" && c.UsernameEnv != "" {
		add("username_env", "set username or username_env, not both")
	}
	if c.InsecureSkipVerify && c.CAFile != "" {
		add("insecure_skip_verify", "makes ca_file pointless: set one or the other")
	}
	if c.MaxConcurrent < 1 {
		add("max_concurrent", "must be at least 1")
	}
	if strings.ContainsAny(c.App+c.Owner, "/?#") {
		add("app", "app and owner are path segments: no /, ? or #")
	}
	if c.Owner != "" && c.App == "" {
		add("owner", "needs app: the namespace is /servicesNS/{owner}/{app}/")
	}
	if _, err := parseSpan(c.EventTimeSpan); err != nil {
		add("event_time_span", err.Error())
	}
	if _, err := parseSpan(c.EventTimeAhead); err != nil {
		add("event_time_ahead", err.Error())
	}
	if d, err := parseSpan(c.Timeout); err != nil {
		add("timeout", err.Error())
	} else if d < time.Second {
		add("timeout", "must be at least 1s")
	}
	if d, err := parseSpan(c.PollInterval); err != nil {
		add("poll_interval", err.Error())
	} else if d <= 0 {
		add("poll_interval", "must be positive")
	}
	if c.PageSize < 1 || c.PageSize > maxResultRows {
		add("page_size", fmt.Sprintf("must be between 1 and %d (Splunk's maxresultrows)", maxResultRows))
	}
	if c.MaxCount < 1 {
		add("max_count", "must be at least 1")
	}
	if c.MaxRetries < 0 {
		add("max_retries", "must not be negative")
	}
	switch c.SearchLevel {
	case "fast", "smart", "verbose":
	default:
		add("search_level", "must be \"fast\", \"smart\" or \"verbose\"")
	}
	return errs
}

// parseSpan reads a duration as Go writes it ("90s", "2h30m") or a whole
// number of days ("7d"), the unit people think of lateness in.
func parseSpan(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("is empty; want a duration like \"30s\", \"15m\" or \"7d\"")
	}
	if s == "0" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a duration; want e.g. \"7d\"", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration; want e.g. \"30s\", \"15m\" or \"7d\"", s)
	}
	return d, nil
}
