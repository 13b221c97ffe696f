package aws

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/patrolsec/patrol/poller"
)

var ctx = context.Background()

// planApply plans action with params for ticket SEC-1 and applies it,
// requiring a verified outcome.
func planApply(t *testing.T, p *Provider, action string, params map[string]string) (poller.Plan, poller.Outcome) {
	t.Helper()
	a := p.Actions()[action]
	pl, err := a.Plan(ctx, poller.ActionRequest{Action: action, Params: params, TicketKey: "SEC-1"})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	out, err := a.Apply(ctx, pl)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if !out.Verified || out.Snapshot == "" {
		t.Fatalf("apply: outcome %+v not verified or without snapshot", out)
	}
	return pl, out
}

// revert reverts pl from snapshot, requiring a verified outcome.
func revert(t *testing.T, p *Provider, pl poller.Plan, snapshot string) poller.Outcome {
	t.Helper()
	r, ok := p.Actions()[pl.Action].(poller.Reverter)
	if !ok {
		t.Fatalf("%s is not reversible", pl.Action)
	}
	out, err := r.Revert(ctx, pl, snapshot)
	if err != nil {
		t.Fatalf("revert: %v", err)
	}
	if !out.Verified {
		t.Fatalf("revert: outcome %+v not verified", out)
	}
	return out
}

func TestStartLogging(t *testing.T) {
	t.Parallel()
	p := motoProvider(t, nil)
	cfg := adminConfig(t, defaultAccount)
	bucket, trail := uniq("trail-logs"), uniq("trail")
	must(s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}))(t)
	ct := cloudtrail.NewFromConfig(cfg)
	must(ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String(trail), S3BucketName: aws.String(bucket)}))(t)

	pl, out := planApply(t, p, ActionStartLogging, map[string]string{"account": defaultAccount, "region": "us-east-1", "trail": trail})
	if want := "arn:aws:cloudtrail:us-east-1:" + defaultAccount + ":trail/" + trail; pl.Target != want {
		t.Errorf("target = %s, want %s", pl.Target, want)
	}
	st := must(ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(trail)}))(t)
	if !aws.ToBool(st.IsLogging) {
		t.Error("trail is not logging after apply")
	}
	var snap trailSnapshot
	noErr(t, json.Unmarshal([]byte(out.Snapshot), &snap))
	if snap.WasLogging || snap.TrailARN != pl.Target || snap.Action != ActionStartLogging {
		t.Errorf("snapshot = %+v", snap)
	}

	// A second run (another ticket, say) finds it logging and changes nothing.
	_, out = planApply(t, p, ActionStartLogging, map[string]string{"account": defaultAccount, "region": "us-east-1", "trail": pl.Target})
	if !strings.Contains(out.Detail, "already logging") {
		t.Errorf("detail = %q", out.Detail)
	}
	if _, ok := p.Actions()[ActionStartLogging].(poller.Reverter); ok {
		t.Error("start_logging must not be reversible: its undo is StopLogging")
	}
}

func TestDisableAccessKey(t *testing.T) {
	t.Parallel()
	p := motoProvider(t, nil)
	c := iam.NewFromConfig(adminConfig(t, defaultAccount))
	user := uniq("alice")
	must(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}))(t)
	key := aws.ToString(must(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)}))(t).AccessKey.AccessKeyId)
	other := aws.ToString(must(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)}))(t).AccessKey.AccessKeyId)
	status := func() map[string]iamtypes.StatusType {
		m := map[string]iamtypes.StatusType{}
		for _, k := range must(c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(user)}))(t).AccessKeyMetadata {
			m[aws.ToString(k.AccessKeyId)] = k.Status
		}
		return m
	}

	pl, out := planApply(t, p, ActionDisableAccessKey, map[string]string{"account": defaultAccount, "user": user, "key": key})
	if got := status(); got[key] != iamtypes.StatusTypeInactive || got[other] != iamtypes.StatusTypeActive {
		t.Fatalf("after apply: %v; want %s Inactive and %s untouched", got, key, other)
	}
	revert(t, p, pl, out.Snapshot)
	if got := status(); got[key] != iamtypes.StatusTypeActive {
		t.Fatalf("after revert: %v; want %s Active again", got, key)
	}

	// The key must belong to the named user.
	bob := uniq("bob")
	must(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(bob)}))(t)
	a := p.Actions()[ActionDisableAccessKey]
	pl = must(a.Plan(ctx, poller.ActionRequest{Params: map[string]string{"account": defaultAccount, "user": bob, "key": key}}))(t)
	if _, err := a.Apply(ctx, pl); err == nil || !strings.Contains(err.Error(), "not one of user "+bob+"'s keys") {
		t.Errorf("apply with another user's key: %v", err)
	}
	if got := status(); got[key] != iamtypes.StatusTypeActive {
		t.Errorf("key changed by a refused apply: %v", got)
	}
}

