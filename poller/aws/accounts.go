package aws

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
)

// FromOrganization is the aws.accounts value that reads the list from AWS
// Organizations.
const FromOrganization = "organization"

// Accounts is aws.accounts: the organization's own accounts, the only ones
// patrol acts in, assumes roles in, or takes routing and owner tags from.
// In TOML it is a list of account ids or the string "organization".
type Accounts struct {
	IDs          []string
	Organization bool
	// Invalid holds what the file said when it was neither: Validate
	// reports it with the key's line.
	Invalid string
}

// Set reports whether the list is configured.
func (a Accounts) Set() bool { return a.Organization || len(a.IDs) > 0 }

// UnmarshalTOML implements toml.Unmarshaler.
func (a *Accounts) UnmarshalTOML(v any) error {
	*a = Accounts{}
	switch v := v.(type) {
	case string:
		if v == FromOrganization {
			a.Organization = true
		} else {
			a.Invalid = fmt.Sprintf("%q must be a list of account ids or %q", v, FromOrganization)
		}
	case []any:
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				a.Invalid = fmt.Sprintf("%v is not an account id: write ids as strings, like \"111122223333\"", e)
				return nil
			}
			a.IDs = append(a.IDs, s)
		}
	default:
		a.Invalid = fmt.Sprintf("must be a list of account ids or %q", FromOrganization)
	}
	return nil
}

// MarshalTOML implements toml.Marshaler, so the config prints as written.
func (a Accounts) MarshalTOML() ([]byte, error) {
	if a.Organization {
		return []byte(`"` + FromOrganization + `"`), nil
	}
	q := make([]string, len(a.IDs))
	for i, id := range a.IDs {
		q[i] = `"` + id + `"`
	}
	return []byte("[" + strings.Join(q, ", ") + "]"), nil
}

func (a Accounts) String() string {
	b, _ := a.MarshalTOML()
	return string(b)
}

func (a Accounts) validate() []string {
	var errs []string
	if a.Invalid != "" {
		errs = append(errs, a.Invalid)
	}
	for _, id := range a.IDs {
		if !accountRE.MatchString(id) {
			errs = append(errs, fmt.Sprintf("%q is not a 12-digit account id", id))
		}
	}
	return errs
}

// LoadAccounts reads the organization's accounts from AWS Organizations
// when aws.accounts = "organization" (at start and on reload); with a list
// of ids it does nothing. On failure the previous list stays.
func (p *Provider) LoadAccounts(ctx context.Context) error {
	if !p.cfg.Accounts.Organization {
		return nil
	}
	c, err := p.orgs(ctx)
	if err != nil {
		return fmt.Errorf("aws.accounts = %q: %w", FromOrganization, err)
	}
	var ids []string
	pages := organizations.NewListAccountsPaginator(c, &organizations.ListAccountsInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("aws.accounts = %q: %w", FromOrganization, awsError("organizations:ListAccounts", err))
		}
		// Suspended and closing accounts are still the organization's.
		for _, a := range page.Accounts {
			ids = append(ids, aws.ToString(a.Id))
		}
	}
	if len(ids) == 0 {
		return fmt.Errorf("aws.accounts = %q: organizations:ListAccounts returned no accounts", FromOrganization)
	}
	sort.Strings(ids)
	p.mu.Lock()
	p.orgIDs = ids
	p.mu.Unlock()
	p.log.Info("organization accounts read from AWS Organizations", "accounts", len(ids))
	return nil
}

// InAccounts reports whether account is one of the organization's. Without
// aws.accounts every account is (the responder role then limits patrol).
func (p *Provider) InAccounts(account string) bool {
	if !p.cfg.Accounts.Set() {
		return true
	}
	if !p.cfg.Accounts.Organization {
		return slices.Contains(p.cfg.Accounts.IDs, account)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, found := slices.BinarySearch(p.orgIDs, account)
	return found
}

// AccountIDs returns the organization's account ids: aws.accounts' list,
// or what AWS Organizations last answered (none before LoadAccounts).
func (p *Provider) AccountIDs() []string {
	if !p.cfg.Accounts.Organization {
		return slices.Clone(p.cfg.Accounts.IDs)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.orgIDs)
}

// HasAccounts reports whether aws.accounts is set.
func (p *Provider) HasAccounts() bool { return p.cfg.Accounts.Set() }

// outside is the error for an account that is not the organization's.
func outside(account string) error {
	return fmt.Errorf("account %q is not one of the organization's accounts (aws.accounts): patrol neither acts nor assumes a role there", account)
}
