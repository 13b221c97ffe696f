package aws

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/patrolsec/patrol/poller"
)

// validRequests are one valid request per action.
var validRequests = map[string]map[string]string{
	ActionStartLogging:       {"account": "111122223333", "region": "eu-west-1", "trail": "main"},
	ActionDisableAccessKey:   {"account": "111122223333", "user": "alice", "key": "AKIAIOSFODNN7EXAMPLE"},
	ActionBlockPublicAccess:  {"account": "111122223333", "bucket": "my-bucket"},
	ActionRevokeOpenIngress:  {"account": "111122223333", "region": "eu-west-1", "group": "sg-0123456789abcdef0"},
	ActionRevokeSessions:     {"account": "111122223333", "role": "app"},
	ActionRevokeUserSessions: {"account": "111122223333", "user": "svc-backup"},
	ActionQuarantine:         {"account": "111122223333", "user": "mallory"},
}

// offlineProvider is a provider whose every AWS request lands on a server
// that counts it and fails it.
func offlineProvider(t *testing.T, mod func(*Config)) (*Provider, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "no AWS calls expected", http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)
	cfg := Defaults()
	cfg.EndpointURL = srv.URL
	cfg.AllowInsecureHTTP = true
	cfg.RoleARN = "arn:aws:iam::{account}:role/patrol-responder"
	cfg.Accounts.IDs = []string{"111122223333", "444455556666"}
	cfg.MaxAttempts = 1
	if mod != nil {
		mod(&cfg)
	}
	p, err := New(context.Background(), cfg, Options{Credentials: testCreds, Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	return p, &calls
}

func TestPlanMakesNoAWSCalls(t *testing.T) {
	p, calls := offlineProvider(t, nil)
	for name, a := range p.Actions() {
		pl, err := a.Plan(context.Background(), poller.ActionRequest{Action: name, Params: validRequests[name], TicketKey: "SEC-123"})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(pl.Steps) < 3 || !strings.HasPrefix(pl.Steps[0], "sts:AssumeRole RoleArn=arn:aws:iam::111122223333:role/patrol-responder RoleSessionName=patrol-respond") ||
			!strings.Contains(pl.Steps[0], "names patrol-SEC-123 in its user agent") {
			t.Errorf("%s: steps %q", name, pl.Steps)
		}
		if pl.Params[ticketParam] != "SEC-123" {
			t.Errorf("%s: ticket not carried in params: %v", name, pl.Params)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("New and Plan made %d AWS requests, want 0", n)
	}
	// The endpoint is live: Apply would reach it (and fail there).
	p.cfg.DryRun = false
	a := p.Actions()[ActionQuarantine]
	pl, _ := a.Plan(context.Background(), poller.ActionRequest{Params: validRequests[ActionQuarantine]})
	if _, err := a.Apply(context.Background(), pl); err == nil || calls.Load() == 0 {
		t.Fatalf("apply against the failing endpoint: err %v after %d calls; the counter does not count", err, calls.Load())
	}
}

func TestPlanTargetsAndPrincipals(t *testing.T) {
	p, _ := offlineProvider(t, nil)
	tests := []struct {
		action                             string
		params                             map[string]string
		target, principal, account, region string
	}{
		{ActionStartLogging, validRequests[ActionStartLogging],
			"arn:aws:cloudtrail:eu-west-1:111122223333:trail/main", "", "111122223333", "eu-west-1"},
		{ActionStartLogging, map[string]string{"account": "111122223333", "region": "eu-west-1", "trail": "arn:aws:cloudtrail:us-east-2:111122223333:trail/org"},
			"arn:aws:cloudtrail:us-east-2:111122223333:trail/org", "", "111122223333", "us-east-2"},
		{ActionDisableAccessKey, validRequests[ActionDisableAccessKey],
			"AKIAIOSFODNN7EXAMPLE", "arn:aws:iam::111122223333:user/alice", "111122223333", ""},
		{ActionBlockPublicAccess, validRequests[ActionBlockPublicAccess],
			"arn:aws:s3:::my-bucket", "", "111122223333", ""},
		{ActionRevokeOpenIngress, validRequests[ActionRevokeOpenIngress],
			"arn:aws:ec2:eu-west-1:111122223333:security-group/sg-0123456789abcdef0", "", "111122223333", "eu-west-1"},
		{ActionRevokeSessions, validRequests[ActionRevokeSessions],
			"arn:aws:iam::111122223333:role/app", "arn:aws:iam::111122223333:role/app", "111122223333", ""},
		{ActionRevokeUserSessions, validRequests[ActionRevokeUserSessions],
			"arn:aws:iam::111122223333:user/svc-backup", "arn:aws:iam::111122223333:user/svc-backup", "111122223333", ""},
		{ActionQuarantine, validRequests[ActionQuarantine],
			"arn:aws:iam::111122223333:user/mallory", "arn:aws:iam::111122223333:user/mallory", "111122223333", ""},
		{ActionQuarantine, map[string]string{"account": "111122223333", "role": "break-glass"},
			"arn:aws:iam::111122223333:role/break-glass", "arn:aws:iam::111122223333:role/break-glass", "111122223333", ""},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			pl, err := p.Actions()[tt.action].Plan(context.Background(), poller.ActionRequest{Action: tt.action, Params: tt.params})
			if err != nil {
				t.Fatal(err)
			}
			if pl.Action != tt.action || pl.Target != tt.target || pl.Principal != tt.principal || pl.Account != tt.account || pl.Region != tt.region {
				t.Errorf("plan = %s %q %q %q %q, want %q %q %q %q", pl.Action, pl.Target, pl.Principal, pl.Account, pl.Region,
					tt.target, tt.principal, tt.account, tt.region)
			}
		})
	}
}