func TestBlockPublicAccess(t *testing.T) {
	t.Parallel()
	p := motoProvider(t, nil)
	s := s3.NewFromConfig(adminConfig(t, defaultAccount), func(o *s3.Options) { o.UsePathStyle = true })
	get := func(bucket string) *s3types.PublicAccessBlockConfiguration {
		out, err := s.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String(bucket)})
		if errorCode(err) == "NoSuchPublicAccessBlockConfiguration" {
			return nil
		}
		return must(out, err)(t).PublicAccessBlockConfiguration
	}
	tests := []struct {
		name  string
		prior *s3types.PublicAccessBlockConfiguration
	}{
		{"no configuration before", nil},
		{"partial configuration before", &s3types.PublicAccessBlockConfiguration{
			BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(false), BlockPublicPolicy: aws.Bool(false), RestrictPublicBuckets: aws.Bool(false)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bucket := uniq("public-bucket")
			must(s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}))(t)
			if tt.prior != nil {
				must(s.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String(bucket), PublicAccessBlockConfiguration: tt.prior}))(t)
			}
			pl, out := planApply(t, p, ActionBlockPublicAccess, map[string]string{"account": defaultAccount, "bucket": bucket})
			if pl.Target != "arn:aws:s3:::"+bucket {
				t.Errorf("target = %s", pl.Target)
			}
			got := get(bucket)
			if got == nil || !aws.ToBool(got.BlockPublicAcls) || !aws.ToBool(got.IgnorePublicAcls) || !aws.ToBool(got.BlockPublicPolicy) || !aws.ToBool(got.RestrictPublicBuckets) {
				t.Fatalf("after apply: %+v, want all four on", got)
			}
			// Someone loosens the block after patrol: a revert must not
			// silently overwrite that decision.
			loose := &s3types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true),
				BlockPublicPolicy: aws.Bool(false), RestrictPublicBuckets: aws.Bool(true)}
			must(s.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String(bucket), PublicAccessBlockConfiguration: loose}))(t)
			if _, err := p.Actions()[ActionBlockPublicAccess].(poller.Reverter).Revert(ctx, pl, out.Snapshot); err == nil || !strings.Contains(err.Error(), "changed after patrol set it") {
				t.Fatalf("revert over a later change: %v", err)
			}
			must(s.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String(bucket), PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
				BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true)}}))(t)

			revert(t, p, pl, out.Snapshot)
			got = get(bucket)
			switch {
			case tt.prior == nil && got != nil:
				t.Errorf("after revert: %+v, want no configuration", got)
			case tt.prior != nil && (got == nil || !aws.ToBool(got.BlockPublicAcls) || aws.ToBool(got.BlockPublicPolicy)):
				t.Errorf("after revert: %+v, want the prior partial configuration", got)
			}
		})
	}
}

func TestRevokeOpenIngress(t *testing.T) {
	t.Parallel()
	p := motoProvider(t, nil)
	e := ec2.NewFromConfig(adminConfig(t, defaultAccount))
	group := aws.ToString(must(e.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName: aws.String(uniq("web")), Description: aws.String("test")}))(t).GroupId)
	must(e.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
		GroupId: aws.String(group),
		IpPermissions: []ec2types.IpPermission{
			{ // one permission, several ranges: only the world-open ones go
				IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22),
				IpRanges:   []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0"), Description: aws.String("ssh from anywhere")}, {CidrIp: aws.String("10.0.0.0/8")}},
				Ipv6Ranges: []ec2types.Ipv6Range{{CidrIpv6: aws.String("::/0")}},
			},
			{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(443), ToPort: aws.Int32(443), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("192.0.2.0/24")}}},
		},
	}))(t)
	type ruleKey struct {
		egress bool
		port   int32
		cidr   string
	}
	rules := func() map[ruleKey]string {
		out := must(e.DescribeSecurityGroupRules(ctx, &ec2.DescribeSecurityGroupRulesInput{
			Filters: []ec2types.Filter{{Name: aws.String("group-id"), Values: []string{group}}}}))(t)
		m := map[ruleKey]string{}
		for _, r := range out.SecurityGroupRules {
			m[ruleKey{aws.ToBool(r.IsEgress), aws.ToInt32(r.FromPort), aws.ToString(r.CidrIpv4) + aws.ToString(r.CidrIpv6)}] = aws.ToString(r.SecurityGroupRuleId)
		}
		return m
	}
	before := rules()
	kept := []ruleKey{{false, 22, "10.0.0.0/8"}, {false, 443, "192.0.2.0/24"}, {true, -1, "0.0.0.0/0"}}
	open := []ruleKey{{false, 22, "0.0.0.0/0"}, {false, 22, "::/0"}}
	for _, k := range append(slices.Clone(kept), open...) {
		if before[k] == "" {
			t.Fatalf("setup: rule %+v missing from %v", k, before)
		}
	}

	pl, out := planApply(t, p, ActionRevokeOpenIngress, map[string]string{"account": defaultAccount, "region": "us-east-1", "group": group})
	after := rules()
	for _, k := range open {
		if after[k] != "" {
			t.Errorf("world-open rule %+v survived", k)
		}
	}
	for _, k := range kept {
		if after[k] != before[k] {
			t.Errorf("rule %+v changed: %q -> %q; it should be untouched", k, before[k], after[k])
		}
	}
	if !strings.Contains(out.Detail, before[open[0]]) || !strings.Contains(out.Detail, before[open[1]]) {
		t.Errorf("detail %q does not name the revoked rule ids", out.Detail)
	}

	revert(t, p, pl, out.Snapshot)
	restored := rules()
	for _, k := range append(slices.Clone(kept), open...) {
		if restored[k] == "" {
			t.Errorf("after revert, rule %+v missing", k)
		}
	}
	// A revert twice adds nothing twice.
	revert(t, p, pl, out.Snapshot)
	if n := len(rules()); n != len(restored) {
		t.Errorf("second revert: %d rules, want %d", n, len(restored))
	}
}

