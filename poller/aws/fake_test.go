package aws

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/patrolsec/patrol/poller"
)

// fakeSet hands out fake clients; a nil one panics when used, which is
// what a test that expects no call of that service wants.
type fakeSet struct {
	iam iamAPI
	s3  s3API
	ct  cloudtrailAPI
}

func (f fakeSet) IAM() iamAPI                     { return f.iam }
func (f fakeSet) S3(string) s3API                 { return f.s3 }
func (f fakeSet) EC2(string) ec2API               { panic("no EC2 expected") }
func (f fakeSet) CloudTrail(string) cloudtrailAPI { return f.ct }

// apiErr is an AWS API error with code, as the SDK returns them.
func apiErr(code string) error {
	return &smithy.GenericAPIError{Code: code, Message: code + " says no"}
}

// fakeIAM answers ListAccessKeys with one active key and fails or ignores
// UpdateAccessKey as told.
type fakeIAM struct {
	iamAPI
	updateErr error
	mu        sync.Mutex
	calls     []string
}

func (f *fakeIAM) called(op string) {
	f.mu.Lock()
	f.calls = append(f.calls, op)
	f.mu.Unlock()
}

func (f *fakeIAM) ListAccessKeys(context.Context, *iam.ListAccessKeysInput, ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error) {
	f.called("ListAccessKeys")
	return &iam.ListAccessKeysOutput{AccessKeyMetadata: []iamtypes.AccessKeyMetadata{
		{AccessKeyId: aws.String("AKIAIOSFODNN7EXAMPLE"), Status: iamtypes.StatusTypeActive, UserName: aws.String("alice")}}}, nil
}

func (f *fakeIAM) UpdateAccessKey(context.Context, *iam.UpdateAccessKeyInput, ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error) {
	f.called("UpdateAccessKey")
	return &iam.UpdateAccessKeyOutput{}, f.updateErr
}

// fakeS3 keeps one bucket's public access block and records the
// ExpectedBucketOwner of every call.
type fakeS3 struct {
	mu     sync.Mutex
	owners map[string]string
	pab    *s3types.PublicAccessBlockConfiguration
}

func (f *fakeS3) record(op string, owner *string) {
	f.mu.Lock()
	f.owners[op] = aws.ToString(owner)
	f.mu.Unlock()
}

func (f *fakeS3) GetBucketLocation(_ context.Context, in *s3.GetBucketLocationInput, _ ...func(*s3.Options)) (*s3.GetBucketLocationOutput, error) {
	f.record("GetBucketLocation", in.ExpectedBucketOwner)
	return &s3.GetBucketLocationOutput{LocationConstraint: s3types.BucketLocationConstraintEuWest1}, nil
}

func (f *fakeS3) GetPublicAccessBlock(_ context.Context, in *s3.GetPublicAccessBlockInput, _ ...func(*s3.Options)) (*s3.GetPublicAccessBlockOutput, error) {
	f.record("GetPublicAccessBlock", in.ExpectedBucketOwner)
	if f.pab == nil {
		return nil, apiErr("NoSuchPublicAccessBlockConfiguration")
	}
	return &s3.GetPublicAccessBlockOutput{PublicAccessBlockConfiguration: f.pab}, nil
}

func (f *fakeS3) PutPublicAccessBlock(_ context.Context, in *s3.PutPublicAccessBlockInput, _ ...func(*s3.Options)) (*s3.PutPublicAccessBlockOutput, error) {
	f.record("PutPublicAccessBlock", in.ExpectedBucketOwner)
	f.pab = in.PublicAccessBlockConfiguration
	return &s3.PutPublicAccessBlockOutput{}, nil
}

func (f *fakeS3) DeletePublicAccessBlock(_ context.Context, in *s3.DeletePublicAccessBlockInput, _ ...func(*s3.Options)) (*s3.DeletePublicAccessBlockOutput, error) {
	f.record("DeletePublicAccessBlock", in.ExpectedBucketOwner)
	f.pab = nil
	return &s3.DeletePublicAccessBlockOutput{}, nil
}

// fakeCT reports a trail that never starts logging.
type fakeCT struct{}

