package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/patrolsec/patrol/poller"
)

// disableAccessKey is iam.disable_access_key: set one user's access key to
// Inactive. Reversible: Revert sets it back to its prior status.
type disableAccessKey struct{ p *Provider }

type keyRequest struct {
	account, user, key string
}

type keySnapshot struct {
	snapshotHeader
	User   string `json:"user"`
	Key    string `json:"key"`
	Status string `json:"status"`
}

func (a disableAccessKey) parse(in map[string]string) (keyRequest, planned, error) {
	var r keyRequest
	ps, err := readParams(in, "account", "user", "key")
	if err != nil {
		return r, planned{}, err
	}
	if r.account, err = ps.account(); err != nil {
		return r, planned{}, err
	}
	if r.user, err = ps.need("user", iamNameRE, "an IAM user name"); err != nil {
		return r, planned{}, err
	}
	if r.key, err = ps.need("key", accessKeyRE, "a long-term access key id (AKIA...)"); err != nil {
		return r, planned{}, err
	}
	return r, planned{
		// Access key ids are unique across AWS and never reused.
		Target:    r.key,
		Principal: a.p.userARN(r.account, r.user),
		Account:   r.account,
		Params:    ps,
		Steps: []string{
			fmt.Sprintf("iam:ListAccessKeys UserName=%s: snapshot the status of %s (refuse if it is not %s's key)", r.user, r.key, r.user),
			fmt.Sprintf("iam:UpdateAccessKey UserName=%s AccessKeyId=%s Status=Inactive (skipped if already Inactive)", r.user, r.key),
			fmt.Sprintf("iam:ListAccessKeys UserName=%s: verify %s is Inactive", r.user, r.key),
		},
	}, nil
}

// Plan implements poller.Action.
func (a disableAccessKey) Plan(_ context.Context, req poller.ActionRequest) (poller.Plan, error) {
	return makePlan(a.p, ActionDisableAccessKey, req, a.parse)
}

// Apply implements poller.Action.
func (a disableAccessKey) Apply(ctx context.Context, pl poller.Plan) (poller.Outcome, error) {
	r, cs, err := prepare(ctx, a.p, ActionDisableAccessKey, pl, a.parse)
	if err != nil {
		return poller.Outcome{}, err
	}
	c := cs.IAM()
	status, err := keyStatus(ctx, c, r)
	if err != nil {
		return poller.Outcome{}, err
	}
	out := poller.Outcome{Snapshot: encodeSnapshot(keySnapshot{snapshotHeader: a.p.header(pl), User: r.user, Key: r.key, Status: string(status)})}
	return setKeyStatus(ctx, c, r, status, iamtypes.StatusTypeInactive, out)
}

// Revert implements poller.Reverter: the key gets back the status it had.
func (a disableAccessKey) Revert(ctx context.Context, pl poller.Plan, snapshot string) (poller.Outcome, error) {
	var snap keySnapshot
	if err := decodeSnapshot(snapshot, pl, &snap); err != nil {
		return poller.Outcome{}, unchanged(fmt.Errorf("revert %s: %w", ActionDisableAccessKey, err))
	}
	r, cs, err := prepareRevert(ctx, a.p, ActionDisableAccessKey, pl, a.parse)
	if err != nil {
		return poller.Outcome{}, err
	}
	if snap.User != r.user || snap.Key != r.key {
		return poller.Outcome{}, unchanged(fmt.Errorf("revert %s: snapshot is of %s/%s, not %s/%s", ActionDisableAccessKey, snap.User, snap.Key, r.user, r.key))
	}
	want := iamtypes.StatusType(snap.Status)
	if want != iamtypes.StatusTypeActive && want != iamtypes.StatusTypeInactive {
		return poller.Outcome{}, unchanged(fmt.Errorf("revert %s: snapshot status %q is not Active or Inactive", ActionDisableAccessKey, snap.Status))
	}
	c := cs.IAM()
	status, err := keyStatus(ctx, c, r)
	if err != nil {
		return poller.Outcome{}, unchanged(err)
	}
	out := poller.Outcome{Snapshot: encodeSnapshot(keySnapshot{snapshotHeader: a.p.header(pl), User: r.user, Key: r.key, Status: string(status)})}
	return setKeyStatus(ctx, c, r, status, want, out)
}

// keyStatus is the status of r.key, which must be one of r.user's keys: a
// key id copied from the wrong event must not disable someone else's key.
func keyStatus(ctx context.Context, c iamAPI, r keyRequest) (iamtypes.StatusType, error) {
	pages := iam.NewListAccessKeysPaginator(c, &iam.ListAccessKeysInput{UserName: aws.String(r.user)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return "", awsError("iam:ListAccessKeys "+r.user, err)
		}
		for _, k := range page.AccessKeyMetadata {
			if aws.ToString(k.AccessKeyId) == r.key {
				return k.Status, nil
			}
		}
	}
	return "", fmt.Errorf("access key %s is not one of user %s's keys in account %s", r.key, r.user, r.account)
}

// setKeyStatus moves the key from status to want (if it is not there yet)
// and reads it back.
func setKeyStatus(ctx context.Context, c iamAPI, r keyRequest, status, want iamtypes.StatusType, out poller.Outcome) (poller.Outcome, error) {
	if status == want {
		out.Detail = fmt.Sprintf("access key %s of %s was already %s; nothing changed", r.key, r.user, want)
	} else {
		if err := poller.Sending(ctx, out.Snapshot); err != nil {
			return out, err
		}
		_, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(r.user), AccessKeyId: aws.String(r.key), Status: want})
		if err != nil {
			return out, awsError("iam:UpdateAccessKey "+r.key, err)
		}
		out.Detail = fmt.Sprintf("access key %s of %s set %s (was %s)", r.key, r.user, want, status)
	}
	got, err := keyStatus(ctx, c, r)
	if err != nil {
		return out, fmt.Errorf("verify: %w", err)
	}
	if got != want {
		return out, fmt.Errorf("verify: access key %s is %s, want %s", r.key, got, want)
	}
	out.Detail += fmt.Sprintf("; verified: ListAccessKeys reports %s", got)
	out.Verified = true
	return out, nil
}
