package aws

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// The action registry's names, as detections write them.
const (
	ActionStartLogging       = "cloudtrail.start_logging"
	ActionDisableAccessKey   = "iam.disable_access_key"
	ActionBlockPublicAccess  = "s3.block_public_access"
	ActionRevokeOpenIngress  = "ec2.revoke_open_ingress"
	ActionRevokeSessions     = "iam.revoke_role_sessions"
	ActionRevokeUserSessions = "iam.revoke_user_sessions"
	ActionQuarantine         = "iam.quarantine_principal"
)

// ticketParam carries the ticket key from Plan to Apply inside Plan.Params,
// so the calls of a plan stored and applied later still name the ticket
// (see appID). Detections cannot set it.
const ticketParam = "ticket"

// Shapes of the names AWS accepts. Params are rendered from event fields an
// attacker may control, so anything else is refused before it reaches an
// API call: a multivalue field rendered as "a, b", a path, a wildcard.
var (
	iamNameRE   = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	accessKeyRE = regexp.MustCompile(`^AKIA[A-Z0-9]{12,124}$`)
	bucketRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	groupRE     = regexp.MustCompile(`^sg-[0-9a-f]{8,17}$`)
	trailNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{2,127}$`)
)

// params is an action's rendered parameters, trimmed.
type params map[string]string

// readParams trims in and rejects keys the action does not take, so a typo
// in a detection ("usr") is an error, not a silently ignored parameter.
func readParams(in map[string]string, allowed ...string) (params, error) {
	out := params{}
	var unknown []string
	for k, v := range in {
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, k)
			continue
		}
		out[k] = strings.TrimSpace(v)
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("unknown param %s (this action takes %s)", strings.Join(unknown, ", "), strings.Join(allowed, ", "))
	}
	return out, nil
}

// need returns params[key] when it matches re.
func (ps params) need(key string, re *regexp.Regexp, want string) (string, error) {
	v := ps[key]
	if v == "" {
		return "", fmt.Errorf("param %s is required", key)
	}
	if !re.MatchString(v) {
		return "", fmt.Errorf("param %s: %q is not %s", key, v, want)
	}
	return v, nil
}

func (ps params) account() (string, error) {
	return ps.need("account", accountRE, "a 12-digit account id")
}

func (ps params) region() (string, error) {
	return ps.need("region", regionRE, "an AWS region like us-east-1")
}

// userARN and roleARN build the principal ARN that protected_principals are
// matched against. IAM paths are not in events' user names, so they are not
// in these ARNs either; a protected pattern with a path has the principal's
// path read from IAM before it is matched (see protected).
func (p *Provider) userARN(account, name string) string {
	return fmt.Sprintf("arn:%s:iam::%s:user/%s", p.partition(), account, name)
}

func (p *Provider) roleARN(account, name string) string {
	return fmt.Sprintf("arn:%s:iam::%s:role/%s", p.partition(), account, name)
}