func TestRevokeRoleSessions(t *testing.T) {
	t.Parallel()
	clock := newClock()
	p := motoProvider(t, func(_ *Config, o *Options) { o.Now = clock.Now })
	c := iam.NewFromConfig(adminConfig(t, defaultAccount))
	doc := func(role string) (string, bool) {
		out, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(revokeSessionsPolicy)})
		if errorCode(err) == "NoSuchEntity" {
			return "", false
		}
		d := must(decodePolicy(aws.ToString(must(out, err)(t).PolicyDocument)))(t)
		return d, true
	}

	role := uniq("app")
	createRole(t, c, role)
	pl, out := planApply(t, p, ActionRevokeSessions, map[string]string{"account": defaultAccount, "role": role})
	got, ok := doc(role)
	// The clock reads 09:26:53.5: the cutoff rounds up to 09:26:54.
	if want := revokeSessionsDocument(time.Date(2026, 3, 14, 9, 26, 54, 0, time.UTC)); !ok || !samePolicy(got, want) {
		t.Fatalf("policy = %s, want %s", got, want)
	}
	if !strings.Contains(got, `"aws:TokenIssueTime":"2026-03-14T09:26:54Z"`) {
		t.Errorf("policy %s lacks the ISO cutoff", got)
	}
	revert(t, p, pl, out.Snapshot)
	if _, ok := doc(role); ok {
		t.Error("policy still there after revert")
	}

	// A role that already had the policy gets that one back.
	role2 := uniq("app")
	createRole(t, c, role2)
	earlier := revokeSessionsDocument(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	must(c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(role2), PolicyName: aws.String(revokeSessionsPolicy), PolicyDocument: aws.String(earlier)}))(t)
	clock.Add(time.Hour)
	pl, out = planApply(t, p, ActionRevokeSessions, map[string]string{"account": defaultAccount, "role": role2})
	revert(t, p, pl, out.Snapshot)
	if got, ok := doc(role2); !ok || !samePolicy(got, earlier) {
		t.Errorf("after revert: %s, want the earlier policy", got)
	}

	// Someone revoked again from the console after patrol: revert refuses.
	pl, out = planApply(t, p, ActionRevokeSessions, map[string]string{"account": defaultAccount, "role": role2})
	later := revokeSessionsDocument(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	must(c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(role2), PolicyName: aws.String(revokeSessionsPolicy), PolicyDocument: aws.String(later)}))(t)
	if _, err := p.Actions()[ActionRevokeSessions].(poller.Reverter).Revert(ctx, pl, out.Snapshot); err == nil || !strings.Contains(err.Error(), "changed after patrol wrote it") {
		t.Errorf("revert over a later change: %v", err)
	}
	if got, _ := doc(role2); !samePolicy(got, later) {
		t.Errorf("later policy overwritten: %s", got)
	}
}

