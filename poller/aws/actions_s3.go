package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/patrolsec/patrol/poller"
)

// blockPublicAccess is s3.block_public_access: turn on all four of a
// bucket's public access block settings. Reversible: Revert puts back the
// previous configuration, or deletes it if the bucket had none.
type blockPublicAccess struct{ p *Provider }

type bucketRequest struct {
	account, bucket string
}

// pabConfig is a public access block configuration in a snapshot.
type pabConfig struct {
	BlockPublicAcls       bool `json:"block_public_acls"`
	IgnorePublicAcls      bool `json:"ignore_public_acls"`
	BlockPublicPolicy     bool `json:"block_public_policy"`
	RestrictPublicBuckets bool `json:"restrict_public_buckets"`
}

var pabAllOn = pabConfig{true, true, true, true}

type bucketSnapshot struct {
	snapshotHeader
	Bucket string `json:"bucket"`
	Region string `json:"region"`
	// Config is the bucket's configuration before the change; nil when it
	// had none (then a revert deletes ours rather than writing all-false).
	Config *pabConfig `json:"config"`
}

func (a blockPublicAccess) parse(in map[string]string) (bucketRequest, planned, error) {
	var r bucketRequest
	ps, err := readParams(in, "account", "bucket")
	if err != nil {
		return r, planned{}, err
	}
	if r.account, err = ps.account(); err != nil {
		return r, planned{}, err
	}
	if r.bucket, err = ps.need("bucket", bucketRE, "an S3 bucket name"); err != nil {
		return r, planned{}, err
	}
	own := fmt.Sprintf("Bucket=%s ExpectedBucketOwner=%s", r.bucket, r.account)
	return r, planned{
		Target:  fmt.Sprintf("arn:%s:s3:::%s", a.p.partition(), r.bucket),
		Account: r.account,
		Params:  ps,
		Steps: []string{
			"s3:GetBucketLocation " + own + ": find the bucket's region; S3 refuses if another account owns it",
			"s3:GetPublicAccessBlock " + own + ": snapshot the configuration, or its absence",
			"s3:PutPublicAccessBlock " + own + " BlockPublicAcls=true IgnorePublicAcls=true BlockPublicPolicy=true RestrictPublicBuckets=true (skipped if all four are on)",
			"s3:GetPublicAccessBlock " + own + ": verify all four are true",
		},
	}, nil
}

// Plan implements poller.Action.
func (a blockPublicAccess) Plan(_ context.Context, req poller.ActionRequest) (poller.Plan, error) {
	return makePlan(a.p, ActionBlockPublicAccess, req, a.parse)
}

// Apply implements poller.Action.
func (a blockPublicAccess) Apply(ctx context.Context, pl poller.Plan) (poller.Outcome, error) {
	r, cs, err := prepare(ctx, a.p, ActionBlockPublicAccess, pl, a.parse)
	if err != nil {
		return poller.Outcome{}, err
	}
	region, err := bucketRegion(ctx, cs.S3(a.p.cfg.Region), r)
	if err != nil {
		return poller.Outcome{}, err
	}
	c := cs.S3(region)
	before, err := getPAB(ctx, c, r)
	if err != nil {
		return poller.Outcome{}, err
	}
	snap := bucketSnapshot{snapshotHeader: a.p.header(pl), Bucket: r.bucket, Region: region, Config: before}
	out := poller.Outcome{Snapshot: encodeSnapshot(snap)}
	if before != nil && *before == pabAllOn {
		out.Detail = fmt.Sprintf("bucket %s already blocks public access; nothing changed", r.bucket)
	} else {
		if err := poller.Sending(ctx, out.Snapshot); err != nil {
			return out, err
		}
		if err := putPAB(ctx, c, r, pabAllOn); err != nil {
			return out, err
		}
		out.Detail = fmt.Sprintf("bucket %s: public access block set (all four on)", r.bucket)
	}
	return verifyPAB(ctx, c, r, &pabAllOn, out)
}

