package aws

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/patrolsec/patrol/poller"
)

// principalEnricher answers "who did this, and whose are they?": the IAM
// user or role behind the event, its owner and team tags, a user's MFA
// devices, the user an access key belongs to, and the same for the user an
// IAM call was aimed at (requestParameters.userName).
type principalEnricher struct{ p *Provider }

// principalFacts is a cached lookup of one user or role.
type principalFacts struct {
	owner, team string
	mfa         int // MFA devices; -1 for roles
}

// actor is the principal an event names.
type actor struct {
	kind    string // "user", "role", "root", or "" when unknown
	account string
	name    string
}

// Name implements poller.Enricher.
func (e principalEnricher) Name() string { return "principal" }

// Enrich implements poller.Enricher.
func (e principalEnricher) Enrich(ctx context.Context, in poller.EnrichInput) (poller.Enrichment, error) {
	p := e.p
	f := in.Fields
	who := actorOf(f)
	key := f.First("userIdentity.accessKeyId", "access_key_id")
	target := f.First("requestParameters.userName")
	if who.kind == "" && !accessKeyRE.MatchString(key) && target == "" {
		return poller.Enrichment{}, nil
	}
	if who.account == "" {
		who.account = in.Account
	}
	if !accountRE.MatchString(who.account) {
		return poller.Enrichment{}, fmt.Errorf("principal: no account id in the event")
	}
	if !p.InAccounts(who.account) {
		// A principal of another account sets its own tags: they must not
		// pick the team a ticket goes to, nor the owner it names.
		return poller.Enrichment{Note: fmt.Sprintf("the principal lives in account %s, which is not one of the organization's accounts (aws.accounts): it is not looked up, and its tags neither route the ticket nor name an owner", who.account)}, nil
	}
	if who.kind == "root" && target == "" {
		// Root has no tags or MFA devices to list through IAM's user calls.
		return poller.Enrichment{Facts: []poller.Field{{Name: "principal", Value: "root user of account " + who.account}}}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.EnrichTimeout)
	defer cancel()
	cs, err := p.connect(ctx, who.account, in.Ticket.Key)
	if err != nil {
		return poller.Enrichment{}, fmt.Errorf("principal in %s: %w", who.account, err)
	}
	c := cs.IAM()

	var out poller.Enrichment
	var errs []error
	answered := false // whether any IAM lookup succeeded
	// A long-term key with no user named: ask IAM whose it is.
	if who.kind == "" && accessKeyRE.MatchString(key) {
		o, err := c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(key)})
		if err != nil {
			errs = append(errs, awsError("iam:GetAccessKeyLastUsed "+key, err))
		} else if u := aws.ToString(o.UserName); u != "" {
			answered = true
			who = actor{kind: "user", account: who.account, name: u}
			out.Facts = append(out.Facts, poller.Field{Name: "access key", Value: key + " belongs to user " + u})
		}
	}
	switch who.kind {
	case "user", "role":
		arn := p.userARN(who.account, who.name)
		if who.kind == "role" {
			arn = p.roleARN(who.account, who.name)
		}
		out.Facts = append(out.Facts, poller.Field{Name: "principal", Value: arn})
		pf, err := p.lookupPrincipal(ctx, c, who)
		if err != nil {
			errs = append(errs, err)
		} else {
			answered = true
			out.Facts = append(out.Facts, pf.facts("principal")...)
			if pf.team != "" {
				out.Route = p.teams.RouteForTeam(pf.team)
			}
		}
	case "root":
		out.Facts = append(out.Facts, poller.Field{Name: "principal", Value: "root user of account " + who.account})
	}
	if target != "" && !(who.kind == "user" && strings.EqualFold(target, who.name)) && iamNameRE.MatchString(target) {
		t := actor{kind: "user", account: in.Account, name: target}
		if !accountRE.MatchString(t.account) {
			t.account = who.account
		}
		if t.account == who.account {
			out.Facts = append(out.Facts, poller.Field{Name: "target user", Value: p.userARN(t.account, t.name)})
			pf, err := p.lookupPrincipal(ctx, c, t)
			if err != nil {
				errs = append(errs, err)
			} else {
				answered = true
				out.Facts = append(out.Facts, pf.facts("target user")...)
			}
		}
	}
	if len(errs) > 0 {
		err := errors.Join(errs...)
		if !answered {
			return poller.Enrichment{}, fmt.Errorf("principal: %w", err)
		}
		out.Note = "some IAM lookups failed: " + strings.ReplaceAll(err.Error(), "\n", "; ")
	}
	return out, nil
}

