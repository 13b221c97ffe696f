package enrich

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patrolsec/patrol/poller"
)

func TestLoadAccounts(t *testing.T) {
	accts, err := LoadAccounts(filepath.Join("testdata", "accounts.csv"))
	if err != nil {
		t.Fatal(err)
	}
	want := Accounts{
		"111122223333": {ID: "111122223333", Name: "payments-prod", Owner: "alice@example.com", Team: "payments", SlackChannel: "#payments-sec", JiraComponent: "Payments"},
		"012345678901": {ID: "012345678901", Name: "legacy", Owner: "bob@example.com", Team: "platform"},
		"444455556666": {ID: "444455556666", Name: "sandbox"},
	}
	if len(accts) != len(want) {
		t.Fatalf("got %d accounts, want %d: %v", len(accts), len(want), accts)
	}
	for id, w := range want {
		if accts[id] != w {
			t.Errorf("account %s = %+v, want %+v", id, accts[id], w)
		}
	}
}

func TestParseAccountsErrors(t *testing.T) {
	tests := []struct {
		name, csv string
		want      []string
	}{
		{"no account_id column", "id,name\n1,x\n", []string{"x.csv:1: header has no account_id column"}},
		{"bad ids reported with lines", "account_id,name\n111122223333,a\nabc,b\n1111222233334,c\n111122223333,d\n",
			[]string{`x.csv:3: account_id "abc"`, `x.csv:4: account_id "1111222233334"`, "x.csv:5: account 111122223333 is listed twice"}},
		{"broken quoting", "account_id,name\n\"111122223333,a\n", []string{"x.csv:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAccounts(strings.NewReader(tt.csv), "x.csv")
			if err == nil {
				t.Fatal("want error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseAccountsBOMAndEmpty(t *testing.T) {
	accts, err := ParseAccounts(strings.NewReader("\ufeffAccount_ID, Name\n111122223333, prod\n"), "x.csv")
	if err != nil {
		t.Fatal(err)
	}
	if accts["111122223333"].Name != "prod" {
		t.Errorf("got %+v", accts)
	}
	accts, err = ParseAccounts(strings.NewReader(""), "x.csv")
	if err != nil || len(accts) != 0 {
		t.Errorf("empty file: %v, %v", accts, err)
	}
	accts, err = LoadAccounts("")
	if err != nil || len(accts) != 0 {
		t.Errorf("no path: %v, %v", accts, err)
	}
	if _, err := LoadAccounts(filepath.Join(t.TempDir(), "missing.csv")); err == nil || !strings.Contains(err.Error(), "missing.csv") {
		t.Errorf("missing file: %v", err)
	}
}

func TestAccountEnricher(t *testing.T) {
	accts, err := LoadAccounts(filepath.Join("testdata", "accounts.csv"))
	if err != nil {
		t.Fatal(err)
	}
	teams := Teams{
		{Name: "Payments", Accounts: []string{"999988887777"}, SlackChannel: "#pay-team", JiraComponent: "Pay"},
		{Name: "platform", SlackChannel: "#platform", JiraComponent: "Platform"},
		{Name: "secops", Accounts: []string{"444455556666"}, SlackChannel: "#secops"},
	}
	e := AccountEnricher{Accounts: accts, Teams: teams}
	tests := []struct {
		name      string
		fields    poller.Result
		wantFacts map[string]string
		wantRoute poller.Route
		wantNote  bool
		wantErr   bool
	}{
		{
			name:   "csv team with [[teams]] entry by name: teams channel wins",
			fields: poller.Result{"recipientAccountId": {"111122223333"}},
			wantFacts: map[string]string{"account": "111122223333", "account name": "payments-prod",
				"account owner": "alice@example.com", "account team": "payments", "account source": "accounts.csv"},
			wantRoute: poller.Route{Team: "Payments", SlackChannel: "#pay-team", Component: "Pay"},
		},
		{
			name:      "team without channel in csv takes the [[teams]] one",
			fields:    poller.Result{"aws_account_id": {"012345678901"}},
			wantFacts: map[string]string{"account name": "legacy"},
			wantRoute: poller.Route{Team: "platform", SlackChannel: "#platform", Component: "Platform"},
		},
		{
			name:      "[[teams]] membership wins",
			fields:    poller.Result{"recipientAccountId": {"444455556666"}},
			wantRoute: poller.Route{Team: "secops", SlackChannel: "#secops"},
		},
		{
			name:      "unknown account is a note, still routed by [[teams]]",
			fields:    poller.Result{"recipientAccountId": {"999988887777"}},
			wantFacts: map[string]string{"account": "999988887777"},
			wantRoute: poller.Route{Team: "Payments", SlackChannel: "#pay-team", Component: "Pay"},
			wantNote:  true,
		},
		{name: "no account field", fields: poller.Result{"src_ip": {"1.2.3.4"}}},
		{name: "garbage account", fields: poller.Result{"recipientAccountId": {"12-34"}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.Enrich(context.Background(), poller.NewEnrichInput(poller.Ticket{}, nil, tt.fields))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			facts := map[string]string{}
			for _, f := range got.Facts {
				facts[f.Name] = f.Value
			}
			for k, v := range tt.wantFacts {
				if facts[k] != v {
					t.Errorf("fact %q = %q, want %q (all: %v)", k, facts[k], v, got.Facts)
				}
			}
			if got.Route != tt.wantRoute {
				t.Errorf("route = %+v, want %+v", got.Route, tt.wantRoute)
			}
			if (got.Note != "") != tt.wantNote {
				t.Errorf("note = %q, wantNote %v", got.Note, tt.wantNote)
			}
		})
	}
}

func TestNormalizeAccountID(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"111122223333", "111122223333", true},
		{" 12345678901 ", "012345678901", true},
		{"1111222233334", "", false},
		{"1e11", "", false},
		{"", "", false},
		{"-11122223333", "", false},
	}
	for _, tt := range tests {
		got, ok := NormalizeAccountID(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("NormalizeAccountID(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
