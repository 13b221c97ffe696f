package aws

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/patrolsec/patrol/poller"
)

// startLogging is cloudtrail.start_logging: turn a stopped trail back on.
//
// It has no Revert on purpose. The undo would be StopLogging, which is the
// very event the detection fires on; patrol never blinds an account's audit
// log. A person who truly wants the trail off stops it by hand, and is seen
// doing so.
type startLogging struct{ p *Provider }

type trailRequest struct {
	account, region, arn string
	// name is what the calls send: trail names are unique within an
	// account and region, and the calls run in the trail's own account and
	// home region, so the name is as exact as the ARN and every
	// CloudTrail-compatible endpoint accepts it.
	name string
}

type trailSnapshot struct {
	snapshotHeader
	TrailARN   string `json:"trail_arn"`
	WasLogging bool   `json:"was_logging"`
}

func (a startLogging) parse(in map[string]string) (trailRequest, planned, error) {
	var r trailRequest
	ps, err := readParams(in, "account", "region", "trail")
	if err != nil {
		return r, planned{}, err
	}
	if r.account, err = ps.account(); err != nil {
		return r, planned{}, err
	}
	if r.region, err = ps.region(); err != nil {
		return r, planned{}, err
	}
	trail := ps["trail"]
	switch {
	case trail == "":
		return r, planned{}, fmt.Errorf("param trail is required")
	case strings.HasPrefix(trail, "arn:"):
		t, err := arn.Parse(trail)
		name, ok := strings.CutPrefix(t.Resource, "trail/")
		if err != nil || t.Service != "cloudtrail" || !ok || !trailNameRE.MatchString(name) || !regionRE.MatchString(t.Region) {
			return r, planned{}, fmt.Errorf("param trail: %q is not a trail name or ARN", trail)
		}
		if t.AccountID != r.account {
			return r, planned{}, fmt.Errorf("param trail: %s is in account %s, not %s", trail, t.AccountID, r.account)
		}
		// A trail is managed from its home region, which its ARN names;
		// the event's region may be another one for a multi-region trail.
		r.region, r.arn, r.name = t.Region, trail, name
	default:
		if !trailNameRE.MatchString(trail) {
			return r, planned{}, fmt.Errorf("param trail: %q is not a trail name or ARN", trail)
		}
		r.name = trail
		r.arn = fmt.Sprintf("arn:%s:cloudtrail:%s:%s:trail/%s", a.p.partition(), r.region, r.account, trail)
	}
	return r, planned{
		Target:  r.arn,
		Account: r.account,
		Region:  r.region,
		Params:  ps,
		Steps: []string{
			fmt.Sprintf("cloudtrail:GetTrailStatus Name=%s (account %s, region %s): snapshot IsLogging", r.name, r.account, r.region),
			fmt.Sprintf("cloudtrail:StartLogging Name=%s (skipped if already logging)", r.name),
			fmt.Sprintf("cloudtrail:GetTrailStatus Name=%s: verify IsLogging=true", r.name),
		},
	}, nil
}

// Plan implements poller.Action.
func (a startLogging) Plan(_ context.Context, req poller.ActionRequest) (poller.Plan, error) {
	return makePlan(a.p, ActionStartLogging, req, a.parse)
}

// Apply implements poller.Action.
func (a startLogging) Apply(ctx context.Context, pl poller.Plan) (poller.Outcome, error) {
	r, cs, err := prepare(ctx, a.p, ActionStartLogging, pl, a.parse)
	if err != nil {
		return poller.Outcome{}, err
	}
	ct := cs.CloudTrail(r.region)
	before, err := ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(r.name)})
	if err != nil {
		return poller.Outcome{}, awsError("cloudtrail:GetTrailStatus "+r.arn, err)
	}
	snap := trailSnapshot{snapshotHeader: a.p.header(pl), TrailARN: r.arn, WasLogging: aws.ToBool(before.IsLogging)}
	out := poller.Outcome{Snapshot: encodeSnapshot(snap)}
	if snap.WasLogging {
		out.Detail = fmt.Sprintf("trail %s was already logging; nothing changed", r.arn)
	} else {
		if err := poller.Sending(ctx, out.Snapshot); err != nil {
			return out, err
		}
		if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String(r.name)}); err != nil {
			return out, awsError("cloudtrail:StartLogging "+r.arn, err)
		}
		out.Detail = fmt.Sprintf("started logging on trail %s", r.arn)
	}
	after, err := ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(r.name)})
	if err != nil {
		return out, fmt.Errorf("verify: %w", awsError("cloudtrail:GetTrailStatus "+r.arn, err))
	}
	if !aws.ToBool(after.IsLogging) {
		return out, fmt.Errorf("verify: trail %s is still not logging after StartLogging", r.arn)
	}
	out.Detail += "; verified: GetTrailStatus reports IsLogging=true"
	out.Verified = true
	return out, nil
}
