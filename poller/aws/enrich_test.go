package aws

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/enrich"
)

func facts(e poller.Enrichment) map[string]string {
	m := map[string]string{}
	for _, f := range e.Facts {
		m[f.Name] = f.Value
	}
	return m
}

func writeCSV(t *testing.T, rows ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "accounts.csv")
	body := "account_id,name,owner,team,slack_channel,jira_component\n" + strings.Join(rows, "\n") + "\n"
	noErr(t, os.WriteFile(path, []byte(body), 0o600))
	return path
}

func enricher(t *testing.T, p *Provider, name string) poller.Enricher {
	t.Helper()
	for _, e := range p.Enrichers() {
		if e.Name() == name {
			return e
		}
	}
	t.Fatalf("no enricher %s", name)
	return nil
}

func TestAccountEnricherOrganizations(t *testing.T) {
	t.Parallel()
	org := organizations.NewFromConfig(adminConfig(t, defaultAccount))
	// One emulator serves the whole run (and -count=N repeats): the
	// organization may exist already.
	if _, err := org.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: orgtypes.OrganizationFeatureSetAll}); err != nil && errorCode(err) != "AlreadyInOrganizationException" {
		t.Fatal(err)
	}
	st := must(org.CreateAccount(ctx, &organizations.CreateAccountInput{
		AccountName: aws.String("payments-prod"), Email: aws.String("aws+payments@example.com"),
		Tags: []orgtypes.Tag{{Key: aws.String("Owner"), Value: aws.String("alice@example.com")}, {Key: aws.String("team"), Value: aws.String("payments")},
			{Key: aws.String("slack-channel"), Value: aws.String("#pay-alerts")}},
	}))(t)
	id := aws.ToString(st.CreateAccountStatus.AccountId)

	rec := &recorder{}
	csv := writeCSV(t, id+",old-name,bob@example.com,,,PAY", "444455556666,sandbox,carol@example.com,platform,#platform,PLAT")
	p := motoProvider(t, func(c *Config, o *Options) {
		c.Organizations = true
		o.AccountsCSV = csv
		o.Teams = []enrich.Team{{Name: "Payments", JiraComponent: "Payments"}}
		o.apiOptions = append(o.apiOptions, rec.option)
	})
	e := enricher(t, p, "account")

	got := must(e.Enrich(ctx, poller.NewEnrichInput(poller.Ticket{}, nil, poller.Result{"recipientAccountId": {id}})))(t)
	want := map[string]string{"account": id, "account name": "payments-prod", "account owner": "alice@example.com",
		"account team": "payments", "account source": "organizations, accounts.csv"}
	for k, v := range want {
		if facts(got)[k] != v {
			t.Errorf("%s = %q, want %q (all %v)", k, facts(got)[k], v, got.Facts)
		}
	}
	// Organizations tags first, [[teams]] for the component, the CSV for nothing else needed.
	if wantRoute := (poller.Route{Team: "Payments", SlackChannel: "#pay-alerts", Component: "Payments"}); got.Route != wantRoute {
		t.Errorf("route = %+v, want %+v", got.Route, wantRoute)
	}
	if got.Note != "" {
		t.Errorf("note = %q", got.Note)
	}

	if got, want := permissionsUsed(rec.snapshot()), norm(OrganizationsPermissions); !slices.Equal(got, want) {
		t.Errorf("account enricher uses %v, OrganizationsPermissions says %v", got, want)
	}
	// Cached: a second ticket about the account makes no call.
	calls := len(rec.snapshot())
	must(e.Enrich(ctx, poller.NewEnrichInput(poller.Ticket{}, nil, poller.Result{"aws_account_id": {id}})))(t)
	if n := len(rec.snapshot()); n != calls {
		t.Errorf("cached lookup made %d more calls", n-calls)
	}

	// Outside the organization: the CSV answers, and the note says so.
	got = must(e.Enrich(ctx, poller.NewEnrichInput(poller.Ticket{}, nil, poller.Result{"recipientAccountId": {"444455556666"}})))(t)
	if facts(got)["account owner"] != "carol@example.com" || facts(got)["account source"] != "accounts.csv" || !strings.Contains(got.Note, "not in the organization") {
		t.Errorf("outside the org: %+v", got)
	}
	if got.Route.Team != "platform" || got.Route.SlackChannel != "#platform" || got.Route.Component != "PLAT" {
		t.Errorf("route = %+v", got.Route)
	}
}

