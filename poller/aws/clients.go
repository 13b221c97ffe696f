package aws

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// The narrow slices of each SDK client that patrol uses, so tests can fake
// them and a reader can see every call patrol can make.
type (
	iamAPI interface {
		ListAccessKeys(context.Context, *iam.ListAccessKeysInput, ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error)
		UpdateAccessKey(context.Context, *iam.UpdateAccessKeyInput, ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error)
		ListUserPolicies(context.Context, *iam.ListUserPoliciesInput, ...func(*iam.Options)) (*iam.ListUserPoliciesOutput, error)
		GetUserPolicy(context.Context, *iam.GetUserPolicyInput, ...func(*iam.Options)) (*iam.GetUserPolicyOutput, error)
		PutUserPolicy(context.Context, *iam.PutUserPolicyInput, ...func(*iam.Options)) (*iam.PutUserPolicyOutput, error)
		DeleteUserPolicy(context.Context, *iam.DeleteUserPolicyInput, ...func(*iam.Options)) (*iam.DeleteUserPolicyOutput, error)
		ListRolePolicies(context.Context, *iam.ListRolePoliciesInput, ...func(*iam.Options)) (*iam.ListRolePoliciesOutput, error)
		GetRolePolicy(context.Context, *iam.GetRolePolicyInput, ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error)
		PutRolePolicy(context.Context, *iam.PutRolePolicyInput, ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error)
		DeleteRolePolicy(context.Context, *iam.DeleteRolePolicyInput, ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error)
		ListUserTags(context.Context, *iam.ListUserTagsInput, ...func(*iam.Options)) (*iam.ListUserTagsOutput, error)
		ListRoleTags(context.Context, *iam.ListRoleTagsInput, ...func(*iam.Options)) (*iam.ListRoleTagsOutput, error)
		ListMFADevices(context.Context, *iam.ListMFADevicesInput, ...func(*iam.Options)) (*iam.ListMFADevicesOutput, error)
		GetAccessKeyLastUsed(context.Context, *iam.GetAccessKeyLastUsedInput, ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error)
		GetUser(context.Context, *iam.GetUserInput, ...func(*iam.Options)) (*iam.GetUserOutput, error)
		GetRole(context.Context, *iam.GetRoleInput, ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	}
	s3API interface {
		GetBucketLocation(context.Context, *s3.GetBucketLocationInput, ...func(*s3.Options)) (*s3.GetBucketLocationOutput, error)
		GetPublicAccessBlock(context.Context, *s3.GetPublicAccessBlockInput, ...func(*s3.Options)) (*s3.GetPublicAccessBlockOutput, error)
		PutPublicAccessBlock(context.Context, *s3.PutPublicAccessBlockInput, ...func(*s3.Options)) (*s3.PutPublicAccessBlockOutput, error)
		DeletePublicAccessBlock(context.Context, *s3.DeletePublicAccessBlockInput, ...func(*s3.Options)) (*s3.DeletePublicAccessBlockOutput, error)
	}
	ec2API interface {
		DescribeSecurityGroups(context.Context, *ec2.DescribeSecurityGroupsInput, ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error)
		DescribeSecurityGroupRules(context.Context, *ec2.DescribeSecurityGroupRulesInput, ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupRulesOutput, error)
		RevokeSecurityGroupIngress(context.Context, *ec2.RevokeSecurityGroupIngressInput, ...func(*ec2.Options)) (*ec2.RevokeSecurityGroupIngressOutput, error)
		AuthorizeSecurityGroupIngress(context.Context, *ec2.AuthorizeSecurityGroupIngressInput, ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupIngressOutput, error)
	}
	cloudtrailAPI interface {
		GetTrailStatus(context.Context, *cloudtrail.GetTrailStatusInput, ...func(*cloudtrail.Options)) (*cloudtrail.GetTrailStatusOutput, error)
		StartLogging(context.Context, *cloudtrail.StartLoggingInput, ...func(*cloudtrail.Options)) (*cloudtrail.StartLoggingOutput, error)
	}
	orgAPI interface {
		DescribeAccount(context.Context, *organizations.DescribeAccountInput, ...func(*organizations.Options)) (*organizations.DescribeAccountOutput, error)
		ListTagsForResource(context.Context, *organizations.ListTagsForResourceInput, ...func(*organizations.Options)) (*organizations.ListTagsForResourceOutput, error)
		ListAccounts(context.Context, *organizations.ListAccountsInput, ...func(*organizations.Options)) (*organizations.ListAccountsOutput, error)
	}
	stsAPI interface {
		GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
		AssumeRole(context.Context, *sts.AssumeRoleInput, ...func(*sts.Options)) (*sts.AssumeRoleOutput, error)
	}
)

// clientSet hands out the service clients of one account, all signed with
// that account's credentials.
type clientSet interface {
	IAM() iamAPI
	S3(region string) s3API
	EC2(region string) ec2API
	CloudTrail(region string) cloudtrailAPI
}

// sdkClients builds real SDK clients from one account's aws.Config. app
// names the ticket the calls are made for in their user agent.
type sdkClients struct {
	cfg       aws.Config
	pathStyle bool
	app       string
}

func (c sdkClients) IAM() iamAPI {
	return iam.NewFromConfig(c.cfg, func(o *iam.Options) { o.AppID = c.app })
}

func (c sdkClients) S3(region string) s3API {
	return s3.NewFromConfig(c.cfg, func(o *s3.Options) {
		o.Region = region
		o.UsePathStyle = c.pathStyle
		o.AppID = c.app
	})
}

func (c sdkClients) EC2(region string) ec2API {
	return ec2.NewFromConfig(c.cfg, func(o *ec2.Options) { o.Region, o.AppID = region, c.app })
}

func (c sdkClients) CloudTrail(region string) cloudtrailAPI {
	return cloudtrail.NewFromConfig(c.cfg, func(o *cloudtrail.Options) { o.Region, o.AppID = region, c.app })
}

// roleSession is the STS role session name patrol assumes its role in an
// account with. One session per account is reused by every ticket's
// actions, read-backs and enrichment until it nears its expiry: a burst of
// tickets costs one AssumeRole, not one each.
const roleSession = "patrol-respond"

// appID names a ticket in the user agent of the calls made for it
// ("app/patrol-SEC-123"): CloudTrail in the affected account records it
// with each call, so every change is attributed to the ticket that asked
// for it although the role session is shared. Characters STS session
// names would not allow become "-"; it is at most 50 characters.
func appID(ticket string) string {
	name := "patrol"
	if ticket != "" {
		name += "-" + ticket
	}
	b := []byte(name)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_+=,.@-", c) >= 0
		if !ok {
			b[i] = '-'
		}
	}
	if len(b) > 50 {
		b = b[:50]
	}
	return string(b)
}