func TestPlanRejectsBadParams(t *testing.T) {
	p, _ := offlineProvider(t, func(c *Config) { c.RoleARN = "arn:aws:iam::999999999999:role/fixed" })
	p2, _ := offlineProvider(t, nil)
	tests := []struct {
		name   string
		p      *Provider
		action string
		req    poller.ActionRequest
		want   string
	}{
		{"missing account", p2, ActionQuarantine, poller.ActionRequest{Params: map[string]string{"user": "x"}}, "param account is required"},
		{"multivalue rendered", p2, ActionQuarantine, poller.ActionRequest{Params: map[string]string{"account": "111122223333", "user": "a, b"}}, `"a, b" is not an IAM user name`},
		{"wildcard user", p2, ActionQuarantine, poller.ActionRequest{Params: map[string]string{"account": "111122223333", "user": "*"}}, "not an IAM user name"},
		{"user and role", p2, ActionQuarantine, poller.ActionRequest{Params: map[string]string{"account": "111122223333", "user": "a", "role": "b"}}, "both set"},
		{"neither user nor role", p2, ActionQuarantine, poller.ActionRequest{Params: map[string]string{"account": "111122223333"}}, "param user or role is required"},
		{"unknown param", p2, ActionRevokeSessions, poller.ActionRequest{Params: map[string]string{"account": "111122223333", "role": "a", "rol": "b"}}, "unknown param rol"},
		{"reserved ticket param", p2, ActionRevokeSessions, poller.ActionRequest{Params: map[string]string{"account": "111122223333", "role": "a", "ticket": "X"}}, "reserved"},
		{"wrong action name", p2, ActionRevokeSessions, poller.ActionRequest{Action: ActionQuarantine, Params: validRequests[ActionRevokeSessions]}, "request is for action"},
		{"short account", p2, ActionBlockPublicAccess, poller.ActionRequest{Params: map[string]string{"account": "1234", "bucket": "b-b-b"}}, "12-digit"},
		{"bucket with slash", p2, ActionBlockPublicAccess, poller.ActionRequest{Params: map[string]string{"account": "111122223333", "bucket": "b/../c"}}, "not an S3 bucket name"},
		{"session key is not an access key", p2, ActionDisableAccessKey, poller.ActionRequest{Params: map[string]string{"account": "111122223333", "user": "u", "key": "ASIAIOSFODNN7EXAMPLE"}}, "AKIA"},
		{"bad region", p2, ActionRevokeOpenIngress, poller.ActionRequest{Params: map[string]string{"account": "111122223333", "region": "mars", "group": "sg-0123456789abcdef0"}}, "region"},
		{"bad group", p2, ActionRevokeOpenIngress, poller.ActionRequest{Params: map[string]string{"account": "111122223333", "region": "us-east-1", "group": "default"}}, "security group id"},
		{"trail ARN of another account", p2, ActionStartLogging, poller.ActionRequest{Params: map[string]string{"account": "111122223333", "region": "us-east-1", "trail": "arn:aws:cloudtrail:us-east-1:444455556666:trail/trail1"}}, "is in account 444455556666"},
		{"fixed role in another account", p, ActionQuarantine, poller.ActionRequest{Params: validRequests[ActionQuarantine]}, "not the affected account 111122223333"},
		{"patrol's own role", p2, ActionQuarantine, poller.ActionRequest{Params: map[string]string{"account": "111122223333", "role": "patrol-responder"}}, "patrol's own responder role"},
		{"Identity Center role", p2, ActionRevokeSessions, poller.ActionRequest{Params: map[string]string{"account": "111122223333", "role": "AWSReservedSSO_DevAdmin_abc123"}}, "revoke the person's sessions in IAM Identity Center"},
		{"service-linked role", p2, ActionRevokeSessions, poller.ActionRequest{Params: map[string]string{"account": "111122223333", "role": "AWSServiceRoleForSupport"}}, "service-linked role"},
		{"user sessions take a user", p2, ActionRevokeUserSessions, poller.ActionRequest{Params: map[string]string{"account": "111122223333", "role": "app"}}, "unknown param role"},
		{"user sessions of a wildcard", p2, ActionRevokeUserSessions, poller.ActionRequest{Params: map[string]string{"account": "111122223333", "user": "svc-*"}}, "not an IAM user name"},
		{"patrol's own role sessions", p2, ActionRevokeSessions, poller.ActionRequest{Params: map[string]string{"account": "111122223333", "role": "Patrol-Responder"}}, "patrol's own responder role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.p.Actions()[tt.action].Plan(context.Background(), tt.req)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestPlanAmbientCredentialsStep(t *testing.T) {
	p, _ := offlineProvider(t, func(c *Config) { c.RoleARN = "" })
	pl, err := p.Actions()[ActionRevokeSessions].Plan(context.Background(), poller.ActionRequest{Params: validRequests[ActionRevokeSessions]})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(pl.Steps[0], "ambient credentials") || !strings.Contains(pl.Steps[0], "111122223333") {
		t.Errorf("step 0 = %q", pl.Steps[0])
	}
	if !strings.Contains(strings.Join(pl.Steps, "\n"), `"aws:TokenIssueTime":"<time of apply`) {
		t.Errorf("steps do not show the revocation policy: %q", pl.Steps)
	}
}

func TestAppID(t *testing.T) {
	tests := []struct{ ticket, want string }{
		{"SEC-123", "patrol-SEC-123"},
		{"", "patrol"},
		{"LOCAL-7", "patrol-LOCAL-7"},
		{"SEC 1/2:ü", "patrol-SEC-1-2---"},
		{strings.Repeat("A", 100), "patrol-" + strings.Repeat("A", 43)},
	}
	for _, tt := range tests {
		if got := appID(tt.ticket); got != tt.want {
			t.Errorf("appID(%q) = %q, want %q", tt.ticket, got, tt.want)
		}
	}
}
