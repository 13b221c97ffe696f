package aws

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func TestDefaultsAreValid(t *testing.T) {
	if errs := Defaults().Validate(); len(errs) != 0 {
		t.Fatalf("defaults invalid: %v", errs)
	}
	if !Defaults().DryRun {
		t.Fatal("dry run must be the default")
	}
}

// The [aws] section as the README documents it decodes with no unknown keys.
func TestConfigDecodesFromTOML(t *testing.T) {
	const doc = `
region = "eu-west-1"
endpoint_url = "http://127.0.0.1:5000"
allow_insecure_http = true
role_arn = "arn:aws:iam::{account}:role/patrol-responder"
accounts = ["111122223333", "444455556666"]
external_id_env = "PATROL_EXTERNAL_ID"
dry_run = false
protected_principals = ["arn:aws:iam::*:user/break-glass"]
protected_accounts = ["111122223333"]
max_actions_per_hour = 5
session_duration = "30m"
max_attempts = 3
enrich_timeout = "5s"
enrich_cache_ttl = "1h"
organizations = true
organizations_role_arn = "arn:aws:iam::999999999999:role/patrol-org-reader"
`
	cfg := Defaults()
	md, err := toml.Decode(doc, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if u := md.Undecoded(); len(u) != 0 {
		t.Fatalf("undecoded keys: %v", u)
	}
	if errs := cfg.Validate(); len(errs) != 0 {
		t.Fatalf("invalid: %v", errs)
	}
	if cfg.SessionDuration != 30*time.Minute || cfg.EnrichTimeout != 5*time.Second || !cfg.Organizations || cfg.DryRun || len(cfg.Accounts.IDs) != 2 {
		t.Errorf("decoded %+v", cfg)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		key  string
		msg  string
	}{
		{"no region", func(c *Config) { c.Region = "" }, "region", "is required"},
		{"bad region", func(c *Config) { c.Region = "US East" }, "region", "not an AWS region"},
		{"relative endpoint", func(c *Config) { c.EndpointURL = "localhost:5000" }, "endpoint_url", "absolute URL"},
		{"http endpoint", func(c *Config) { c.EndpointURL = "http://127.0.0.1:5000" }, "endpoint_url", "is http://"},
		{"user:password in the endpoint", func(c *Config) {
			c.EndpointURL, c.AllowInsecureHTTP = "http://key:secret@127.0.0.1:5000", true
		}, "endpoint_url", "must not carry a user name or password (http://REDACTED@127.0.0.1:5000)"},
		{"role not a role", func(c *Config) { c.RoleARN = "arn:aws:iam::{account}:user/x" }, "role_arn", "not an IAM role ARN"},
		{"role not an ARN", func(c *Config) { c.RoleARN = "patrol-responder" }, "role_arn", "not an IAM role ARN"},
		{"org role templated", func(c *Config) { c.OrganizationsRoleARN = "arn:aws:iam::{account}:role/x" }, "organizations_role_arn", "one IAM role"},
		{"two external id sources", func(c *Config) {
			c.RoleARN = "arn:aws:iam::{account}:role/r"
			c.Accounts.Organization = true
			c.ExternalIDEnv, c.ExternalIDFile = "A", "b"
		}, "external_id_env", "not both"},
		{"external id without role", func(c *Config) { c.ExternalIDEnv = "A" }, "external_id_env", "needs role_arn"},
		{"negative budget", func(c *Config) { c.MaxActionsPerHour = -1 }, "max_actions_per_hour", "negative"},
		{"protected not an ARN", func(c *Config) { c.ProtectedPrincipals = []string{"break-glass"} }, "protected_principals", "ARN pattern"},
		{"protected account", func(c *Config) { c.ProtectedAccounts = []string{"1234"} }, "protected_accounts", "12-digit"},
		{"role in any account", func(c *Config) { c.RoleARN = "arn:aws:iam::{account}:role/r" }, "accounts", "is required with a role_arn containing {account}"},
		{"bad account", func(c *Config) { c.Accounts.IDs = []string{"12345"} }, "accounts", "12-digit"},
		{"short session", func(c *Config) { c.SessionDuration = time.Minute }, "session_duration", "between 15m and 12h"},
		{"no attempts", func(c *Config) { c.MaxAttempts = 0 }, "max_attempts", "between 1 and 20"},
		{"no enrich timeout", func(c *Config) { c.EnrichTimeout = 0 }, "enrich_timeout", "positive"},
		{"negative ttl", func(c *Config) { c.EnrichCacheTTL = -time.Second }, "enrich_cache_ttl", "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Defaults()
			tt.mod(&cfg)
			errs := cfg.Validate()
			for _, e := range errs {
				if e.Key == tt.key && strings.Contains(e.Msg, tt.msg) {
					return
				}
			}
			t.Errorf("errors %v lack %s: %s", errs, tt.key, tt.msg)
		})
	}
	// Every problem at once.
	cfg := Defaults()
	cfg.Region, cfg.MaxAttempts = "", 0
	if errs := cfg.Validate(); len(errs) != 2 {
		t.Errorf("got %d errors, want 2: %v", len(errs), errs)
	}
}

func TestAccountsDecode(t *testing.T) {
	for doc, want := range map[string]string{
		`accounts = "organization"`:        `"organization"`,
		`accounts = ["111122223333"]`:      `["111122223333"]`,
		`accounts = "all"`:                 `"all" must be a list of account ids or "organization"`,
		`accounts = [111122223333]`:        "write ids as strings",
		`accounts = ["111122223333", "x"]`: `"x" is not a 12-digit account id`,
	} {
		var cfg Config
		if _, err := toml.Decode(doc, &cfg); err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		got := cfg.Accounts.String()
		for _, e := range cfg.Validate() {
			if e.Key == "accounts" {
				got = e.Msg
			}
		}
		if !strings.Contains(got, want) {
			t.Errorf("%s: got %s, want %s", doc, got, want)
		}
	}
}

// TestNewRefusesInsecureEndpoints: the provider checks the endpoint the
// SDK would take from its environment as validate checks endpoint_url.
func TestNewRefusesInsecureEndpoints(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL_IAM", "http://127.0.0.1:5000")
	if _, err := New(context.Background(), Defaults(), Options{}); err == nil || !strings.Contains(err.Error(), "aws: environment variable AWS_ENDPOINT_URL_IAM is http://") {
		t.Errorf("http:// from the environment: %v", err)
	}
	cfg := Defaults()
	cfg.AllowInsecureHTTP = true
	if _, err := New(context.Background(), cfg, Options{}); err != nil {
		t.Errorf("opted in: %v", err)
	}
}
