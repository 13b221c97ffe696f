package jira

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/patrolsec/patrol/poller"
)

// Config is the [tickets.jira] section.
type Config struct {
	URL string `toml:"url"`
	// AllowInsecureHTTP permits an http:// URL, which sends the token in
	// clear text (a loopback proxy, tests).
	AllowInsecureHTTP bool   `toml:"allow_insecure_http"`
	Flavor            string `toml:"flavor"` // cloud | datacenter
	// UserEnv or UserFile hold the account e-mail (Cloud, basic auth with
	// the API token). On Data Center leave both empty to send the token as
	// a personal access token (bearer), or set them for basic auth.
	UserEnv   string `toml:"user_env"`
	UserFile  string `toml:"user_file"`
	TokenEnv  string `toml:"token_env"`
	TokenFile string `toml:"token_file"`
	Project   string `toml:"project"`
	IssueType string `toml:"issue_type"`
	// Fields maps event field names to Jira field ids (custom fields such as
	// "customfield_10050"). Poll and Get read them back into Ticket.Fields,
	// so tickets made by other systems (Splunk alert actions) can be enriched
	// and remediated.
	Fields map[string]string `toml:"fields"`
	// Reconcile asks Jira Cloud's search to include the issues this process
	// created (reconcileIssues), because the search index lags behind.
	Reconcile bool `toml:"reconcile"`
	// IndexLag is how long Jira's search may take to show a change (Cloud's
	// search is eventually consistent). After a create whose outcome is
	// unknown, Find answers "cannot say" for this long rather than "none".
	IndexLag string `toml:"index_lag"`
	// Timeout bounds one HTTP request, e.g. "30s".
	Timeout string `toml:"timeout"`
	// MaxRetries is how often an idempotent request (GET, PUT) is retried
	// after 429 or 5xx. Creates, comments and transitions are never retried.
	MaxRetries int `toml:"max_retries"`
	// PageSize is the maxResults of one search page.
	PageSize int `toml:"page_size"`
}

// Defaults returns the section's defaults.
func Defaults() Config {
	return Config{
		Flavor:     FlavorCloud,
		IssueType:  "Task",
		Reconcile:  true,
		IndexLag:   "1m",
		Timeout:    "30s",
		MaxRetries: 4,
		PageSize:   100,
	}
}

// Flavors of Jira; they differ in search API, body format and user ids.
const (
	FlavorCloud      = "cloud"
	FlavorDataCenter = "datacenter"
)

// fieldIDPattern is what Jira field ids look like; anything else in
// Config.Fields is a typo that would silently read nothing.
var fieldIDPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// Validate checks the section when Jira is the selected backend.
func (c Config) Validate() []poller.FieldError {
	var errs []poller.FieldError
	add := func(key, format string, args ...any) {
		errs = append(errs, poller.FieldError{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if c.URL == "" {
		add("url", "is required when tickets.backend = \"jira\"")
	} else if msg := poller.CheckURL(c.URL, c.AllowInsecureHTTP); msg != "" {
		add("url", "%s (e.g. https://example.atlassian.net)", msg)
	}
	if c.Flavor != FlavorCloud && c.Flavor != FlavorDataCenter {
		add("flavor", "must be \"cloud\" or \"datacenter\"")
	}
	if c.Flavor == FlavorCloud && c.UserEnv == "" && c.UserFile == "" {
		add("user_env", "is required for Jira Cloud (the account e-mail; or set user_file)")
	}
	if c.UserEnv != "" && c.UserFile != "" {
		add("user_file", "set user_env or user_file, not both")
	}
	if c.TokenEnv == "" && c.TokenFile == "" {
		add("token_env", "set token_env or token_file")
	}
	if c.TokenEnv != "" && c.TokenFile != "" {
		add("token_file", "set token_env or token_file, not both")
	}
	if c.Project == "" {
		add("project", "is required")
	} else if strings.ContainsFunc(c.Project, isSpaceOrControl) {
		add("project", "must be a project key like SEC (no spaces)")
	}
	if strings.TrimSpace(c.IssueType) == "" {
		add("issue_type", "is required")
	}
	for event, id := range c.Fields {
		if event == "" {
			add("fields", "has an empty event field name")
		}
		if !fieldIDPattern.MatchString(id) {
			add("fields."+event, "must be a Jira field id like customfield_10050, got %q", id)
		}
	}
	if d, err := time.ParseDuration(c.IndexLag); err != nil || d < 0 {
		add("index_lag", "must be a duration like \"1m\"")
	}
	if d, err := time.ParseDuration(c.Timeout); err != nil || d <= 0 {
		add("timeout", "must be a positive duration like \"30s\"")
	}
	if c.MaxRetries < 0 || c.MaxRetries > 10 {
		add("max_retries", "must be between 0 and 10")
	}
	if c.PageSize < 1 || c.PageSize > 1000 {
		add("page_size", "must be between 1 and 1000")
	}
	return errs
}