func (fakeCT) StartLogging(context.Context, *cloudtrail.StartLoggingInput, ...func(*cloudtrail.Options)) (*cloudtrail.StartLoggingOutput, error) {
	return &cloudtrail.StartLoggingOutput{}, nil // accepted, but never takes effect
}

func (fakeCT) GetTrailStatus(context.Context, *cloudtrail.GetTrailStatusInput, ...func(*cloudtrail.Options)) (*cloudtrail.GetTrailStatusOutput, error) {
	return &cloudtrail.GetTrailStatusOutput{IsLogging: aws.Bool(false)}, nil
}

// fakeProvider is a provider whose clients are fakes; connects counts how
// often it reached for credentials.
func fakeProvider(t *testing.T, set fakeSet, mod func(*Config)) (*Provider, *int) {
	t.Helper()
	cfg := Defaults()
	cfg.DryRun = false
	cfg.RoleARN = "arn:aws:iam::{account}:role/patrol-responder"
	cfg.Accounts.IDs = []string{"111122223333", "444455556666"}
	if mod != nil {
		mod(&cfg)
	}
	p, err := New(context.Background(), cfg, Options{Credentials: testCreds, Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	connects := 0
	p.connect = func(context.Context, string, string) (clientSet, error) {
		connects++
		return set, nil
	}
	return p, &connects
}

func planOf(t *testing.T, p *Provider, action string) poller.Plan {
	t.Helper()
	pl, err := p.Actions()[action].Plan(context.Background(), poller.ActionRequest{Action: action, Params: validRequests[action], TicketKey: "SEC-5"})
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

func TestApplyGuards(t *testing.T) {
	tests := []struct {
		name   string
		mod    func(*Config)
		tamper func(*poller.Plan)
		want   string
	}{
		{"dry run", func(c *Config) { c.DryRun = true }, nil, "dry_run is on"},
		{"protected principal", func(c *Config) { c.ProtectedPrincipals = []string{"arn:aws:iam::*:user/ALICE"} }, nil, "is protected"},
		{"protected account", func(c *Config) { c.ProtectedAccounts = []string{"111122223333"} }, nil, "account 111122223333 is protected"},
		{"target edited", nil, func(p *poller.Plan) { p.Target = "AKIAOTHERKEY00000000" }, "does not match its params"},
		{"principal dropped", nil, func(p *poller.Plan) { p.Principal = "" }, "does not match its params"},
		{"account edited", nil, func(p *poller.Plan) { p.Account = "444455556666" }, "does not match its params"},
		{"params edited", nil, func(p *poller.Plan) { p.Params["user"] = "bob" }, "does not match its params"},
		{"action swapped", nil, func(p *poller.Plan) { p.Action = ActionQuarantine }, "plan is for action"},
		{"bad param smuggled", nil, func(p *poller.Plan) { p.Params["extra"] = "x" }, "unknown param extra"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeIAM{}
			p, connects := fakeProvider(t, fakeSet{iam: f}, tt.mod)
			pl := planOf(t, p, ActionDisableAccessKey)
			if tt.tamper != nil {
				tt.tamper(&pl)
			}
			out, err := p.Actions()[ActionDisableAccessKey].Apply(context.Background(), pl)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if *connects != 0 || len(f.calls) != 0 || out.Verified {
				t.Errorf("refused apply still connected %d times, made calls %v", *connects, f.calls)
			}
		})
	}
}

func TestRevertGuards(t *testing.T) {
	f := &fakeIAM{}
	p, _ := fakeProvider(t, fakeSet{iam: f}, nil)
	a := p.Actions()[ActionDisableAccessKey]
	pl := planOf(t, p, ActionDisableAccessKey)
	out, err := a.Apply(context.Background(), pl)
	if err == nil {
		// The fake never changes the key, so verification must fail...
		t.Fatalf("apply verified a key the fake never disabled: %+v", out)
	}
	// ...yet the snapshot of the prior state is still handed back.
	if !strings.Contains(err.Error(), "verify") || out.Snapshot == "" || out.Verified {
		t.Fatalf("err %v, outcome %+v: want a verify error with the snapshot", err, out)
	}
	other := pl
	other.Params = map[string]string{"account": "111122223333", "user": "alice", "key": "AKIAOTHERKEY00000000", ticketParam: "SEC-5"}
	other.Target = "AKIAOTHERKEY00000000"
	if _, err := a.(poller.Reverter).Revert(context.Background(), other, out.Snapshot); err == nil || !strings.Contains(err.Error(), "snapshot is of") {
		t.Errorf("revert with another plan's snapshot: %v", err)
	}
	if _, err := a.(poller.Reverter).Revert(context.Background(), pl, "{not json"); err == nil {
		t.Error("revert with a broken snapshot succeeded")
	}
	p.cfg.DryRun = true
	if _, err := a.(poller.Reverter).Revert(context.Background(), pl, out.Snapshot); err == nil || !strings.Contains(err.Error(), "dry_run") {
		t.Errorf("revert in dry run: %v", err)
	}
}

func TestAWSErrorFromFake(t *testing.T) {
	throttled := &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 400}}, Err: apiErr("Throttling")}
	tests := []struct {
		name      string
		err       error
		code      string
		retryable bool
	}{
		{"access denied", apiErr("AccessDenied"), "AccessDenied", false},
		{"no such entity", apiErr("NoSuchEntity"), "NoSuchEntity", false},
		{"throttled after the SDK's retries", throttled, "Throttling", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeIAM{updateErr: tt.err}
			p, _ := fakeProvider(t, fakeSet{iam: f}, nil)
			out, err := p.Actions()[ActionDisableAccessKey].Apply(context.Background(), planOf(t, p, ActionDisableAccessKey))
			wantErrCode(t, err, tt.code)
			if !strings.Contains(err.Error(), "iam:UpdateAccessKey AKIAIOSFODNN7EXAMPLE") {
				t.Errorf("error %q does not name the call", err)
			}
			if poller.Retryable(err) != tt.retryable {
				t.Errorf("Retryable = %v, want %v", poller.Retryable(err), tt.retryable)
			}
			if out.Snapshot == "" || out.Verified {
				t.Errorf("outcome %+v: want the snapshot, not verified", out)
			}
			if n := strings.Count(strings.Join(f.calls, " "), "UpdateAccessKey"); n != 1 {
				t.Errorf("UpdateAccessKey called %d times; retries are the SDK's job", n)
			}
		})
	}
}