// Revert implements poller.Reverter. It refuses when the configuration is
// no longer the one patrol set.
func (a blockPublicAccess) Revert(ctx context.Context, pl poller.Plan, snapshot string) (poller.Outcome, error) {
	var snap bucketSnapshot
	if err := decodeSnapshot(snapshot, pl, &snap); err != nil {
		return poller.Outcome{}, unchanged(fmt.Errorf("revert %s: %w", ActionBlockPublicAccess, err))
	}
	r, cs, err := prepareRevert(ctx, a.p, ActionBlockPublicAccess, pl, a.parse)
	if err != nil {
		return poller.Outcome{}, err
	}
	if snap.Bucket != r.bucket || !regionRE.MatchString(snap.Region) {
		return poller.Outcome{}, unchanged(fmt.Errorf("revert %s: snapshot is of bucket %s in %q, not %s", ActionBlockPublicAccess, snap.Bucket, snap.Region, r.bucket))
	}
	c := cs.S3(snap.Region)
	now, err := getPAB(ctx, c, r)
	if err != nil {
		return poller.Outcome{}, unchanged(err)
	}
	out := poller.Outcome{Snapshot: encodeSnapshot(bucketSnapshot{snapshotHeader: a.p.header(pl), Bucket: r.bucket, Region: snap.Region, Config: now})}
	switch {
	case (now == nil && snap.Config == nil) || (now != nil && snap.Config != nil && *now == *snap.Config):
		out.Detail = fmt.Sprintf("bucket %s: public access block already as before; nothing changed", r.bucket)
		return verifyPAB(ctx, c, r, snap.Config, out)
	case now == nil || *now != pabAllOn:
		// Someone changed the block after patrol set it; putting back the
		// old one would undo their decision, perhaps re-exposing the bucket.
		return out, unchanged(fmt.Errorf("revert %s: bucket %s's public access block changed after patrol set it; not reverting over that change", ActionBlockPublicAccess, r.bucket))
	case snap.Config == nil:
		_, err := c.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: aws.String(r.bucket), ExpectedBucketOwner: aws.String(r.account)})
		if err != nil {
			return out, awsError("s3:DeletePublicAccessBlock "+r.bucket, err)
		}
		out.Detail = fmt.Sprintf("bucket %s: public access block removed, as before", r.bucket)
	default:
		if err := putPAB(ctx, c, r, *snap.Config); err != nil {
			return out, err
		}
		out.Detail = fmt.Sprintf("bucket %s: previous public access block restored", r.bucket)
	}
	return verifyPAB(ctx, c, r, snap.Config, out)
}

// bucketRegion finds where the bucket lives: S3 only accepts a bucket's
// configuration calls in its own region. ExpectedBucketOwner makes S3 refuse
// (403) when the name belongs to another account: bucket names are global,
// and the same name in the wrong account is the wrong thing.
func bucketRegion(ctx context.Context, c s3API, r bucketRequest) (string, error) {
	out, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(r.bucket), ExpectedBucketOwner: aws.String(r.account)})
	if err != nil {
		return "", awsError("s3:GetBucketLocation "+r.bucket, err)
	}
	switch loc := string(out.LocationConstraint); loc {
	case "":
		return "us-east-1", nil
	case "EU":
		return "eu-west-1", nil
	default:
		return loc, nil
	}
}

// getPAB returns the bucket's configuration, nil when it has none.
func getPAB(ctx context.Context, c s3API, r bucketRequest) (*pabConfig, error) {
	out, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String(r.bucket), ExpectedBucketOwner: aws.String(r.account)})
	if errorCode(err) == "NoSuchPublicAccessBlockConfiguration" {
		return nil, nil
	}
	if err != nil {
		return nil, awsError("s3:GetPublicAccessBlock "+r.bucket, err)
	}
	got := out.PublicAccessBlockConfiguration
	if got == nil {
		return nil, nil
	}
	return &pabConfig{
		BlockPublicAcls:       aws.ToBool(got.BlockPublicAcls),
		IgnorePublicAcls:      aws.ToBool(got.IgnorePublicAcls),
		BlockPublicPolicy:     aws.ToBool(got.BlockPublicPolicy),
		RestrictPublicBuckets: aws.ToBool(got.RestrictPublicBuckets),
	}, nil
}

func putPAB(ctx context.Context, c s3API, r bucketRequest, cfg pabConfig) error {
	_, err := c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{
		Bucket:              aws.String(r.bucket),
		ExpectedBucketOwner: aws.String(r.account),
		PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
			BlockPublicAcls:       aws.Bool(cfg.BlockPublicAcls),
			IgnorePublicAcls:      aws.Bool(cfg.IgnorePublicAcls),
			BlockPublicPolicy:     aws.Bool(cfg.BlockPublicPolicy),
			RestrictPublicBuckets: aws.Bool(cfg.RestrictPublicBuckets),
		},
	})
	return awsError("s3:PutPublicAccessBlock "+r.bucket, err)
}

// verifyPAB reads the configuration back; want nil means "none".
func verifyPAB(ctx context.Context, c s3API, r bucketRequest, want *pabConfig, out poller.Outcome) (poller.Outcome, error) {
	got, err := getPAB(ctx, c, r)
	if err != nil {
		return out, fmt.Errorf("verify: %w", err)
	}
	switch {
	case want == nil && got != nil:
		return out, fmt.Errorf("verify: bucket %s still has a public access block %+v", r.bucket, *got)
	case want != nil && (got == nil || *got != *want):
		return out, fmt.Errorf("verify: bucket %s public access block is %+v, want %+v", r.bucket, got, *want)
	}
	if want == nil {
		out.Detail += "; verified: GetPublicAccessBlock reports none"
	} else {
		out.Detail += fmt.Sprintf("; verified: GetPublicAccessBlock reports %+v", *got)
	}
	out.Verified = true
	return out, nil
}
