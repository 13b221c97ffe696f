package aws

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/patrolsec/patrol/poller"
)

// revokeSessions is iam.revoke_role_sessions (kind "role") and
// iam.revoke_user_sessions (kind "user"): deny the principal's sessions
// issued before the moment of Apply, with AWS's documented inline policy
// (Deny * when aws:TokenIssueTime is earlier). For a role that ends its
// assumed-role sessions; for a user, its console sessions and the sessions
// it got from GetSessionToken or GetFederationToken. New sessions keep
// working, and so do a user's access keys (requests signed with a
// long-term key carry no token issue time): disable a leaked key with
// iam.disable_access_key. Reversible: Revert restores the principal's
// previous policy of that name or deletes patrol's, which makes the revoked
// sessions valid again if they have not yet expired, so revert only once the
// credentials are known to be safe.
type revokeSessions struct {
	p    *Provider
	kind string // "role" or "user"
}

// revokeSessionsAction names the action of each kind.
var revokeSessionsAction = map[string]string{"role": ActionRevokeSessions, "user": ActionRevokeUserSessions}

// reservedRole says why a role cannot carry patrol's policy, or "": IAM
// Identity Center's roles and service-linked roles are owned by AWS, and
// IAM refuses any change to them (UnmodifiableEntity).
func reservedRole(name string) string {
	switch {
	case strings.HasPrefix(name, "AWSReservedSSO_"):
		return "it is an IAM Identity Center role, which IAM refuses to change: revoke the person's sessions in IAM Identity Center (Users, then Active sessions), and deny older sessions in the permission set if needed"
	case strings.HasPrefix(name, "AWSServiceRoleFor"):
		return "it is a service-linked role, which IAM refuses to change"
	}
	return ""
}

func (a revokeSessions) parse(in map[string]string) (policyRequest, planned, error) {
	var r policyRequest
	ps, err := readParams(in, "account", a.kind)
	if err != nil {
		return r, planned{}, err
	}
	if r.account, err = ps.account(); err != nil {
		return r, planned{}, err
	}
	name, err := ps.need(a.kind, iamNameRE, "an IAM "+a.kind+" name")
	if err != nil {
		return r, planned{}, err
	}
	arn := a.p.userARN(r.account, name)
	if a.kind == "role" {
		if why := reservedRole(name); why != "" {
			return r, planned{}, fmt.Errorf("role %s cannot be changed: %s", name, why)
		}
		arn = a.p.roleARN(r.account, name)
	}
	r.pr = principalRef{kind: a.kind, name: name}
	return r, planned{
		Target: arn, Principal: arn, Account: r.account, Params: ps,
		// The cutoff is taken when the action runs, not when it was
		// planned, so sessions opened while a person approved are revoked too.
		Steps: policySteps(r.pr, a.policy(), revokeSessionsDocumentAt("<time of apply, UTC, rounded up to the second>")),
	}, nil
}

// policy is the inline policy's name: the one the IAM console's "Revoke
// active sessions" writes on roles (so a person recognises it, and a later
// console revocation replaces it), and patrol's own on users, which the
// console has no such button for.
func (a revokeSessions) policy() string {
	if a.kind == "user" {
		return revokeUserSessionsPolicy
	}
	return revokeSessionsPolicy
}

// Plan implements poller.Action.
func (a revokeSessions) Plan(_ context.Context, req poller.ActionRequest) (poller.Plan, error) {
	return makePlan(a.p, revokeSessionsAction[a.kind], req, a.parse)
}

// Apply implements poller.Action.
func (a revokeSessions) Apply(ctx context.Context, pl poller.Plan) (poller.Outcome, error) {
	r, cs, err := prepare(ctx, a.p, revokeSessionsAction[a.kind], pl, a.parse)
	if err != nil {
		return poller.Outcome{}, err
	}
	cutoff := revokeCutoff(a.p.now())
	out, err := applyPolicy(ctx, a.p, pl, cs.IAM(), r, a.policy(), revokeSessionsDocument(cutoff))
	out.Detail = fmt.Sprintf("%s %s: sessions issued before %s denied; %s", a.kind, r.pr.name, cutoff.Format(time.RFC3339), out.Detail)
	return out, err
}