func (pf principalFacts) facts(prefix string) []poller.Field {
	var fs []poller.Field
	if pf.owner != "" {
		fs = append(fs, poller.Field{Name: prefix + " owner", Value: pf.owner})
	}
	if pf.team != "" {
		fs = append(fs, poller.Field{Name: prefix + " team", Value: pf.team})
	}
	switch {
	case pf.mfa == 0:
		fs = append(fs, poller.Field{Name: prefix + " MFA", Value: "none"})
	case pf.mfa > 0:
		fs = append(fs, poller.Field{Name: prefix + " MFA", Value: fmt.Sprintf("enabled (%d devices)", pf.mfa)})
	}
	return fs
}

// actorOf finds the principal in an event: from its ARN when there is one,
// else from CloudTrail's userIdentity.type and userName.
func actorOf(f poller.Result) actor {
	if s := f.First("userIdentity.arn", "user_arn"); s != "" {
		if a, err := arn.Parse(s); err == nil && accountRE.MatchString(a.AccountID) {
			parts := strings.Split(a.Resource, "/")
			switch {
			case a.Service == "iam" && a.Resource == "root":
				return actor{kind: "root", account: a.AccountID}
			case a.Service == "iam" && parts[0] == "user" && len(parts) >= 2:
				return actor{kind: "user", account: a.AccountID, name: parts[len(parts)-1]}
			case a.Service == "iam" && parts[0] == "role" && len(parts) >= 2:
				return actor{kind: "role", account: a.AccountID, name: parts[len(parts)-1]}
			case a.Service == "sts" && parts[0] == "assumed-role" && len(parts) >= 2:
				return actor{kind: "role", account: a.AccountID, name: parts[1]}
			}
		}
	}
	switch f.First("userIdentity.type") {
	case "IAMUser":
		if u := f.First("userIdentity.userName"); iamNameRE.MatchString(u) {
			return actor{kind: "user", account: f.First("userIdentity.accountId"), name: u}
		}
	case "Root":
		return actor{kind: "root", account: f.First("userIdentity.accountId")}
	}
	return actor{}
}

// lookupPrincipal reads a user's or role's tags (and a user's MFA devices).
func (p *Provider) lookupPrincipal(ctx context.Context, c iamAPI, a actor) (principalFacts, error) {
	if !iamNameRE.MatchString(a.name) {
		return principalFacts{}, fmt.Errorf("%q is not an IAM %s name", a.name, a.kind)
	}
	key := a.kind + " " + a.account + " " + strings.ToLower(a.name)
	if pf, ok := p.principalCache.get(key); ok {
		return pf, nil
	}
	pf := principalFacts{mfa: -1}
	var tags []iamtypes.Tag
	if a.kind == "user" {
		pages := iam.NewListUserTagsPaginator(c, &iam.ListUserTagsInput{UserName: aws.String(a.name)})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return pf, awsError("iam:ListUserTags "+a.name, err)
			}
			tags = append(tags, page.Tags...)
		}
		pf.mfa = 0
		mfa := iam.NewListMFADevicesPaginator(c, &iam.ListMFADevicesInput{UserName: aws.String(a.name)})
		for mfa.HasMorePages() {
			page, err := mfa.NextPage(ctx)
			if err != nil {
				return pf, awsError("iam:ListMFADevices "+a.name, err)
			}
			pf.mfa += len(page.MFADevices)
		}
	} else {
		pages := iam.NewListRoleTagsPaginator(c, &iam.ListRoleTagsInput{RoleName: aws.String(a.name)})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return pf, awsError("iam:ListRoleTags "+a.name, err)
			}
			tags = append(tags, page.Tags...)
		}
	}
	for _, t := range tags {
		switch normTag(aws.ToString(t.Key)) {
		case "owner":
			pf.owner = strings.TrimSpace(aws.ToString(t.Value))
		case "team":
			pf.team = strings.TrimSpace(aws.ToString(t.Value))
		}
	}
	p.principalCache.put(key, pf)
	return pf, nil
}
