package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/patrolsec/patrol/poller"
)

// Every action is a poller.Checker: it reads its target back and says
// whether its change is in place, changing nothing. The respond job uses
// it to settle an attempt whose outcome is unknown (patrol stopped while
// the action ran) without running the action again.
var (
	_ poller.Checker = startLogging{}
	_ poller.Checker = disableAccessKey{}
	_ poller.Checker = blockPublicAccess{}
	_ poller.Checker = revokeOpenIngress{}
	_ poller.Checker = revokeSessions{}
	_ poller.Checker = quarantinePrincipal{}
)

// Every action marks its sends (poller.SendMarker): Apply calls
// poller.Sending, with its snapshot, right before the call that changes
// the target, so an attempt interrupted before it is known to have
// changed nothing.
var (
	_ poller.SendMarker = startLogging{}
	_ poller.SendMarker = disableAccessKey{}
	_ poller.SendMarker = blockPublicAccess{}
	_ poller.SendMarker = revokeOpenIngress{}
	_ poller.SendMarker = revokeSessions{}
	_ poller.SendMarker = quarantinePrincipal{}
)

// MarksSends implements poller.SendMarker.
func (startLogging) MarksSends() bool { return true }

// MarksSends implements poller.SendMarker.
func (disableAccessKey) MarksSends() bool { return true }

// MarksSends implements poller.SendMarker.
func (blockPublicAccess) MarksSends() bool { return true }

// MarksSends implements poller.SendMarker.
func (revokeOpenIngress) MarksSends() bool { return true }

// MarksSends implements poller.SendMarker.
func (revokeSessions) MarksSends() bool { return true }

// MarksSends implements poller.SendMarker.
func (quarantinePrincipal) MarksSends() bool { return true }

// prepareCheck is prepare for Check: the plan must still follow from its
// params, but dry run and the protected lists do not refuse a read.
func prepareCheck[T any](ctx context.Context, p *Provider, name string, pl poller.Plan, parse parser[T]) (T, clientSet, error) {
	var zero T
	if pl.Action != name {
		return zero, nil, fmt.Errorf("check %s: plan is for action %s", name, pl.Action)
	}
	req, err := replan(p, name, pl, parse)
	if err != nil {
		return zero, nil, err
	}
	cs, err := p.connect(ctx, pl.Account, pl.Params[ticketParam])
	if err != nil {
		return zero, nil, fmt.Errorf("check %s in %s: %w", name, pl.Account, err)
	}
	return req, cs, nil
}

// Check implements poller.Checker: is the trail logging?
func (a startLogging) Check(ctx context.Context, pl poller.Plan, _ time.Time) (poller.Outcome, error) {
	r, cs, err := prepareCheck(ctx, a.p, ActionStartLogging, pl, a.parse)
	if err != nil {
		return poller.Outcome{}, err
	}
	st, err := cs.CloudTrail(r.region).GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(r.name)})
	if err != nil {
		return poller.Outcome{}, awsError("cloudtrail:GetTrailStatus "+r.arn, err)
	}
	on := aws.ToBool(st.IsLogging)
	return poller.Outcome{Verified: on, Detail: fmt.Sprintf("GetTrailStatus reports IsLogging=%v for %s", on, r.arn)}, nil
}

// Check implements poller.Checker: is the key inactive?
func (a disableAccessKey) Check(ctx context.Context, pl poller.Plan, _ time.Time) (poller.Outcome, error) {
	r, cs, err := prepareCheck(ctx, a.p, ActionDisableAccessKey, pl, a.parse)
	if err != nil {
		return poller.Outcome{}, err
	}
	status, err := keyStatus(ctx, cs.IAM(), r)
	if err != nil {
		return poller.Outcome{}, err
	}
	return poller.Outcome{Verified: status == iamtypes.StatusTypeInactive,
		Detail: fmt.Sprintf("ListAccessKeys reports access key %s of %s %s", r.key, r.user, status)}, nil
}

