package poller

import (
	"context"
	"fmt"
	"slices"
)

// Guard holds the guardrails checked before any Action runs.
type Guard struct {
	DryRun bool
	// ProtectedPrincipals are IAM user and role ARN patterns (see
	// PrincipalPattern): an action that would change a matching principal,
	// or one about an event made by a matching principal, is refused.
	ProtectedPrincipals []string
	ProtectedAccounts   []string
	// InAccounts reports whether an account is one of the organization's
	// (aws.accounts); an action in any other is refused. nil: no list.
	InAccounts func(account string) bool
	// ResolvePath reads a principal's IAM path when a protected pattern
	// with a path matches it by name; nil, or an error, leaves it
	// protected.
	ResolvePath PathResolver
	// MaxPerHour caps real (not dry-run) action starts per rolling hour; 0 = no cap.
	MaxPerHour int
	// BreakerFailures real actions failed in a row stop every action until
	// a person resets the breaker (patrol resume); 0 = off.
	BreakerFailures int
}

// EventPrincipalFields name the principal that made an event.
var EventPrincipalFields = []string{"userIdentity.arn", "user_arn"}

// refusal returns why the guardrails forbid plan for an event, or "".
func (g Guard) refusal(ctx context.Context, p Plan, fields Result) string {
	if g.InAccounts != nil && !g.InAccounts(p.Account) {
		return fmt.Sprintf("account %q is not one of the organization's accounts (aws.accounts)", p.Account)
	}
	if slices.Contains(g.ProtectedAccounts, p.Account) {
		return fmt.Sprintf("account %s is protected", p.Account)
	}
	if p.Principal != "" {
		if m, ok := ProtectedBy(ctx, g.ProtectedPrincipals, p.Principal, false, g.ResolvePath); ok {
			return "the principal it would change is protected: " + m.String()
		}
	}
	for _, f := range EventPrincipalFields {
		for _, arn := range fields[f] {
			if m, ok := ProtectedBy(ctx, g.ProtectedPrincipals, arn, true, g.ResolvePath); ok {
				return "the event was made by a protected principal: " + m.String()
			}
		}
	}
	return ""
}
