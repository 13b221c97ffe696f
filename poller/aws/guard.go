package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/patrolsec/patrol/poller"
)

// ResolvePath returns the ARN of an IAM user or role with its IAM path,
// read from IAM in the principal's account through the account's role
// session. It is the respond job's poller.PathResolver: actions name
// principals without their path, and a protected pattern written with one
// must know it.
func (p *Provider) ResolvePath(ctx context.Context, arn string) (string, error) {
	pr, ok := poller.ParsePrincipal(arn, false)
	if !ok {
		return "", fmt.Errorf("%s is not an IAM user or role", arn)
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.EnrichTimeout)
	defer cancel()
	cs, err := p.connect(ctx, pr.Account, "")
	if err != nil {
		return "", err
	}
	return principalARN(ctx, cs.IAM(), pr)
}

// principalARN asks IAM for a user's or role's ARN, which carries its path.
func principalARN(ctx context.Context, c iamAPI, pr poller.Principal) (string, error) {
	if pr.Kind == "user" {
		out, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(pr.Name)})
		if err != nil {
			return "", awsError("iam:GetUser "+pr.Name, err)
		}
		return aws.ToString(out.User.Arn), nil
	}
	out, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(pr.Name)})
	if err != nil {
		return "", awsError("iam:GetRole "+pr.Name, err)
	}
	return aws.ToString(out.Role.Arn), nil
}

// protected checks a plan's principal against protected_principals, with
// c reading its IAM path when a pattern with a path needs it (c nil: the
// path is not read, and such a pattern protects the name).
func (p *Provider) protected(ctx context.Context, c iamAPI, principal string) error {
	if principal == "" {
		return nil
	}
	var resolve poller.PathResolver
	if c != nil {
		resolve = func(ctx context.Context, arn string) (string, error) {
			pr, _ := poller.ParsePrincipal(arn, false)
			return principalARN(ctx, c, pr)
		}
	}
	m, ok := poller.ProtectedBy(ctx, p.cfg.ProtectedPrincipals, principal, false, resolve)
	if !ok || (c == nil && m.PathErr != nil) {
		return nil
	}
	return fmt.Errorf("%s is protected: %s", principal, m)
}