// Check implements poller.Checker: are all four public access blocks on?
func (a blockPublicAccess) Check(ctx context.Context, pl poller.Plan, _ time.Time) (poller.Outcome, error) {
	r, cs, err := prepareCheck(ctx, a.p, ActionBlockPublicAccess, pl, a.parse)
	if err != nil {
		return poller.Outcome{}, err
	}
	region, err := bucketRegion(ctx, cs.S3(a.p.cfg.Region), r)
	if err != nil {
		return poller.Outcome{}, err
	}
	got, err := getPAB(ctx, cs.S3(region), r)
	if err != nil {
		return poller.Outcome{}, err
	}
	if got == nil {
		return poller.Outcome{Detail: fmt.Sprintf("GetPublicAccessBlock reports none on bucket %s", r.bucket)}, nil
	}
	return poller.Outcome{Verified: *got == pabAllOn, Detail: fmt.Sprintf("GetPublicAccessBlock reports %+v on bucket %s", *got, r.bucket)}, nil
}

// Check implements poller.Checker: is no inbound rule open to the world?
func (a revokeOpenIngress) Check(ctx context.Context, pl poller.Plan, _ time.Time) (poller.Outcome, error) {
	r, cs, err := prepareCheck(ctx, a.p, ActionRevokeOpenIngress, pl, a.parse)
	if err != nil {
		return poller.Outcome{}, err
	}
	rules, err := groupRules(ctx, cs.EC2(r.region), r)
	if err != nil {
		return poller.Outcome{}, err
	}
	for _, rule := range rules {
		if open, sr := worldOpen(rule); open {
			return poller.Outcome{Detail: fmt.Sprintf("security group %s still has rule %s", r.group, sr)}, nil
		}
	}
	return poller.Outcome{Verified: true, Detail: fmt.Sprintf("DescribeSecurityGroupRules shows no world-open inbound rule in %s", r.group)}, nil
}

// Check implements poller.Checker: does the role (or user) deny sessions
// issued before the attempt started?
func (a revokeSessions) Check(ctx context.Context, pl poller.Plan, since time.Time) (poller.Outcome, error) {
	r, cs, err := prepareCheck(ctx, a.p, revokeSessionsAction[a.kind], pl, a.parse)
	if err != nil {
		return poller.Outcome{}, err
	}
	doc, ok, err := readPolicy(ctx, cs.IAM(), r.pr, a.policy())
	if err != nil {
		return poller.Outcome{}, err
	}
	if !ok {
		return poller.Outcome{Detail: fmt.Sprintf("%s %s has no %s policy", a.kind, r.pr.name, a.policy())}, nil
	}
	cutoff, ok := revokeCutoffOf(doc)
	if !ok {
		return poller.Outcome{Detail: fmt.Sprintf("%s %s's %s policy is not a session revocation", a.kind, r.pr.name, a.policy())}, nil
	}
	in := !cutoff.Before(since.UTC().Truncate(time.Second))
	return poller.Outcome{Verified: in, Detail: fmt.Sprintf("%s %s denies sessions issued before %s", a.kind, r.pr.name, cutoff.Format(time.RFC3339))}, nil
}

// revokeCutoffOf reads the cutoff out of a revoke-older-sessions document.
func revokeCutoffOf(doc string) (time.Time, bool) {
	var d struct {
		Statement []struct {
			Effect    string
			Condition map[string]map[string]string
		}
	}
	if json.Unmarshal([]byte(doc), &d) != nil || len(d.Statement) != 1 || d.Statement[0].Effect != "Deny" {
		return time.Time{}, false
	}
	at, err := time.Parse(time.RFC3339, d.Statement[0].Condition["DateLessThan"]["aws:TokenIssueTime"])
	if err != nil || !samePolicy(doc, revokeSessionsDocument(at)) {
		return time.Time{}, false
	}
	return at, true
}

// Check implements poller.Checker: does the principal carry the deny-all
// policy?
func (a quarantinePrincipal) Check(ctx context.Context, pl poller.Plan, _ time.Time) (poller.Outcome, error) {
	r, cs, err := prepareCheck(ctx, a.p, ActionQuarantine, pl, a.parse)
	if err != nil {
		return poller.Outcome{}, err
	}
	doc, ok, err := readPolicy(ctx, cs.IAM(), r.pr, quarantinePolicy)
	if err != nil {
		return poller.Outcome{}, err
	}
	in := ok && samePolicy(doc, quarantineDocument)
	return poller.Outcome{Verified: in, Detail: fmt.Sprintf("%s %s carries the deny-all policy %s: %v", r.pr.kind, r.pr.name, quarantinePolicy, in)}, nil
}
