package aws

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/patrolsec/patrol/poller"
)

// permissionOf maps a recorded call to the IAM permission that authorizes
// it; "" for calls the responder role does not need (the jump host's
// AssumeRole, GetCallerIdentity which needs no permission at all).
func permissionOf(c recordedCall) string {
	switch c.service {
	case "STS":
		return ""
	case "S3":
		switch c.op {
		case "GetPublicAccessBlock":
			return "s3:GetBucketPublicAccessBlock"
		case "PutPublicAccessBlock", "DeletePublicAccessBlock":
			return "s3:PutBucketPublicAccessBlock"
		}
	}
	return strings.ToLower(c.service) + ":" + c.op
}

func permissionsUsed(calls []recordedCall) []string {
	var out []string
	for _, c := range calls {
		if p := permissionOf(c); p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// TestPermissionsTableMatchesCalls runs every action (and revert) against
// the emulator, records the calls, and checks the published permissions
// cover them exactly: nothing missing (AccessDenied in production), nothing
// granted that no code path uses.
func TestPermissionsTableMatchesCalls(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	p := motoProvider(t, func(_ *Config, o *Options) { o.apiOptions = append(o.apiOptions, rec.option) })
	cfg := adminConfig(t, defaultAccount)
	c := iam.NewFromConfig(cfg)
	s := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	e := ec2.NewFromConfig(cfg)

	scenarios := []struct {
		action string
		setup  func(t *testing.T) map[string]string
	}{
		{ActionStartLogging, func(t *testing.T) map[string]string {
			bucket, trail := uniq("perm-logs"), uniq("perm-trail")
			must(s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}))(t)
			must(cloudtrail.NewFromConfig(cfg).CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String(trail), S3BucketName: aws.String(bucket)}))(t)
			return map[string]string{"account": defaultAccount, "region": "us-east-1", "trail": trail}
		}},
		{ActionDisableAccessKey, func(t *testing.T) map[string]string {
			user := uniq("perm-user")
			must(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}))(t)
			key := must(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)}))(t)
			return map[string]string{"account": defaultAccount, "user": user, "key": aws.ToString(key.AccessKey.AccessKeyId)}
		}},
		{ActionBlockPublicAccess, func(t *testing.T) map[string]string {
			bucket := uniq("perm-bucket")
			must(s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}))(t)
			return map[string]string{"account": defaultAccount, "bucket": bucket}
		}},
		{ActionRevokeOpenIngress, func(t *testing.T) map[string]string {
			g := must(e.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(uniq("perm-sg")), Description: aws.String("x")}))(t)
			must(e.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: g.GroupId, IpPermissions: []ec2types.IpPermission{
				{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(3389), ToPort: aws.Int32(3389), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}))(t)
			return map[string]string{"account": defaultAccount, "region": "us-east-1", "group": aws.ToString(g.GroupId)}
		}},
		{ActionRevokeSessions, func(t *testing.T) map[string]string {
			role := uniq("perm-role")
			createRole(t, c, role)
			return map[string]string{"account": defaultAccount, "role": role}
		}},
		{ActionRevokeSessions, func(t *testing.T) map[string]string { // with a previous policy to restore
			role := uniq("perm-role")
			createRole(t, c, role)
			must(c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(revokeSessionsPolicy), PolicyDocument: aws.String(quarantineDocument)}))(t)
			return map[string]string{"account": defaultAccount, "role": role}
		}},
		{ActionRevokeUserSessions, func(t *testing.T) map[string]string {
			user := uniq("perm-user")
			must(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}))(t)
			return map[string]string{"account": defaultAccount, "user": user}
		}},
		{ActionRevokeUserSessions, func(t *testing.T) map[string]string { // with a previous policy to restore
			user := uniq("perm-user")
			must(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}))(t)
			must(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String(revokeUserSessionsPolicy), PolicyDocument: aws.String(quarantineDocument)}))(t)
			return map[string]string{"account": defaultAccount, "user": user}
		}},
		{ActionQuarantine, func(t *testing.T) map[string]string {
			user := uniq("perm-user")
			must(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}))(t)
			must(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String(quarantinePolicy), PolicyDocument: aws.String(revokeSessionsDocumentAt("2020-01-01T00:00:00Z"))}))(t)
			return map[string]string{"account": defaultAccount, "user": user}
		}},
		{ActionQuarantine, func(t *testing.T) map[string]string {
			user := uniq("perm-user")
			must(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}))(t)
			return map[string]string{"account": defaultAccount, "user": user}
		}},
		{ActionQuarantine, func(t *testing.T) map[string]string {
			role := uniq("perm-role")
			createRole(t, c, role)
			return map[string]string{"account": defaultAccount, "role": role}
		}},
		{ActionQuarantine, func(t *testing.T) map[string]string {
			role := uniq("perm-role")
			createRole(t, c, role)
			must(c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(quarantinePolicy), PolicyDocument: aws.String(revokeSessionsDocumentAt("2020-01-01T00:00:00Z"))}))(t)
			return map[string]string{"account": defaultAccount, "role": role}
		}},
	}
	applied, reverted := map[string][]string{}, map[string][]string{}
	for _, sc := range scenarios {
		params := sc.setup(t)
		rec.reset()
		pl, out := planApply(t, p, sc.action, params)
		applied[sc.action] = append(applied[sc.action], permissionsUsed(rec.snapshot())...)
		if _, ok := p.Actions()[sc.action].(poller.Reverter); ok {
			rec.reset()
			revert(t, p, pl, out.Snapshot)
			reverted[sc.action] = append(reverted[sc.action], permissionsUsed(rec.snapshot())...)
		}
	}
	for action, want := range ActionPermissions {
		if got := norm(applied[action]); !slices.Equal(got, norm(want.Apply)) {
			t.Errorf("%s apply uses %v, table says %v", action, got, norm(want.Apply))
		}
		if got := norm(reverted[action]); !slices.Equal(got, norm(want.Revert)) {
			t.Errorf("%s revert uses %v, table says %v", action, got, norm(want.Revert))
		}
	}
}

func TestResponderPolicy(t *testing.T) {
	var doc struct {
		Version   string
		Statement []struct {
			Sid, Effect string
			Action      []string
			Resource    []string
		}
	}
	if err := json.Unmarshal([]byte(ResponderPolicy()), &doc); err != nil {
		t.Fatal(err)
	}
	granted := map[string]bool{}
	for _, s := range doc.Statement {
		if s.Effect != "Allow" || len(s.Resource) == 0 {
			t.Errorf("statement %s: %+v", s.Sid, s)
		}
		for _, a := range s.Action {
			if strings.Contains(a, "*") {
				t.Errorf("statement %s grants wildcard %s", s.Sid, a)
			}
			granted[a] = true
		}
	}
	var want []string
	for _, p := range ActionPermissions {
		want = append(append(want, p.Apply...), p.Revert...)
	}
	want = append(append(want, EnricherPermissions...), PathPermissions...)
	for _, a := range want {
		if !granted[a] {
			t.Errorf("policy does not grant %s", a)
		}
	}
	if len(granted) != len(norm(want)) {
		t.Errorf("policy grants %d actions, the table needs %d", len(granted), len(norm(want)))
	}

	only := ResponderPolicy(ActionStartLogging)
	if strings.Contains(only, "iam:PutUserPolicy") || !strings.Contains(only, "cloudtrail:StartLogging") {
		t.Errorf("policy for start_logging alone:\n%s", only)
	}
}

func norm(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return slices.Compact(s)
}
