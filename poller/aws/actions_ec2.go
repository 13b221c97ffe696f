package aws

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/patrolsec/patrol/poller"
)

// revokeOpenIngress is ec2.revoke_open_ingress: revoke a security group's
// inbound rules open to the whole internet (0.0.0.0/0 or ::/0), by rule id,
// and nothing else. Since each security group rule has one CIDR, a
// permission that listed 0.0.0.0/0 next to 10.0.0.0/8 loses only the former.
// Reversible: Revert authorizes the revoked rules again (they get new ids).
type revokeOpenIngress struct{ p *Provider }

type groupRequest struct {
	account, region, group string
}

// sgRule is one revoked rule in a snapshot: enough to authorize it again.
type sgRule struct {
	ID          string `json:"id"`
	Protocol    string `json:"protocol"`
	FromPort    int32  `json:"from_port"`
	ToPort      int32  `json:"to_port"`
	CidrIPv4    string `json:"cidr_ipv4,omitempty"`
	CidrIPv6    string `json:"cidr_ipv6,omitempty"`
	Description string `json:"description,omitempty"`
}

func (r sgRule) String() string {
	cidr := r.CidrIPv4 + r.CidrIPv6
	ports := fmt.Sprintf("%d-%d", r.FromPort, r.ToPort)
	if r.FromPort == r.ToPort {
		ports = fmt.Sprint(r.FromPort)
	}
	if r.Protocol == "-1" {
		return fmt.Sprintf("%s all traffic from %s", r.ID, cidr)
	}
	return fmt.Sprintf("%s %s %s from %s", r.ID, r.Protocol, ports, cidr)
}

// same reports whether o allows the same traffic (ids differ after a revert).
func (r sgRule) same(o sgRule) bool {
	return r.Protocol == o.Protocol && r.FromPort == o.FromPort && r.ToPort == o.ToPort &&
		r.CidrIPv4 == o.CidrIPv4 && r.CidrIPv6 == o.CidrIPv6
}

type groupSnapshot struct {
	snapshotHeader
	Group   string   `json:"group"`
	Region  string   `json:"region"`
	Revoked []sgRule `json:"revoked"`
	// Kept are the ids of every other rule, which must survive.
	Kept []string `json:"kept"`
}

func (a revokeOpenIngress) parse(in map[string]string) (groupRequest, planned, error) {
	var r groupRequest
	ps, err := readParams(in, "account", "region", "group")
	if err != nil {
		return r, planned{}, err
	}
	if r.account, err = ps.account(); err != nil {
		return r, planned{}, err
	}
	if r.region, err = ps.region(); err != nil {
		return r, planned{}, err
	}
	if r.group, err = ps.need("group", groupRE, "a security group id (sg-...)"); err != nil {
		return r, planned{}, err
	}
	return r, planned{
		Target:  fmt.Sprintf("arn:%s:ec2:%s:%s:security-group/%s", a.p.partition(), r.region, r.account, r.group),
		Account: r.account,
		Region:  r.region,
		Params:  ps,
		Steps: []string{
			fmt.Sprintf("ec2:DescribeSecurityGroups GroupIds=%s (region %s): the group must exist and belong to %s", r.group, r.region, r.account),
			fmt.Sprintf("ec2:DescribeSecurityGroupRules Filters=group-id=%s: snapshot every rule", r.group),
			fmt.Sprintf("ec2:RevokeSecurityGroupIngress GroupId=%s SecurityGroupRuleIds=<the inbound rules whose CIDR is 0.0.0.0/0 or ::/0, and no others> (skipped if there are none)", r.group),
			fmt.Sprintf("ec2:DescribeSecurityGroupRules Filters=group-id=%s: verify no inbound rule is open to the world and every other rule is still there", r.group),
		},
	}, nil
}

// Plan implements poller.Action.
func (a revokeOpenIngress) Plan(_ context.Context, req poller.ActionRequest) (poller.Plan, error) {
	return makePlan(a.p, ActionRevokeOpenIngress, req, a.parse)
}