// fakeOrg fails every call with err, or blocks until the context ends.
type fakeOrg struct {
	orgAPI
	err   error
	block bool
}

func (f fakeOrg) DescribeAccount(ctx context.Context, _ *organizations.DescribeAccountInput, _ ...func(*organizations.Options)) (*organizations.DescribeAccountOutput, error) {
	if f.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return nil, f.err
}

func (f fakeOrg) ListTagsForResource(context.Context, *organizations.ListTagsForResourceInput, ...func(*organizations.Options)) (*organizations.ListTagsForResourceOutput, error) {
	return nil, f.err
}

func TestAccountEnricherFallsBackToCSV(t *testing.T) {
	csv := writeCSV(t, "111122223333,payments-prod,alice@example.com,payments,#pay,PAY")
	tests := []struct {
		name     string
		org      fakeOrg
		orgsOn   bool
		account  string
		wantErr  string
		wantNote string
	}{
		{"access denied, in csv", fakeOrg{err: apiErr("AccessDeniedException")}, true, "111122223333", "", "AccessDeniedException"},
		{"access denied, not in csv", fakeOrg{err: apiErr("AccessDeniedException")}, true, "999988887777", "AccessDeniedException", ""},
		{"timeout, in csv", fakeOrg{block: true}, true, "111122223333", "", "deadline exceeded"},
		{"organizations off", fakeOrg{block: true}, false, "111122223333", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, calls := offlineProvider(t, func(c *Config) { c.Organizations = tt.orgsOn; c.EnrichTimeout = 50 * time.Millisecond })
			p.orgs = func(context.Context) (orgAPI, error) { return tt.org, nil }
			p.accounts = must(enrich.LoadAccounts(csv))(t)
			got, err := enricher(t, p, "account").Enrich(context.Background(), poller.NewEnrichInput(poller.Ticket{}, nil, poller.Result{"recipientAccountId": {tt.account}}))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if facts(got)["account owner"] != "alice@example.com" || got.Route.Component != "PAY" {
				t.Errorf("facts %v route %+v", got.Facts, got.Route)
			}
			if !strings.Contains(got.Note, tt.wantNote) || (tt.wantNote == "") != (got.Note == "") {
				t.Errorf("note = %q, want %q", got.Note, tt.wantNote)
			}
			if calls.Load() != 0 {
				t.Errorf("%d HTTP calls", calls.Load())
			}
		})
	}
}