func TestVerificationFailureIsAnError(t *testing.T) {
	p, _ := fakeProvider(t, fakeSet{ct: &fakeCT{}}, nil)
	out, err := p.Actions()[ActionStartLogging].Apply(context.Background(), planOf(t, p, ActionStartLogging))
	if err == nil || !strings.Contains(err.Error(), "verify") || out.Verified {
		t.Fatalf("err %v, outcome %+v: want a verification error", err, out)
	}
}

// Bucket names are global: every S3 call must say which account owns the
// bucket, so a same-named bucket elsewhere is refused by S3 itself.
func TestS3CallsNameTheBucketOwner(t *testing.T) {
	f := &fakeS3{owners: map[string]string{}}
	p, _ := fakeProvider(t, fakeSet{s3: f}, nil)
	a := p.Actions()[ActionBlockPublicAccess]
	pl := planOf(t, p, ActionBlockPublicAccess)
	out, err := a.Apply(context.Background(), pl)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.(poller.Reverter).Revert(context.Background(), pl, out.Snapshot); err != nil {
		t.Fatal(err)
	}
	if f.pab != nil {
		t.Errorf("block left after revert: %+v", f.pab)
	}
	for _, op := range []string{"GetBucketLocation", "GetPublicAccessBlock", "PutPublicAccessBlock", "DeletePublicAccessBlock"} {
		if got, ok := f.owners[op]; !ok || got != "111122223333" {
			t.Errorf("%s ExpectedBucketOwner = %q (called %v), want 111122223333", op, got, ok)
		}
	}
	if !strings.Contains(out.Snapshot, `"region":"eu-west-1"`) {
		t.Errorf("snapshot %s does not record the bucket's region", out.Snapshot)
	}
}

func TestAWSErrorText(t *testing.T) {
	if awsError("iam:X", nil) != nil {
		t.Fatal("nil error wrapped")
	}
	err := awsError("iam:X", errors.New("dial tcp: refused"))
	if err.Error() != "iam:X: dial tcp: refused" || poller.Retryable(err) {
		t.Errorf("network error: %q retryable=%v", err, poller.Retryable(err))
	}
}