// iam.revoke_user_sessions on a user: the deny for tokens issued before now
// lands on the user, under patrol's own name, leaving its other inline
// policies alone; revert removes it.
func TestRevokeUserSessions(t *testing.T) {
	t.Parallel()
	clock := newClock()
	p := motoProvider(t, func(_ *Config, o *Options) { o.Now = clock.Now })
	c := iam.NewFromConfig(adminConfig(t, defaultAccount))
	user := uniq("svc-backup")
	must(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}))(t)
	must(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String("ReadOnly"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}]}`)}))(t)
	names := func() []string {
		return must(c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String(user)}))(t).PolicyNames
	}
	pl, out := planApply(t, p, ActionRevokeUserSessions, map[string]string{"account": defaultAccount, "user": user})
	if pl.Principal != "arn:aws:iam::"+defaultAccount+":user/"+user || !out.Verified {
		t.Fatalf("plan %+v, outcome %+v", pl, out)
	}
	got := must(c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String(revokeUserSessionsPolicy)}))(t)
	doc := must(decodePolicy(aws.ToString(got.PolicyDocument)))(t)
	if want := revokeSessionsDocument(time.Date(2026, 3, 14, 9, 26, 54, 0, time.UTC)); !samePolicy(doc, want) {
		t.Fatalf("policy = %s, want %s", doc, want)
	}
	if n := names(); len(n) != 2 {
		t.Errorf("user policies after apply: %v", n)
	}
	revert(t, p, pl, out.Snapshot)
	if n := names(); len(n) != 1 || n[0] != "ReadOnly" {
		t.Errorf("user policies after revert: %v, want only ReadOnly", n)
	}
}

func TestQuarantinePrincipal(t *testing.T) {
	t.Parallel()
	p := motoProvider(t, nil)
	c := iam.NewFromConfig(adminConfig(t, defaultAccount))
	user, role := uniq("mallory"), uniq("ci")
	must(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}))(t)
	createRole(t, c, role)
	has := func(kind, name string) bool {
		var err error
		if kind == "user" {
			_, err = c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String(quarantinePolicy)})
		} else {
			_, err = c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(quarantinePolicy)})
		}
		if errorCode(err) == "NoSuchEntity" {
			return false
		}
		noErr(t, err)
		return true
	}
	for _, tt := range []struct{ kind, name, principal string }{
		{"user", user, "arn:aws:iam::" + defaultAccount + ":user/" + user},
		{"role", role, "arn:aws:iam::" + defaultAccount + ":role/" + role},
	} {
		t.Run(tt.kind, func(t *testing.T) {
			pl, out := planApply(t, p, ActionQuarantine, map[string]string{"account": defaultAccount, tt.kind: tt.name})
			if pl.Principal != tt.principal || pl.Target != tt.principal {
				t.Errorf("principal %s target %s, want %s", pl.Principal, pl.Target, tt.principal)
			}
			if !has(tt.kind, tt.name) {
				t.Fatal("no quarantine policy after apply")
			}
			revert(t, p, pl, out.Snapshot)
			if has(tt.kind, tt.name) {
				t.Fatal("quarantine policy still there after revert")
			}
		})
	}
}

func TestAWSErrorsCarryCode(t *testing.T) {
	t.Parallel()
	p := motoProvider(t, nil)
	tests := []struct {
		action string
		params map[string]string
		code   string
	}{
		{ActionDisableAccessKey, map[string]string{"account": defaultAccount, "user": "nobody-here", "key": "AKIAAAAAAAAAAAAAAAAA"}, "NoSuchEntity"},
		{ActionQuarantine, map[string]string{"account": defaultAccount, "role": "no-such-role"}, "NoSuchEntity"},
		{ActionRevokeSessions, map[string]string{"account": defaultAccount, "role": "no-such-role"}, "NoSuchEntity"},
		{ActionRevokeUserSessions, map[string]string{"account": defaultAccount, "user": "no-such-user"}, "NoSuchEntity"},
		{ActionRevokeOpenIngress, map[string]string{"account": defaultAccount, "region": "us-east-1", "group": "sg-0123456789abcdef0"}, "InvalidGroup.NotFound"},
		{ActionStartLogging, map[string]string{"account": defaultAccount, "region": "us-east-1", "trail": "no-such-trail"}, "TrailNotFoundException"},
		{ActionBlockPublicAccess, map[string]string{"account": defaultAccount, "bucket": "no-such-bucket-patrol"}, "NoSuchBucket"},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			a := p.Actions()[tt.action]
			pl := must(a.Plan(ctx, poller.ActionRequest{Params: tt.params, TicketKey: "SEC-9"}))(t)
			out, err := a.Apply(ctx, pl)
			wantErrCode(t, err, tt.code)
			if out.Verified {
				t.Error("failed apply reported verified")
			}
		})
	}
}

func createRole(t *testing.T, c *iam.Client, name string) {
	t.Helper()
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	must(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)}))(t)
}