// Apply implements poller.Action.
func (a revokeOpenIngress) Apply(ctx context.Context, pl poller.Plan) (poller.Outcome, error) {
	r, cs, err := prepare(ctx, a.p, ActionRevokeOpenIngress, pl, a.parse)
	if err != nil {
		return poller.Outcome{}, err
	}
	c := cs.EC2(r.region)
	rules, err := groupRules(ctx, c, r)
	if err != nil {
		return poller.Outcome{}, err
	}
	snap := groupSnapshot{snapshotHeader: a.p.header(pl), Group: r.group, Region: r.region}
	for _, rule := range rules {
		if open, sr := worldOpen(rule); open {
			snap.Revoked = append(snap.Revoked, sr)
		} else {
			snap.Kept = append(snap.Kept, aws.ToString(rule.SecurityGroupRuleId))
		}
	}
	out := poller.Outcome{Snapshot: encodeSnapshot(snap)}
	if len(snap.Revoked) == 0 {
		out.Detail = fmt.Sprintf("security group %s has no inbound rule open to the world; nothing changed", r.group)
	} else {
		ids := make([]string, len(snap.Revoked))
		desc := make([]string, len(snap.Revoked))
		for i, sr := range snap.Revoked {
			ids[i], desc[i] = sr.ID, sr.String()
		}
		if err := poller.Sending(ctx, out.Snapshot); err != nil {
			return out, err
		}
		res, err := c.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(r.group), SecurityGroupRuleIds: ids})
		if err != nil {
			return out, awsError("ec2:RevokeSecurityGroupIngress "+r.group, err)
		}
		if len(res.UnknownIpPermissions) > 0 {
			return out, fmt.Errorf("ec2:RevokeSecurityGroupIngress %s: %d rules were not found", r.group, len(res.UnknownIpPermissions))
		}
		out.Detail = fmt.Sprintf("security group %s: revoked %s", r.group, strings.Join(desc, "; "))
	}

	after, err := groupRules(ctx, c, r)
	if err != nil {
		return out, fmt.Errorf("verify: %w", err)
	}
	var present []string
	for _, rule := range after {
		if open, sr := worldOpen(rule); open {
			return out, fmt.Errorf("verify: security group %s still has rule %s", r.group, sr)
		}
		present = append(present, aws.ToString(rule.SecurityGroupRuleId))
	}
	for _, id := range snap.Kept {
		if !slices.Contains(present, id) {
			return out, fmt.Errorf("verify: rule %s of security group %s is gone; it should have been left alone", id, r.group)
		}
	}
	out.Detail += fmt.Sprintf("; verified: DescribeSecurityGroupRules shows no world-open inbound rule and all %d other rules", len(snap.Kept))
	out.Verified = true
	return out, nil
}

// Revert implements poller.Reverter: every revoked rule is authorized
// again, unless an identical rule already exists.
func (a revokeOpenIngress) Revert(ctx context.Context, pl poller.Plan, snapshot string) (poller.Outcome, error) {
	var snap groupSnapshot
	if err := decodeSnapshot(snapshot, pl, &snap); err != nil {
		return poller.Outcome{}, unchanged(fmt.Errorf("revert %s: %w", ActionRevokeOpenIngress, err))
	}
	r, cs, err := prepareRevert(ctx, a.p, ActionRevokeOpenIngress, pl, a.parse)
	if err != nil {
		return poller.Outcome{}, err
	}
	if snap.Group != r.group || snap.Region != r.region {
		return poller.Outcome{}, unchanged(fmt.Errorf("revert %s: snapshot is of %s in %s, not %s in %s", ActionRevokeOpenIngress, snap.Group, snap.Region, r.group, r.region))
	}
	c := cs.EC2(r.region)
	current, err := groupRules(ctx, c, r)
	if err != nil {
		return poller.Outcome{}, unchanged(err)
	}
	now := groupSnapshot{snapshotHeader: a.p.header(pl), Group: r.group, Region: r.region}
	for _, rule := range current {
		now.Kept = append(now.Kept, aws.ToString(rule.SecurityGroupRuleId))
	}
	out := poller.Outcome{Snapshot: encodeSnapshot(now)}
	var restored []string
	for _, sr := range snap.Revoked {
		if hasRule(current, sr) {
			continue
		}
		if _, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
			GroupId:       aws.String(r.group),
			IpPermissions: []ec2types.IpPermission{sr.permission()},
		}); err != nil {
			return out, awsError("ec2:AuthorizeSecurityGroupIngress "+r.group, err)
		}
		restored = append(restored, sr.String())
	}
	out.Detail = fmt.Sprintf("security group %s: %d of %d revoked rules authorized again", r.group, len(restored), len(snap.Revoked))
	after, err := groupRules(ctx, c, r)
	if err != nil {
		return out, fmt.Errorf("verify: %w", err)
	}
	for _, sr := range snap.Revoked {
		if !hasRule(after, sr) {
			return out, fmt.Errorf("verify: security group %s is missing %s", r.group, sr)
		}
	}
	out.Detail += "; verified: DescribeSecurityGroupRules shows every revoked rule again"
	out.Verified = true
	return out, nil
}

