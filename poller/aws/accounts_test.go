package aws

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/enrich"
)

// TestOrganizationAccounts: with aws.accounts = "organization" the list
// comes from AWS Organizations; patrol assumes no role in, acts in no, and
// takes no routing from a principal of, any other account.
func TestOrganizationAccounts(t *testing.T) {
	t.Parallel()
	org := organizations.NewFromConfig(adminConfig(t, defaultAccount))
	if _, err := org.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: orgtypes.OrganizationFeatureSetAll}); err != nil && errorCode(err) != "AlreadyInOrganizationException" {
		t.Fatal(err)
	}
	st := must(org.CreateAccount(ctx, &organizations.CreateAccountInput{AccountName: aws.String(uniq("member")), Email: aws.String(uniq("m") + "@example.com")}))(t)
	member := aws.ToString(st.CreateAccountStatus.AccountId)
	const stranger = "999988887777"
	// The stranger's user tags itself into the payments team.
	ic := iam.NewFromConfig(adminConfig(t, stranger))
	user := uniq("outsider")
	must(ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user), Tags: []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("payments")}}}))(t)

	rec := &recorder{}
	p := motoProvider(t, func(c *Config, o *Options) {
		c.RoleARN = "arn:aws:iam::{account}:role/patrol-responder"
		c.Accounts = Accounts{Organization: true}
		o.Teams = []enrich.Team{{Name: "payments", SlackChannel: "#payments-sec"}}
		o.apiOptions = append(o.apiOptions, rec.option)
	})
	if p.InAccounts(member) {
		t.Fatal("accounts known before they were read")
	}
	noErr(t, p.LoadAccounts(ctx))
	if !p.InAccounts(member) || !p.InAccounts(defaultAccount) || p.InAccounts(stranger) {
		t.Fatalf("member %v, management %v, stranger %v", p.InAccounts(member), p.InAccounts(defaultAccount), p.InAccounts(stranger))
	}

	// An account that joins is known after the next read (a reload).
	st = must(org.CreateAccount(ctx, &organizations.CreateAccountInput{AccountName: aws.String(uniq("joiner")), Email: aws.String(uniq("j") + "@example.com")}))(t)
	joiner := aws.ToString(st.CreateAccountStatus.AccountId)
	if p.InAccounts(joiner) {
		t.Fatal("an account that joined after the read is known")
	}
	noErr(t, p.LoadAccounts(ctx))
	if !p.InAccounts(joiner) {
		t.Error("reading again does not learn the account that joined")
	}

	rec.reset()
	k := p.Actions()[ActionDisableAccessKey]
	pl := must(k.Plan(ctx, poller.ActionRequest{Params: map[string]string{"account": stranger, "user": user, "key": "AKIAIOSFODNN7EXAMPLE"}, TicketKey: "SEC-1"}))(t)
	if _, err := k.Apply(ctx, pl); err == nil || !strings.Contains(err.Error(), "not one of the organization's accounts") {
		t.Errorf("apply in a stranger's account: %v", err)
	}
	got, err := enricher(t, p, "principal").Enrich(ctx, poller.EnrichInput{Fields: poller.Result{"userIdentity.arn": {"arn:aws:iam::" + stranger + ":user/" + user}}})
	if err != nil || got.Route != (poller.Route{}) || !strings.Contains(got.Note, "not one of the organization's accounts") {
		t.Errorf("stranger's principal: route %+v, note %q, err %v", got.Route, got.Note, err)
	}
	for _, c := range rec.snapshot() {
		if c.op == "AssumeRole" {
			t.Errorf("AssumeRole into %v", c.input)
		}
	}
}