func TestPrincipalEnricher(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	p := motoProvider(t, func(_ *Config, o *Options) {
		o.Teams = []enrich.Team{{Name: "payments", SlackChannel: "#payments-sec", JiraComponent: "Payments"}}
		o.apiOptions = append(o.apiOptions, rec.option)
	})
	c := iam.NewFromConfig(adminConfig(t, defaultAccount))
	user, mfaUser, role := uniq("dev"), uniq("admin"), uniq("deployer")
	must(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user), Tags: []iamtypes.Tag{
		{Key: aws.String("owner"), Value: aws.String("dev@example.com")}, {Key: aws.String("Team"), Value: aws.String("payments")}}}))(t)
	key := aws.ToString(must(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)}))(t).AccessKey.AccessKeyId)
	must(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(mfaUser)}))(t)
	dev := must(c.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String(mfaUser)}))(t)
	must(c.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String(mfaUser), SerialNumber: dev.VirtualMFADevice.SerialNumber,
		AuthenticationCode1: aws.String("123456"), AuthenticationCode2: aws.String("654321")}))(t)
	createRole(t, c, role)
	must(c.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String(role), Tags: []iamtypes.Tag{{Key: aws.String("owner"), Value: aws.String("ci@example.com")}}}))(t)

	acct := defaultAccount
	tests := []struct {
		name      string
		fields    poller.Result
		want      map[string]string
		wantRoute poller.Route
		wantErr   string
		noCalls   bool
	}{
		{name: "IAM user by ARN", fields: poller.Result{"userIdentity.arn": {"arn:aws:iam::" + acct + ":user/" + user}},
			want: map[string]string{"principal": "arn:aws:iam::" + acct + ":user/" + user, "principal owner": "dev@example.com",
				"principal team": "payments", "principal MFA": "none"},
			wantRoute: poller.Route{Team: "payments", SlackChannel: "#payments-sec", Component: "Payments"}},
		{name: "IAM user by type and name, with MFA", fields: poller.Result{"userIdentity.type": {"IAMUser"}, "userIdentity.userName": {mfaUser}, "recipientAccountId": {acct}},
			want: map[string]string{"principal MFA": "enabled (1 devices)"}},
		{name: "assumed role", fields: poller.Result{"user_arn": {"arn:aws:sts::" + acct + ":assumed-role/" + role + "/i-0abc"}},
			want: map[string]string{"principal": "arn:aws:iam::" + acct + ":role/" + role, "principal owner": "ci@example.com"}},
		{name: "access key only", fields: poller.Result{"userIdentity.accessKeyId": {key}, "recipientAccountId": {acct}},
			want: map[string]string{"access key": key + " belongs to user " + user, "principal owner": "dev@example.com"}},
		{name: "target user of an IAM call", fields: poller.Result{"userIdentity.arn": {"arn:aws:iam::" + acct + ":user/" + mfaUser}, "requestParameters.userName": {user}, "recipientAccountId": {acct}},
			want: map[string]string{"target user": "arn:aws:iam::" + acct + ":user/" + user, "target user owner": "dev@example.com", "principal MFA": "enabled (1 devices)"}},
		{name: "root needs no lookup", fields: poller.Result{"userIdentity.arn": {"arn:aws:iam::" + acct + ":root"}},
			want: map[string]string{"principal": "root user of account " + acct}, noCalls: true},
		{name: "AWS service", fields: poller.Result{"userIdentity.type": {"AWSService"}, "recipientAccountId": {acct}}, want: map[string]string{}, noCalls: true},
		{name: "unknown user", fields: poller.Result{"userIdentity.arn": {"arn:aws:iam::" + acct + ":user/nobody-" + uniq("x")}}, wantErr: "NoSuchEntity"},
	}
	var used []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec.reset()
			defer func() { used = append(used, permissionsUsed(rec.snapshot())...) }()
			got, err := enricher(t, p, "principal").Enrich(ctx, poller.NewEnrichInput(poller.Ticket{}, nil, tt.fields))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if facts(got)[k] != v {
					t.Errorf("%s = %q, want %q (all %v)", k, facts(got)[k], v, got.Facts)
				}
			}
			if tt.wantRoute != (poller.Route{}) && got.Route != tt.wantRoute {
				t.Errorf("route = %+v, want %+v", got.Route, tt.wantRoute)
			}
			if n := len(rec.snapshot()); tt.noCalls && n != 0 {
				t.Errorf("%d AWS calls, want none", n)
			}
		})
	}
	if got, want := norm(used), norm(EnricherPermissions); !slices.Equal(got, want) {
		t.Errorf("principal enricher uses %v, EnricherPermissions says %v", got, want)
	}
}

func TestProviderEnrichers(t *testing.T) {
	p, calls := offlineProvider(t, nil)
	var names []string
	for _, e := range p.Enrichers() {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, ","); got != "account,principal,source_ip" {
		t.Errorf("enrichers = %s", got)
	}
	got := must(enricher(t, p, "source_ip").Enrich(ctx, poller.NewEnrichInput(poller.Ticket{}, nil, poller.Result{"sourceIPAddress": {"ec2.amazonaws.com"}})))(t)
	if fmt.Sprint(got.Facts) != "[{sourceIPAddress ec2.amazonaws.com: aws-service (ec2.amazonaws.com)}]" {
		t.Errorf("facts = %v", got.Facts)
	}
	if calls.Load() != 0 {
		t.Errorf("%d AWS calls", calls.Load())
	}
}