// Revert implements poller.Reverter.
func (a revokeSessions) Revert(ctx context.Context, pl poller.Plan, snapshot string) (poller.Outcome, error) {
	return revertPolicy(ctx, a.p, revokeSessionsAction[a.kind], pl, snapshot, a.parse, a.policy())
}

// quarantinePrincipal is iam.quarantine_principal: attach an inline
// deny-everything policy to a user or a role. Reversible: Revert deletes it
// (or restores a previous policy of the same name).
type quarantinePrincipal struct{ p *Provider }

// policyRequest is an inline policy change on one principal.
type policyRequest struct {
	account string
	pr      principalRef
}

type policySnapshot struct {
	snapshotHeader
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Policy string `json:"policy"`
	// Existed and Document are the inline policy of that name before the
	// change; Applied is the document patrol wrote.
	Existed  bool   `json:"existed"`
	Document string `json:"document,omitempty"`
	Applied  string `json:"applied,omitempty"`
}

func (a quarantinePrincipal) parse(in map[string]string) (policyRequest, planned, error) {
	var r policyRequest
	ps, err := readParams(in, "account", "user", "role")
	if err != nil {
		return r, planned{}, err
	}
	if r.account, err = ps.account(); err != nil {
		return r, planned{}, err
	}
	var arn string
	switch {
	case ps["user"] != "" && ps["role"] != "":
		return r, planned{}, fmt.Errorf("params user and role are both set; quarantine one principal at a time")
	case ps["user"] != "":
		name, err := ps.need("user", iamNameRE, "an IAM user name")
		if err != nil {
			return r, planned{}, err
		}
		r.pr, arn = principalRef{kind: "user", name: name}, a.p.userARN(r.account, name)
	case ps["role"] != "":
		name, err := ps.need("role", iamNameRE, "an IAM role name")
		if err != nil {
			return r, planned{}, err
		}
		r.pr, arn = principalRef{kind: "role", name: name}, a.p.roleARN(r.account, name)
	default:
		return r, planned{}, fmt.Errorf("param user or role is required")
	}
	return r, planned{
		Target: arn, Principal: arn, Account: r.account, Params: ps,
		Steps: policySteps(r.pr, quarantinePolicy, quarantineDocument),
	}, nil
}

// Plan implements poller.Action.
func (a quarantinePrincipal) Plan(_ context.Context, req poller.ActionRequest) (poller.Plan, error) {
	return makePlan(a.p, ActionQuarantine, req, a.parse)
}

// Apply implements poller.Action.
func (a quarantinePrincipal) Apply(ctx context.Context, pl poller.Plan) (poller.Outcome, error) {
	r, cs, err := prepare(ctx, a.p, ActionQuarantine, pl, a.parse)
	if err != nil {
		return poller.Outcome{}, err
	}
	out, err := applyPolicy(ctx, a.p, pl, cs.IAM(), r, quarantinePolicy, quarantineDocument)
	out.Detail = fmt.Sprintf("%s %s quarantined (deny-all inline policy %s); %s", r.pr.kind, r.pr.name, quarantinePolicy, out.Detail)
	return out, err
}

// Revert implements poller.Reverter.
func (a quarantinePrincipal) Revert(ctx context.Context, pl poller.Plan, snapshot string) (poller.Outcome, error) {
	return revertPolicy(ctx, a.p, ActionQuarantine, pl, snapshot, a.parse, quarantinePolicy)
}

// policySteps are the calls of an inline policy change, for the plan.
func policySteps(pr principalRef, policy, doc string) []string {
	kind, key := "User", "UserName"
	if pr.kind == "role" {
		kind, key = "Role", "RoleName"
	}
	return []string{
		fmt.Sprintf("iam:List%sPolicies %s=%s: snapshot whether %s exists", kind, key, pr.name, policy),
		fmt.Sprintf("iam:Get%sPolicy %s=%s PolicyName=%s: snapshot its document, if it exists", kind, key, pr.name, policy),
		fmt.Sprintf("iam:Put%sPolicy %s=%s PolicyName=%s PolicyDocument=%s", kind, key, pr.name, policy, doc),
		fmt.Sprintf("iam:Get%sPolicy %s=%s PolicyName=%s: verify the document", kind, key, pr.name, policy),
	}
}