// roleFor returns the role patrol assumes in account, or "" when it uses
// the ambient credentials. A fixed role_arn (no "{account}") that lives in
// another account is refused: acting through it would change the wrong
// account's resource of the same name.
func (p *Provider) roleFor(account string) (string, error) {
	if p.cfg.RoleARN == "" {
		return "", nil
	}
	role := strings.ReplaceAll(p.cfg.RoleARN, "{account}", account)
	a, err := arn.Parse(role)
	if err != nil {
		return "", fmt.Errorf("role_arn %s: %w", role, err)
	}
	if a.AccountID != account {
		return "", fmt.Errorf("role_arn %s is in account %s, not the affected account %s", role, a.AccountID, account)
	}
	return role, nil
}

// connectSDK returns clients for account, signed by the account's role
// session (credentials fetched up front, so that an AssumeRole refusal is
// reported as such, not as a failure of the first service call), naming
// ticket in their user agent.
func (p *Provider) connectSDK(ctx context.Context, account, ticket string) (clientSet, error) {
	creds, err := p.credentialsFor(ctx, account)
	if err != nil {
		return nil, err
	}
	cfg := p.base.Copy()
	cfg.Credentials = creds
	return sdkClients{cfg: cfg, pathStyle: p.cfg.EndpointURL != "", app: appID(ticket)}, nil
}

// credentialsFor returns credentials that act in account.
func (p *Provider) credentialsFor(ctx context.Context, account string) (aws.CredentialsProvider, error) {
	if !p.InAccounts(account) {
		return nil, outside(account)
	}
	role, err := p.roleFor(account)
	if err != nil {
		return nil, err
	}
	if role == "" {
		got, err := p.callerAccount(ctx)
		if err != nil {
			return nil, err
		}
		if got != account {
			return nil, fmt.Errorf("ambient credentials act in account %s, not the affected account %s (set aws.role_arn to reach other accounts)", got, account)
		}
		return p.base.Credentials, nil
	}
	creds := p.assumed(role)
	if _, err := creds.Retrieve(ctx); err != nil {
		return nil, awsError("sts:AssumeRole "+role, err)
	}
	return creds, nil
}

// assumed returns the cached credentials of the role session of one role
// (one per account). They are reused until shortly before they expire
// (aws.CredentialsCache refreshes them then), and forgotten once unused
// for a session's length, so a daemon keeps no entry for an account it no
// longer acts in.
func (p *Provider) assumed(role string) *aws.CredentialsCache {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	for k, s := range p.sessions {
		if now.Sub(s.used) > p.cfg.SessionDuration {
			delete(p.sessions, k)
		}
	}
	key := role
	s, ok := p.sessions[key]
	if !ok {
		prov := stscreds.NewAssumeRoleProvider(p.sts, role, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = roleSession
			o.Duration = p.cfg.SessionDuration
			if p.externalID != "" {
				o.ExternalID = aws.String(p.externalID)
			}
		})
		window := max(time.Minute, p.cfg.SessionDuration/10)
		s = &cachedSession{creds: aws.NewCredentialsCache(prov, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = window })}
		p.sessions[key] = s
		p.log.Debug("aws role session", "role", role, "session", roleSession)
	}
	s.used = now
	return s.creds
}

type cachedSession struct {
	creds *aws.CredentialsCache
	used  time.Time
}

// callerAccount is the account of the ambient credentials, asked once.
func (p *Provider) callerAccount(ctx context.Context) (string, error) {
	p.mu.Lock()
	acct := p.ambientAccount
	p.mu.Unlock()
	if acct != "" {
		return acct, nil
	}
	out, err := p.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", awsError("sts:GetCallerIdentity", err)
	}
	acct = aws.ToString(out.Account)
	p.mu.Lock()
	p.ambientAccount = acct
	p.mu.Unlock()
	return acct, nil
}

// orgClient returns the Organizations client: through organizations_role_arn
// when set, else with the ambient credentials.
func (p *Provider) orgClient(ctx context.Context) (orgAPI, error) {
	cfg := p.base.Copy()
	if role := p.cfg.OrganizationsRoleARN; role != "" {
		creds := p.assumed(role)
		if _, err := creds.Retrieve(ctx); err != nil {
			return nil, awsError("sts:AssumeRole "+role, err)
		}
		cfg.Credentials = creds
	}
	return organizations.NewFromConfig(cfg), nil
}

// partition is the ARN partition of the configured region.
func (p *Provider) partition() string {
	switch {
	case strings.HasPrefix(p.cfg.Region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(p.cfg.Region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}
