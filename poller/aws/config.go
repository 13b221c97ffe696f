// Package aws is patrol's AWS integration: per-account clients, enrichers
// and remediation actions over aws-sdk-go-v2.
package aws

import (
	"net/url"
	"strings"

	"github.com/patrolsec/patrol/poller"
)

// Config is the [aws] section. The guardrails (dry_run, protected_principals,
// protected_accounts, max_actions_per_hour) are enforced by the respond job.
type Config struct {
	Region              string   `toml:"region"`
	EndpointURL         string   `toml:"endpoint_url"`
	RoleARN             string   `toml:"role_arn"`
	ExternalIDEnv       string   `toml:"external_id_env"`
	DryRun              bool     `toml:"dry_run"`
	ProtectedPrincipals []string `toml:"protected_principals"`
	ProtectedAccounts   []string `toml:"protected_accounts"`
	MaxActionsPerHour   int      `toml:"max_actions_per_hour"`
}

// Defaults returns the section's defaults: dry run on.
func Defaults() Config {
	return Config{Region: "us-east-1", DryRun: true, MaxActionsPerHour: 20}
}

// Validate checks the section.
func (c Config) Validate() []poller.FieldError {
	var errs []poller.FieldError
	if c.Region == "" {
		errs = append(errs, poller.FieldError{Key: "region", Msg: "is required"})
	}
	if c.EndpointURL != "" {
		if u, err := url.Parse(c.EndpointURL); err != nil || u.Scheme == "" || u.Host == "" {
			errs = append(errs, poller.FieldError{Key: "endpoint_url", Msg: "must be an absolute URL"})
		}
	}
	if c.RoleARN != "" && !strings.HasPrefix(c.RoleARN, "arn:") {
		errs = append(errs, poller.FieldError{Key: "role_arn", Msg: "must be an IAM role ARN (\"{account}\" is replaced by the affected account)"})
	}
	if c.MaxActionsPerHour < 0 {
		errs = append(errs, poller.FieldError{Key: "max_actions_per_hour", Msg: "must not be negative"})
	}
	for _, p := range c.ProtectedPrincipals {
		if !strings.HasPrefix(p, "arn:") {
			errs = append(errs, poller.FieldError{Key: "protected_principals", Msg: "pattern " + p + " must be an ARN pattern (arn:aws:iam::*:user/name)"})
		}
	}
	return errs
}
