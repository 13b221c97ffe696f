package poller

import (
	"fmt"
	"regexp"
	"strings"
)

// Guard holds the guardrails checked before any Action runs.
type Guard struct {
	DryRun bool
	// ProtectedPrincipals are ARN patterns (* matches anything): an action
	// that would change a matching principal, or one about an event made by
	// a matching principal, is refused.
	ProtectedPrincipals []string
	ProtectedAccounts   []string
	// MaxPerHour caps real (not dry-run) action starts per rolling hour; 0 = no cap.
	MaxPerHour int
}

// EventPrincipalFields name the principal that made an event.
var EventPrincipalFields = []string{"userIdentity.arn", "user_arn"}

// refusal returns why the guardrails forbid plan for an event, or "".
func (g Guard) refusal(p Plan, fields Result) string {
	for _, pat := range g.ProtectedPrincipals {
		re := arnPattern(pat)
		for _, v := range principalForms(p.Principal) {
			if re.MatchString(v) {
				return fmt.Sprintf("the principal it would change, %s, is protected (matches %s)", p.Principal, pat)
			}
		}
		for _, f := range EventPrincipalFields {
			for _, arn := range fields[f] {
				for _, v := range principalForms(arn) {
					if re.MatchString(v) {
						return fmt.Sprintf("the event was made by protected principal %s (matches %s)", arn, pat)
					}
				}
			}
		}
	}
	for _, a := range g.ProtectedAccounts {
		if p.Account == a {
			return fmt.Sprintf("account %s is protected", a)
		}
	}
	return ""
}

// principalForms lists the ARNs a principal is matched as: itself, without
// its IAM path (user/admins/break-glass is user/break-glass), and an assumed
// role session as the role it assumed.
func principalForms(arn string) []string {
	if arn == "" {
		return nil
	}
	out := []string{arn}
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 {
		return out
	}
	res := strings.Split(parts[5], "/")
	switch {
	case parts[2] == "iam" && len(res) > 2 && (res[0] == "user" || res[0] == "role"):
		out = append(out, strings.Join(parts[:5], ":")+":"+res[0]+"/"+res[len(res)-1])
	case parts[2] == "sts" && len(res) >= 2 && res[0] == "assumed-role":
		out = append(out, parts[0]+":"+parts[1]+":iam::"+parts[4]+":role/"+res[1])
	}
	return out
}

// arnPattern compiles a protected-principal pattern: * matches any run of
// characters and ? one character (as the AWS actions match them), and ARNs
// compare case-insensitively (IAM names are unique regardless of case).
func arnPattern(p string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("(?i)^")
	for _, r := range p {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}