// applyPolicy snapshots the principal's inline policy named policy, writes
// doc under that name and reads it back.
func applyPolicy(ctx context.Context, p *Provider, pl poller.Plan, c iamAPI, r policyRequest, policy, doc string) (poller.Outcome, error) {
	prior, existed, err := readPolicy(ctx, c, r.pr, policy)
	if err != nil {
		return poller.Outcome{}, err
	}
	snap := policySnapshot{snapshotHeader: p.header(pl), Kind: r.pr.kind, Name: r.pr.name, Policy: policy,
		Existed: existed, Document: prior, Applied: doc}
	out := poller.Outcome{Snapshot: encodeSnapshot(snap)}
	if existed && samePolicy(prior, doc) {
		out.Detail = "the policy was already in place; nothing changed"
	} else {
		if err := poller.Sending(ctx, out.Snapshot); err != nil {
			return out, err
		}
		if err := putPolicy(ctx, c, r.pr, policy, doc); err != nil {
			return out, err
		}
		out.Detail = "inline policy " + policy + " written"
		if existed {
			out.Detail += " (replacing a previous one, kept in the snapshot)"
		}
	}
	got, ok, err := readPolicy(ctx, c, r.pr, policy)
	if err != nil {
		return out, fmt.Errorf("verify: %w", err)
	}
	if !ok || !samePolicy(got, doc) {
		return out, fmt.Errorf("verify: %s %s does not carry the policy %s that was written", r.pr.kind, r.pr.name, policy)
	}
	out.Detail += fmt.Sprintf("; verified: Get%sPolicy returns it", title(r.pr.kind))
	out.Verified = true
	return out, nil
}

// revertPolicy puts back the inline policy a snapshot recorded, or deletes
// patrol's. It refuses when the policy has changed since patrol wrote it: a
// person may have revoked sessions again from the console, and a revert
// must not undo their decision.
func revertPolicy(ctx context.Context, p *Provider, name string, pl poller.Plan, snapshot string, parse parser[policyRequest], policy string) (poller.Outcome, error) {
	var snap policySnapshot
	if err := decodeSnapshot(snapshot, pl, &snap); err != nil {
		return poller.Outcome{}, unchanged(fmt.Errorf("revert %s: %w", name, err))
	}
	r, cs, err := prepareRevert(ctx, p, name, pl, parse)
	if err != nil {
		return poller.Outcome{}, err
	}
	if snap.Kind != r.pr.kind || snap.Name != r.pr.name || snap.Policy != policy {
		return poller.Outcome{}, unchanged(fmt.Errorf("revert %s: snapshot is of %s %s policy %s", name, snap.Kind, snap.Name, snap.Policy))
	}
	c := cs.IAM()
	cur, existed, err := readPolicy(ctx, c, r.pr, policy)
	if err != nil {
		return poller.Outcome{}, unchanged(err)
	}
	out := poller.Outcome{Snapshot: encodeSnapshot(policySnapshot{snapshotHeader: p.header(pl), Kind: r.pr.kind, Name: r.pr.name, Policy: policy, Existed: existed, Document: cur})}
	restored := existed == snap.Existed && (!existed || samePolicy(cur, snap.Document))
	switch {
	case restored:
		out.Detail = "already as before; nothing changed"
	case !existed || !samePolicy(cur, snap.Applied):
		return out, unchanged(fmt.Errorf("revert %s: %s %s's policy %s changed after patrol wrote it; not reverting over that change", name, r.pr.kind, r.pr.name, policy))
	case snap.Existed:
		if err := putPolicy(ctx, c, r.pr, policy, snap.Document); err != nil {
			return out, err
		}
		out.Detail = "previous policy " + policy + " restored"
	default:
		if err := deletePolicy(ctx, c, r.pr, policy); err != nil {
			return out, err
		}
		out.Detail = "policy " + policy + " deleted"
	}
	got, ok, err := readPolicy(ctx, c, r.pr, policy)
	if err != nil {
		return out, fmt.Errorf("verify: %w", err)
	}
	if ok != snap.Existed || (ok && !samePolicy(got, snap.Document)) {
		return out, fmt.Errorf("verify: %s %s policy %s is not back to its snapshot", r.pr.kind, r.pr.name, policy)
	}
	out.Detail = fmt.Sprintf("%s %s: %s; verified", r.pr.kind, r.pr.name, out.Detail)
	out.Verified = true
	return out, nil
}

func title(kind string) string {
	if kind == "" {
		return ""
	}
	return strings.ToUpper(kind[:1]) + kind[1:]
}
