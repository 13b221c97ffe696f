package aws

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/enrich"
)

// accountEnricher answers "whose account is this?" from AWS Organizations
// (account name, and owner/team/slack_channel/jira_component tags), with
// accounts.csv filling whatever Organizations does not say, and standing in
// when Organizations is off or fails.
type accountEnricher struct{ p *Provider }

// orgAnswer is a cached Organizations lookup; found is false for an
// account outside the organization (also an answer worth caching).
type orgAnswer struct {
	acct  enrich.Account
	found bool
}

// Name implements poller.Enricher.
func (e accountEnricher) Name() string { return "account" }

// Enrich implements poller.Enricher.
func (e accountEnricher) Enrich(ctx context.Context, in poller.EnrichInput) (poller.Enrichment, error) {
	p := e.p
	csv := enrich.AccountEnricher{Accounts: p.accounts, Teams: p.teams}
	if !p.cfg.Organizations {
		return csv.Enrich(ctx, in)
	}
	raw := in.Account
	if raw == "" {
		return poller.Enrichment{}, nil
	}
	id, ok := enrich.NormalizeAccountID(raw)
	if !ok {
		return poller.Enrichment{}, fmt.Errorf("account %q is not a 12-digit AWS account id", raw)
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.EnrichTimeout)
	defer cancel()
	row, inCSV := p.accounts[id]
	ans, err := p.orgAccount(ctx, id)
	var (
		rec    enrich.Account
		source string
		note   string
	)
	switch {
	case err != nil && !inCSV:
		return poller.Enrichment{}, fmt.Errorf("account %s: %w", id, err)
	case err != nil:
		rec, source = row, "accounts.csv"
		note = fmt.Sprintf("Organizations lookup failed (%v); facts are from accounts.csv", err)
	case ans.found:
		rec, source = ans.acct.Merge(row), "organizations"
		if inCSV && rec != ans.acct {
			source = "organizations, accounts.csv"
		}
	case inCSV:
		rec, source = row, "accounts.csv"
		note = "account " + id + " is not in the organization"
	default:
		rec = enrich.Account{ID: id}
		note = "account " + id + " is neither in the organization nor in accounts.csv"
	}
	return poller.Enrichment{Facts: rec.Facts(source), Note: note, Route: p.teams.RouteForAccount(rec)}, nil
}

// orgAccount looks the account up in Organizations: its name, then its tags.
func (p *Provider) orgAccount(ctx context.Context, id string) (orgAnswer, error) {
	if a, ok := p.orgCache.get(id); ok {
		return a, nil
	}
	c, err := p.orgs(ctx)
	if err != nil {
		return orgAnswer{}, err
	}
	out, err := c.DescribeAccount(ctx, &organizations.DescribeAccountInput{AccountId: aws.String(id)})
	if errorCode(err) == "AccountNotFoundException" {
		p.orgCache.put(id, orgAnswer{})
		return orgAnswer{}, nil
	}
	if err != nil {
		return orgAnswer{}, awsError("organizations:DescribeAccount "+id, err)
	}
	a := enrich.Account{ID: id}
	if out.Account != nil {
		a.Name = aws.ToString(out.Account.Name)
	}
	var token *string
	for {
		tags, err := c.ListTagsForResource(ctx, &organizations.ListTagsForResourceInput{ResourceId: aws.String(id), NextToken: token})
		if err != nil {
			return orgAnswer{}, awsError("organizations:ListTagsForResource "+id, err)
		}
		for _, t := range tags.Tags {
			setAccountTag(&a, aws.ToString(t.Key), aws.ToString(t.Value))
		}
		if token = tags.NextToken; token == nil {
			break
		}
	}
	ans := orgAnswer{acct: a, found: true}
	p.orgCache.put(id, ans)
	return ans, nil
}

// setAccountTag maps an account tag onto the account's fields. Tags are
// typed by people across many accounts, so "Owner", "owner" and
// "slack-channel" all count.
func setAccountTag(a *enrich.Account, key, value string) {
	value = strings.TrimSpace(value)
	switch normTag(key) {
	case "owner":
		a.Owner = value
	case "team":
		a.Team = value
	case "slack_channel":
		a.SlackChannel = value
	case "jira_component":
		a.JiraComponent = value
	}
}

func normTag(key string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(key)), "-", "_")
}
