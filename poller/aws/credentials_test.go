package aws

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/patrolsec/patrol/poller"
)

// agents notes the User-Agent of every AWS call, by operation.
type agents struct {
	mu sync.Mutex
	ua map[string][]string
}

func (a *agents) option(s *middleware.Stack) error {
	return s.Finalize.Add(middleware.FinalizeMiddlewareFunc("patrol-test-agents",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			if req, ok := in.Request.(*smithyhttp.Request); ok {
				a.mu.Lock()
				if a.ua == nil {
					a.ua = map[string][]string{}
				}
				op := awsmiddleware.GetOperationName(ctx)
				a.ua[op] = append(a.ua[op], req.Header.Get("User-Agent"))
				a.mu.Unlock()
			}
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}

func (a *agents) of(op string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.ua[op]...)
}

// shortLived makes every assumed-role session expire within the refresh
// window, as a session near its end does.
type shortLived struct{ stsAPI }

func (s shortLived) AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, opts ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	out, err := s.stsAPI.AssumeRole(ctx, in, opts...)
	if err == nil && out.Credentials != nil {
		out.Credentials.Expiration = aws.Time(time.Now().Add(30 * time.Second))
	}
	return out, err
}

// TestCredentialsPerAccount: the role session of an account is assumed
// once and reused by every ticket's actions, read-backs and enrichment in
// that account until it nears its expiry; each call still names its ticket
// (in the user agent CloudTrail records).
func TestCredentialsPerAccount(t *testing.T) {
	t.Parallel()
	const accountA, accountB = "222222222222", "333333333333"
	rec, ua := &recorder{}, &agents{}
	p := motoProvider(t, func(c *Config, o *Options) {
		c.RoleARN = "arn:aws:iam::{account}:role/patrol-responder"
		c.Accounts.IDs = []string{accountA, accountB}
		o.apiOptions = append(o.apiOptions, rec.option, ua.option)
	})
	disable := func(account, ticket string) {
		t.Helper()
		ic := iam.NewFromConfig(adminConfig(t, account))
		user := uniq("leaked")
		must(ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}))(t)
		key := aws.ToString(must(ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)}))(t).AccessKey.AccessKeyId)
		a := p.Actions()[ActionDisableAccessKey]
		pl := must(a.Plan(ctx, poller.ActionRequest{Params: map[string]string{"account": account, "user": user, "key": key}, TicketKey: ticket}))(t)
		if out := must(a.Apply(ctx, pl))(t); !out.Verified {
			t.Fatalf("%s: not verified: %s", ticket, out.Detail)
		}
		if out := must(a.(poller.Checker).Check(ctx, pl, time.Time{}))(t); !out.Verified {
			t.Fatalf("%s: read back: %s", ticket, out.Detail)
		}
	}
	assumes := func() map[string]int {
		n := map[string]int{}
		for _, c := range rec.snapshot() {
			if c.op == "AssumeRole" {
				n[aws.ToString(c.input.(*sts.AssumeRoleInput).RoleArn)]++
			}
		}
		return n
	}
	for _, ticket := range []string{"SEC-1", "SEC-2", "SEC-3"} {
		disable(accountA, ticket)
	}
	disable(accountB, "SEC-4")
	roleA, roleB := "arn:aws:iam::"+accountA+":role/patrol-responder", "arn:aws:iam::"+accountB+":role/patrol-responder"
	if got := assumes(); got[roleA] != 1 || got[roleB] != 1 || len(got) != 2 {
		t.Errorf("AssumeRole calls per role = %v, want one per account", got)
	}
	calls := ua.of("UpdateAccessKey")
	if len(calls) != 4 {
		t.Fatalf("UpdateAccessKey calls = %d", len(calls))
	}
	for i, want := range []string{"app/patrol-SEC-1", "app/patrol-SEC-2", "app/patrol-SEC-3", "app/patrol-SEC-4"} {
		if !strings.Contains(calls[i], want) {
			t.Errorf("call %d user agent %q lacks %q", i, calls[i], want)
		}
	}

	// A session near its expiry is renewed before it is used.
	rec.reset()
	p.sts = shortLived{p.sts}
	p.mu.Lock()
	clear(p.sessions)
	p.mu.Unlock()
	disable(accountA, "SEC-5")
	disable(accountA, "SEC-6")
	if got := assumes(); got[roleA] < 2 {
		t.Errorf("AssumeRole calls with sessions near expiry = %v, want a new session per use", got)
	}
}
