package aws

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Probe asks STS who the ambient credentials are (GetCallerIdentity, which
// needs no permission), with one attempt: a quick answer to "does patrol
// have AWS credentials, and can it reach AWS?" before any job runs. It
// returns the caller's ARN.
func (p *Provider) Probe(ctx context.Context) (string, error) {
	out, err := p.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}, func(o *sts.Options) { o.RetryMaxAttempts = 1 })
	if err != nil {
		return "", awsError("sts:GetCallerIdentity", err)
	}
	return aws.ToString(out.Arn), nil
}

// STSURL is the STS endpoint the ambient credentials are checked against.
func (p *Provider) STSURL() string {
	if p.cfg.EndpointURL != "" {
		return p.cfg.EndpointURL
	}
	return "https://sts." + p.cfg.Region + ".amazonaws.com"
}
