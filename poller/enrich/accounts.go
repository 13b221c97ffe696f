package enrich

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/patrolsec/patrol/poller"
)

// Account is what patrol knows about one AWS account, from accounts.csv or
// from AWS Organizations.
type Account struct {
	ID            string
	Name          string
	Owner         string
	Team          string
	SlackChannel  string
	JiraComponent string
}

// Merge fills a's empty fields from fallback.
func (a Account) Merge(fallback Account) Account {
	fill := func(dst *string, src string) {
		if *dst == "" {
			*dst = src
		}
	}
	fill(&a.ID, fallback.ID)
	fill(&a.Name, fallback.Name)
	fill(&a.Owner, fallback.Owner)
	fill(&a.Team, fallback.Team)
	fill(&a.SlackChannel, fallback.SlackChannel)
	fill(&a.JiraComponent, fallback.JiraComponent)
	return a
}

// Facts renders the account for the enrichment comment; source says where
// the facts came from, so a reader knows how far to trust them.
func (a Account) Facts(source string) []poller.Field {
	fs := []poller.Field{{Name: "account", Value: a.ID}}
	add := func(name, v string) {
		if v != "" {
			fs = append(fs, poller.Field{Name: name, Value: v})
		}
	}
	add("account name", a.Name)
	add("account owner", a.Owner)
	add("account team", a.Team)
	add("account source", source)
	return fs
}

// Accounts is the accounts.csv table, keyed by account id.
type Accounts map[string]Account

// accountColumns are the accounts.csv columns patrol reads; others are
// ignored so the file can be an export of a wider inventory sheet.
var accountColumns = []string{"account_id", "name", "owner", "team", "slack_channel", "jira_component"}

// LoadAccounts reads an accounts.csv file. An empty path is an empty table.
func LoadAccounts(path string) (Accounts, error) {
	if path == "" {
		return Accounts{}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("accounts table: %w", err)
	}
	defer f.Close()
	return ParseAccounts(f, path)
}

// ParseAccounts reads accounts CSV from r: a header row naming the columns
// (account_id is required), then one account a row. name is used in errors,
// which carry the line number. Lines starting with # are comments.
func ParseAccounts(r io.Reader, name string) (Accounts, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err == io.EOF {
		return Accounts{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		col[h] = i
	}
	if _, ok := col["account_id"]; !ok {
		return nil, fmt.Errorf("%s:1: header has no account_id column (want %s)", name, strings.Join(accountColumns, ","))
	}
	out := Accounts{}
	var errs []error
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		get := func(c string) string {
			if i, ok := col[c]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		id, ok := NormalizeAccountID(get("account_id"))
		if !ok {
			errs = append(errs, fmt.Errorf("%s:%d: account_id %q is not a 12-digit AWS account id", name, line, get("account_id")))
			continue
		}
		if _, dup := out[id]; dup {
			errs = append(errs, fmt.Errorf("%s:%d: account %s is listed twice", name, line, id))
			continue
		}
		out[id] = Account{
			ID: id, Name: get("name"), Owner: get("owner"), Team: get("team"),
			SlackChannel: get("slack_channel"), JiraComponent: get("jira_component"),
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// NormalizeAccountID checks that s is an AWS account id. Spreadsheets turn
// "012345678901" into the number 12345678901; account ids are always twelve
// digits, so the lost leading zeros are restored rather than rejected.
func NormalizeAccountID(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 12 {
		return "", false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return "", false
		}
	}
	return strings.Repeat("0", 12-len(s)) + s, true
}

// AccountEnricher answers "whose account is this?" from accounts.csv and
// [[teams]] alone: it makes no network calls, so local mode can use it.
type AccountEnricher struct {
	Accounts Accounts
	Teams    Teams
}

// Name implements poller.Enricher.
func (e AccountEnricher) Name() string { return "account" }

// Enrich implements poller.Enricher.
func (e AccountEnricher) Enrich(_ context.Context, in poller.EnrichInput) (poller.Enrichment, error) {
	raw := in.Account
	if raw == "" {
		return poller.Enrichment{}, nil
	}
	id, ok := NormalizeAccountID(raw)
	if !ok {
		return poller.Enrichment{}, fmt.Errorf("account %q is not a 12-digit AWS account id", raw)
	}
	a, found := e.Accounts[id]
	if !found {
		a = Account{ID: id}
	}
	out := poller.Enrichment{Route: e.Teams.RouteForAccount(a)}
	if found {
		out.Facts = a.Facts("accounts.csv")
	} else {
		out.Facts = a.Facts("")
		out.Note = "account " + id + " is not in accounts.csv"
	}
	return out, nil
}
