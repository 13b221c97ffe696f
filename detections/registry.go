package detections

import "sort"

// ActionSpec describes a remediation action's parameters: the contract a
// detection's [remediation] params are checked against. The implementations
// live with the AWS integration.
type ActionSpec struct {
	Required []string
	Optional []string
	// OneOf, when set, needs exactly one of these params to be given.
	OneOf []string
}

// Registry is the remediation action registry (DESIGN.md).
var Registry = map[string]ActionSpec{
	"cloudtrail.start_logging": {Required: []string{"account", "region", "trail"}},
	"iam.disable_access_key":   {Required: []string{"account", "user", "key"}},
	"s3.block_public_access":   {Required: []string{"account", "bucket"}},
	"ec2.revoke_open_ingress":  {Required: []string{"account", "region", "group"}},
	"iam.revoke_role_sessions": {Required: []string{"account", "role"}},
	"iam.revoke_user_sessions": {Required: []string{"account", "user"}},
	"iam.quarantine_principal": {Required: []string{"account"}, OneOf: []string{"user", "role"}},
}

// ActionNames lists the registry's action names, sorted.
func ActionNames() []string {
	names := make([]string, 0, len(Registry))
	for n := range Registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
