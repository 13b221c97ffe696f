package aws

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/patrolsec/patrol/poller"
)

// TestCheckReadsTheTargetBack: every action reads its target back, before
// its change (not in place) and after it (in place), changing nothing;
// this is how an attempt interrupted mid-call is settled without running
// it again. Dry run does not stop a read.
func TestCheckReadsTheTargetBack(t *testing.T) {
	t.Parallel()
	clock := newClock()
	p := motoProvider(t, func(_ *Config, o *Options) { o.Now = clock.Now })
	cfg := adminConfig(t, defaultAccount)
	ic := iam.NewFromConfig(cfg)
	tests := []struct {
		action string
		setup  func(t *testing.T) map[string]string
	}{
		{ActionStartLogging, func(t *testing.T) map[string]string {
			bucket, trail := uniq("check-logs"), uniq("check-trail")
			must(s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}))(t)
			must(cloudtrail.NewFromConfig(cfg).CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String(trail), S3BucketName: aws.String(bucket)}))(t)
			return map[string]string{"account": defaultAccount, "region": "us-east-1", "trail": trail}
		}},
		{ActionDisableAccessKey, func(t *testing.T) map[string]string {
			user := uniq("check-user")
			must(ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}))(t)
			key := aws.ToString(must(ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)}))(t).AccessKey.AccessKeyId)
			return map[string]string{"account": defaultAccount, "user": user, "key": key}
		}},
		{ActionBlockPublicAccess, func(t *testing.T) map[string]string {
			bucket := uniq("check-bucket")
			must(s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}))(t)
			return map[string]string{"account": defaultAccount, "bucket": bucket}
		}},
		{ActionRevokeOpenIngress, func(t *testing.T) map[string]string {
			e := ec2.NewFromConfig(cfg)
			group := aws.ToString(must(e.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(uniq("check-sg")), Description: aws.String("test")}))(t).GroupId)
			must(e.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(group), IpPermissions: []ec2types.IpPermission{
				{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}))(t)
			return map[string]string{"account": defaultAccount, "region": "us-east-1", "group": group}
		}},
		{ActionRevokeSessions, func(t *testing.T) map[string]string {
			role := uniq("check-role")
			createRole(t, ic, role)
			return map[string]string{"account": defaultAccount, "role": role}
		}},
		{ActionRevokeUserSessions, func(t *testing.T) map[string]string {
			user := uniq("check-sessions")
			must(ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}))(t)
			return map[string]string{"account": defaultAccount, "user": user}
		}},
		{ActionQuarantine, func(t *testing.T) map[string]string {
			user := uniq("check-q")
			must(ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}))(t)
			return map[string]string{"account": defaultAccount, "user": user}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			params := tt.setup(t)
			a := p.Actions()[tt.action]
			chk := a.(poller.Checker)
			pl := must(a.Plan(ctx, poller.ActionRequest{Action: tt.action, Params: params, TicketKey: "SEC-1"}))(t)
			since := clock.Now()
			before, err := chk.Check(ctx, pl, since)
			if err != nil || before.Verified || before.Detail == "" {
				t.Fatalf("check before the change: %+v %v, want not in place", before, err)
			}
			if _, err := a.Apply(ctx, pl); err != nil {
				t.Fatal(err)
			}
			after, err := chk.Check(ctx, pl, since)
			if err != nil || !after.Verified {
				t.Fatalf("check after the change: %+v %v, want in place", after, err)
			}
			dry := motoProvider(t, func(c *Config, o *Options) { c.DryRun = true; o.Now = clock.Now })
			if out, err := dry.Actions()[tt.action].(poller.Checker).Check(ctx, pl, since); err != nil || !out.Verified {
				t.Errorf("check in dry run: %+v %v", out, err)
			}
		})
	}
	t.Run("older revocation is not this attempt's", func(t *testing.T) {
		role := uniq("check-old")
		createRole(t, ic, role)
		old := revokeSessionsDocument(clock.Now().Add(-time.Hour))
		must(ic.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(revokeSessionsPolicy), PolicyDocument: aws.String(old)}))(t)
		a := p.Actions()[ActionRevokeSessions]
		pl := must(a.Plan(ctx, poller.ActionRequest{Action: ActionRevokeSessions, Params: map[string]string{"account": defaultAccount, "role": role}, TicketKey: "SEC-1"}))(t)
		out, err := a.(poller.Checker).Check(ctx, pl, clock.Now())
		if err != nil || out.Verified {
			t.Errorf("an earlier revocation read as this one: %+v %v", out, err)
		}
	})
}

// TestRevertRefusalChangesNothing: an undo refused before any write (dry
// run on, a later change patrol will not overwrite) says so, so the undo
// stays available.
func TestRevertRefusalChangesNothing(t *testing.T) {
	t.Parallel()
	p := motoProvider(t, nil)
	ic := iam.NewFromConfig(adminConfig(t, defaultAccount))
	user := uniq("refuse")
	must(ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}))(t)
	key := aws.ToString(must(ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)}))(t).AccessKey.AccessKeyId)
	pl, out := planApply(t, p, ActionDisableAccessKey, map[string]string{"account": defaultAccount, "user": user, "key": key})
	dry := motoProvider(t, func(c *Config, _ *Options) { c.DryRun = true })
	_, err := dry.Actions()[ActionDisableAccessKey].(poller.Reverter).Revert(ctx, pl, out.Snapshot)
	if err == nil || !poller.Unchanged(err) || !strings.Contains(err.Error(), "dry_run") {
		t.Errorf("revert in dry run: %v (unchanged %v)", err, poller.Unchanged(err))
	}
	if _, err := p.Actions()[ActionDisableAccessKey].(poller.Reverter).Revert(ctx, pl, `{"action":"other"}`); err == nil || !poller.Unchanged(err) {
		t.Errorf("revert with a foreign snapshot: %v", err)
	}
	revert(t, p, pl, out.Snapshot) // still available, and works
}