func (r sgRule) permission() ec2types.IpPermission {
	p := ec2types.IpPermission{IpProtocol: aws.String(r.Protocol), FromPort: aws.Int32(r.FromPort), ToPort: aws.Int32(r.ToPort)}
	var desc *string
	if r.Description != "" {
		desc = aws.String(r.Description)
	}
	if r.CidrIPv4 != "" {
		p.IpRanges = []ec2types.IpRange{{CidrIp: aws.String(r.CidrIPv4), Description: desc}}
	} else {
		p.Ipv6Ranges = []ec2types.Ipv6Range{{CidrIpv6: aws.String(r.CidrIPv6), Description: desc}}
	}
	return p
}

// groupRules lists the group's rules after checking that the group exists
// in r.account: a filter on an unknown group id lists nothing, which would
// otherwise read as "nothing open, verified".
func groupRules(ctx context.Context, c ec2API, r groupRequest) ([]ec2types.SecurityGroupRule, error) {
	g, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{r.group}})
	if err != nil {
		return nil, awsError("ec2:DescribeSecurityGroups "+r.group, err)
	}
	if len(g.SecurityGroups) != 1 {
		return nil, fmt.Errorf("ec2:DescribeSecurityGroups %s: found %d groups", r.group, len(g.SecurityGroups))
	}
	if owner := aws.ToString(g.SecurityGroups[0].OwnerId); owner != r.account {
		return nil, fmt.Errorf("security group %s belongs to account %s, not %s", r.group, owner, r.account)
	}
	var rules []ec2types.SecurityGroupRule
	pages := ec2.NewDescribeSecurityGroupRulesPaginator(c, &ec2.DescribeSecurityGroupRulesInput{
		Filters: []ec2types.Filter{{Name: aws.String("group-id"), Values: []string{r.group}}},
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, awsError("ec2:DescribeSecurityGroupRules "+r.group, err)
		}
		for _, rule := range page.SecurityGroupRules {
			// The filter should only return this group's rules; a rule of
			// another group must never be revoked by mistake.
			if aws.ToString(rule.GroupId) == r.group {
				rules = append(rules, rule)
			}
		}
	}
	return rules, nil
}

// worldOpen reports whether rule is an inbound rule open to every address.
func worldOpen(rule ec2types.SecurityGroupRule) (bool, sgRule) {
	sr := sgRule{
		ID:          aws.ToString(rule.SecurityGroupRuleId),
		Protocol:    aws.ToString(rule.IpProtocol),
		FromPort:    aws.ToInt32(rule.FromPort),
		ToPort:      aws.ToInt32(rule.ToPort),
		CidrIPv4:    aws.ToString(rule.CidrIpv4),
		CidrIPv6:    aws.ToString(rule.CidrIpv6),
		Description: aws.ToString(rule.Description),
	}
	open := !aws.ToBool(rule.IsEgress) && (sr.CidrIPv4 == "0.0.0.0/0" || sr.CidrIPv6 == "::/0")
	return open, sr
}

func hasRule(rules []ec2types.SecurityGroupRule, want sgRule) bool {
	for _, rule := range rules {
		if aws.ToBool(rule.IsEgress) {
			continue
		}
		if _, sr := worldOpen(rule); sr.same(want) {
			return true
		}
	}
	return false
}
