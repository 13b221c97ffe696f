package aws

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"

	"github.com/patrolsec/patrol/poller"
)

// recorder notes every AWS call a provider's clients make, with its input.
type recorder struct {
	mu    sync.Mutex
	calls []recordedCall
}

type recordedCall struct {
	service, op string
	input       any
}

func (r *recorder) option(s *middleware.Stack) error {
	return s.Initialize.Add(middleware.InitializeMiddlewareFunc("patrol-test-recorder",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			r.mu.Lock()
			r.calls = append(r.calls, recordedCall{awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx), in.Parameters})
			r.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.calls = nil
	r.mu.Unlock()
}

func (r *recorder) snapshot() []recordedCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recordedCall(nil), r.calls...)
}

func TestCrossAccountAssumeRole(t *testing.T) {
	t.Parallel()
	const accountB = "222222222222"
	rec := &recorder{}
	clock := newClock()
	dir := t.TempDir()
	noErr(t, os.WriteFile(filepath.Join(dir, "external-id"), []byte("ext-1234\n"), 0o600))
	p := motoProvider(t, func(c *Config, o *Options) {
		c.RoleARN = "arn:aws:iam::{account}:role/patrol-responder"
		c.Accounts.IDs = []string{defaultAccount, accountB}
		c.ExternalIDFile = "external-id"
		o.BaseDir = dir
		c.SessionDuration = 20 * time.Minute
		o.Now = clock.Now
		o.apiOptions = append(o.apiOptions, rec.option)
	})
	iamA := iam.NewFromConfig(adminConfig(t, defaultAccount))
	iamB := iam.NewFromConfig(adminConfig(t, accountB))
	createRole(t, iamA, uniq("patrol-responder-in-a"))
	// The same user name in both accounts: only B's may change.
	user := uniq("shared")
	for _, c := range []*iam.Client{iamA, iamB} {
		must(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}))(t)
	}
	keyB := aws.ToString(must(iamB.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)}))(t).AccessKey.AccessKeyId)
	keyA := aws.ToString(must(iamA.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)}))(t).AccessKey.AccessKeyId)

	a := p.Actions()[ActionQuarantine]
	pl := must(a.Plan(ctx, poller.ActionRequest{Params: map[string]string{"account": accountB, "user": user}, TicketKey: "SEC-123"}))(t)
	if pl.Principal != "arn:aws:iam::"+accountB+":user/"+user {
		t.Errorf("principal = %s", pl.Principal)
	}
	if _, err := a.Apply(ctx, pl); err != nil {
		t.Fatal(err)
	}
	if _, err := iamB.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String(quarantinePolicy)}); err != nil {
		t.Errorf("account B's user not quarantined: %v", err)
	}
	if _, err := iamA.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String(quarantinePolicy)}); errorCode(err) != "NoSuchEntity" {
		t.Errorf("account A's same-named user was touched: %v", err)
	}

	k := p.Actions()[ActionDisableAccessKey]
	pl = must(k.Plan(ctx, poller.ActionRequest{Params: map[string]string{"account": accountB, "user": user, "key": keyB}, TicketKey: "SEC-123"}))(t)
	if _, err := k.Apply(ctx, pl); err != nil {
		t.Fatal(err)
	}
	for c, want := range map[*iam.Client]iamtypes.StatusType{iamB: iamtypes.StatusTypeInactive, iamA: iamtypes.StatusTypeActive} {
		got := must(c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(user)}))(t).AccessKeyMetadata[0].Status
		if got != want {
			t.Errorf("key status %s, want %s (A's key %s, B's key %s)", got, want, keyA, keyB)
		}
	}

	// One AssumeRole for the account's session, reused by both actions,
	// with the external ID sent.
	var assumes []*sts.AssumeRoleInput
	for _, c := range rec.snapshot() {
		if c.op == "AssumeRole" {
			assumes = append(assumes, c.input.(*sts.AssumeRoleInput))
		}
	}
	if len(assumes) != 1 {
		t.Fatalf("%d AssumeRole calls, want 1 (cached)", len(assumes))
	}
	in := assumes[0]
	if aws.ToString(in.RoleArn) != "arn:aws:iam::"+accountB+":role/patrol-responder" || aws.ToString(in.RoleSessionName) != "patrol-respond" ||
		aws.ToString(in.ExternalId) != "ext-1234" || aws.ToInt32(in.DurationSeconds) != 1200 {
		t.Errorf("AssumeRole input: arn %s session %s external id %s duration %d",
			aws.ToString(in.RoleArn), aws.ToString(in.RoleSessionName), aws.ToString(in.ExternalId), aws.ToInt32(in.DurationSeconds))
	}

	// CloudTrail in B sees patrol's session of the responder role.
	creds := must(p.credentialsFor(ctx, accountB))(t)
	cfg := p.base.Copy()
	cfg.Credentials = creds
	id := must(sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))(t)
	if got := aws.ToString(id.Arn); got != "arn:aws:sts::"+accountB+":assumed-role/patrol-responder/patrol-respond" {
		t.Errorf("caller = %s", got)
	}

	// Sessions unused for longer than a session's life are forgotten.
	first := p.assumed("arn:aws:iam::" + accountB + ":role/patrol-responder")
	if again := p.assumed("arn:aws:iam::" + accountB + ":role/patrol-responder"); again != first {
		t.Error("session not reused")
	}
	clock.Add(21 * time.Minute)
	if later := p.assumed("arn:aws:iam::" + accountB + ":role/patrol-responder"); later == first {
		t.Error("stale session kept")
	}
}

func TestAmbientCredentialsInAnotherAccountAreRefused(t *testing.T) {
	t.Parallel()
	p := motoProvider(t, nil) // no role_arn: static credentials act in 123456789012
	a := p.Actions()[ActionQuarantine]
	pl := must(a.Plan(ctx, poller.ActionRequest{Params: map[string]string{"account": "222222222222", "user": "someone"}}))(t)
	_, err := a.Apply(ctx, pl)
	if err == nil || !strings.Contains(err.Error(), "ambient credentials act in account "+defaultAccount+", not the affected account 222222222222") {
		t.Fatalf("err = %v", err)
	}
}
