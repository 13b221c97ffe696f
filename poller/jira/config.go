// Package jira is patrol's Jira ticket backend (Cloud and Data Center).
package jira

import (
	"net/url"

	"github.com/patrolsec/patrol/poller"
)

// Config is the [tickets.jira] section.
type Config struct {
	URL       string `toml:"url"`
	Flavor    string `toml:"flavor"` // cloud | datacenter
	UserEnv   string `toml:"user_env"`
	TokenEnv  string `toml:"token_env"`
	TokenFile string `toml:"token_file"`
	Project   string `toml:"project"`
	IssueType string `toml:"issue_type"`
}

// Defaults returns the section's defaults.
func Defaults() Config {
	return Config{Flavor: "cloud", IssueType: "Task"}
}

// Validate checks the section when Jira is the selected backend.
func (c Config) Validate() []poller.FieldError {
	var errs []poller.FieldError
	if c.URL == "" {
		errs = append(errs, poller.FieldError{Key: "url", Msg: "is required when tickets.backend = \"jira\""})
	} else if u, err := url.Parse(c.URL); err != nil || u.Scheme == "" || u.Host == "" {
		errs = append(errs, poller.FieldError{Key: "url", Msg: "must be an absolute URL like https://example.atlassian.net"})
	}
	if c.Flavor != "cloud" && c.Flavor != "datacenter" {
		errs = append(errs, poller.FieldError{Key: "flavor", Msg: "must be \"cloud\" or \"datacenter\""})
	}
	if c.Flavor == "cloud" && c.UserEnv == "" {
		errs = append(errs, poller.FieldError{Key: "user_env", Msg: "is required for Jira Cloud (the account e-mail)"})
	}
	if c.TokenEnv == "" && c.TokenFile == "" {
		errs = append(errs, poller.FieldError{Key: "token_env", Msg: "set token_env or token_file"})
	}
	if c.Project == "" {
		errs = append(errs, poller.FieldError{Key: "project", Msg: "is required"})
	}
	if c.IssueType == "" {
		errs = append(errs, poller.FieldError{Key: "issue_type", Msg: "is required"})
	}
	return errs
}
