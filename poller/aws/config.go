// Package aws is patrol's AWS integration: per-account clients, enrichers
// and remediation actions over aws-sdk-go-v2.
package aws

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/patrolsec/patrol/poller"
)

// Config is the [aws] section. The guardrails (dry_run, protected_principals,
// protected_accounts, max_actions_per_hour) are enforced by the respond job;
// the actions check dry_run and the protected lists again before they change
// anything, so no single bug can bypass them.
type Config struct {
	Region      string `toml:"region"`
	EndpointURL string `toml:"endpoint_url"`
	// AllowInsecureHTTP permits an http:// endpoint_url (or
	// AWS_ENDPOINT_URL* in the environment): requests stay signed, but the
	// session token and every answer travel in clear text (an emulator in
	// tests).
	AllowInsecureHTTP   bool     `toml:"allow_insecure_http"`
	RoleARN             string   `toml:"role_arn"`
	ExternalIDEnv       string   `toml:"external_id_env"`
	ExternalIDFile      string   `toml:"external_id_file"`
	DryRun              bool     `toml:"dry_run"`
	ProtectedPrincipals []string `toml:"protected_principals"`
	ProtectedAccounts   []string `toml:"protected_accounts"`
	// Accounts are the organization's own accounts: actions, AssumeRole,
	// and routing or owner tags from principals are limited to them.
	Accounts          Accounts `toml:"accounts"`
	MaxActionsPerHour int      `toml:"max_actions_per_hour"`
	// BreakerFailures real actions failed in a row stop every action until
	// a person runs patrol resume (0 = off).
	BreakerFailures int `toml:"breaker_failures"`

	// SessionDuration is how long an assumed-role session lasts. STS allows
	// 15m to the role's maximum; 1h at most when the ambient credentials are
	// themselves a role session (role chaining).
	SessionDuration time.Duration `toml:"session_duration"`
	// MaxAttempts bounds the SDK's own retries (throttling, 5xx, network).
	MaxAttempts int `toml:"max_attempts"`
	// EnrichTimeout bounds one enricher's AWS calls, retries included.
	EnrichTimeout time.Duration `toml:"enrich_timeout"`
	// EnrichCacheTTL is how long account and principal lookups are reused.
	EnrichCacheTTL time.Duration `toml:"enrich_cache_ttl"`
	// Organizations turns on account lookups in AWS Organizations.
	Organizations bool `toml:"organizations"`
	// OrganizationsRoleARN is assumed for Organizations calls (a read-only
	// role in the management or delegated-administrator account); "" uses
	// the ambient credentials.
	OrganizationsRoleARN string `toml:"organizations_role_arn"`
}

// Defaults returns the section's defaults: dry run on.
func Defaults() Config {
	return Config{
		Region:            "us-east-1",
		DryRun:            true,
		MaxActionsPerHour: 20,
		BreakerFailures:   3,
		SessionDuration:   15 * time.Minute,
		MaxAttempts:       5,
		EnrichTimeout:     10 * time.Second,
		EnrichCacheTTL:    15 * time.Minute,
	}
}

var (
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
)

// Validate checks the section.
func (c Config) Validate() []poller.FieldError {
	var errs []poller.FieldError
	add := func(key, msg string) { errs = append(errs, poller.FieldError{Key: key, Msg: msg}) }
	if c.Region == "" {
		add("region", "is required")
	} else if !regionRE.MatchString(c.Region) {
		add("region", fmt.Sprintf("%q is not an AWS region like us-east-1", c.Region))
	}
	if c.EndpointURL != "" {
		if msg := poller.CheckURL(c.EndpointURL, c.AllowInsecureHTTP); msg != "" {
			add("endpoint_url", msg)
		}
	}
	if c.RoleARN != "" {
		if err := checkRoleTemplate(c.RoleARN); err != nil {
			add("role_arn", err.Error()+" (\"{account}\" is replaced by the affected account)")
		}
	}
	for _, e := range c.Accounts.validate() {
		add("accounts", e)
	}
	if strings.Contains(c.RoleARN, "{account}") && !c.Accounts.Set() {
		add("accounts", "is required with a role_arn containing {account}: without it patrol would assume its role in any account an event names. List the organization's account ids, or write \"organization\" to read them from AWS Organizations")
	}
	if c.OrganizationsRoleARN != "" {
		if err := checkRoleTemplate(c.OrganizationsRoleARN); err != nil || strings.Contains(c.OrganizationsRoleARN, "{account}") {
			add("organizations_role_arn", "must be the ARN of one IAM role, like arn:aws:iam::123456789012:role/patrol-org-reader")
		}
	}
	if c.ExternalIDEnv != "" && c.ExternalIDFile != "" {
		add("external_id_env", "set external_id_env or external_id_file, not both")
	}
	if (c.ExternalIDEnv != "" || c.ExternalIDFile != "") && c.RoleARN == "" {
		add("external_id_env", "an external ID needs role_arn")
	}
	if c.MaxActionsPerHour < 0 {
		add("max_actions_per_hour", "must not be negative")
	}
	if c.BreakerFailures < 0 {
		add("breaker_failures", "must not be negative (0 turns the circuit breaker off)")
	}
	for _, p := range c.ProtectedPrincipals {
		if _, err := poller.ParsePrincipalPattern(p); err != nil {
			add("protected_principals", err.Error())
		}
	}
	for _, a := range c.ProtectedAccounts {
		if !accountRE.MatchString(a) {
			add("protected_accounts", fmt.Sprintf("%q is not a 12-digit account id", a))
		}
	}
	if c.SessionDuration < 15*time.Minute || c.SessionDuration > 12*time.Hour {
		add("session_duration", "must be between 15m and 12h (STS limits)")
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > 20 {
		add("max_attempts", "must be between 1 and 20")
	}
	if c.EnrichTimeout <= 0 {
		add("enrich_timeout", "must be positive, like \"10s\"")
	}
	if c.EnrichCacheTTL < 0 {
		add("enrich_cache_ttl", "must not be negative (0 turns the cache off)")
	}
	return errs
}

// checkRoleTemplate checks that s, with {account} filled in, is an IAM role ARN.
func checkRoleTemplate(s string) error {
	a, err := arn.Parse(strings.ReplaceAll(s, "{account}", "123456789012"))
	if err != nil || a.Service != "iam" || !strings.HasPrefix(a.Resource, "role/") || !accountRE.MatchString(a.AccountID) {
		return fmt.Errorf("%q is not an IAM role ARN like arn:aws:iam::{account}:role/patrol-responder", s)
	}
	return nil
}
