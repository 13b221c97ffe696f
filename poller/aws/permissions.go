package aws

import (
	"encoding/json"
	"slices"
)

// Permissions are the IAM actions one remediation needs in the responder
// role: Apply's (snapshot, change, verify) and, separately, Revert's.
type Permissions struct {
	Apply  []string
	Revert []string
}

// ActionPermissions is what each action calls, as IAM permissions. A test
// records every call the actions make against the emulator and checks it is
// covered here, so this table cannot drift from the code.
var ActionPermissions = map[string]Permissions{
	ActionStartLogging: {
		Apply: []string{"cloudtrail:GetTrailStatus", "cloudtrail:StartLogging"},
		// No Revert: patrol never stops a trail.
	},
	ActionDisableAccessKey: {
		Apply:  []string{"iam:ListAccessKeys", "iam:UpdateAccessKey"},
		Revert: []string{"iam:ListAccessKeys", "iam:UpdateAccessKey"},
	},
	ActionBlockPublicAccess: {
		// S3 authorizes GetPublicAccessBlock with s3:GetBucketPublicAccessBlock
		// and both Put- and DeletePublicAccessBlock with s3:PutBucketPublicAccessBlock.
		Apply:  []string{"s3:GetBucketLocation", "s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock"},
		Revert: []string{"s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock"},
	},
	ActionRevokeOpenIngress: {
		Apply:  []string{"ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules", "ec2:RevokeSecurityGroupIngress"},
		Revert: []string{"ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules", "ec2:AuthorizeSecurityGroupIngress"},
	},
	ActionRevokeSessions: {
		Apply:  []string{"iam:ListRolePolicies", "iam:GetRolePolicy", "iam:PutRolePolicy"},
		Revert: []string{"iam:ListRolePolicies", "iam:GetRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy"},
	},
	ActionRevokeUserSessions: {
		Apply:  []string{"iam:ListUserPolicies", "iam:GetUserPolicy", "iam:PutUserPolicy"},
		Revert: []string{"iam:ListUserPolicies", "iam:GetUserPolicy", "iam:PutUserPolicy", "iam:DeleteUserPolicy"},
	},
	ActionQuarantine: {
		Apply: []string{"iam:ListUserPolicies", "iam:GetUserPolicy", "iam:PutUserPolicy",
			"iam:ListRolePolicies", "iam:GetRolePolicy", "iam:PutRolePolicy"},
		Revert: []string{"iam:ListUserPolicies", "iam:GetUserPolicy", "iam:PutUserPolicy", "iam:DeleteUserPolicy",
			"iam:ListRolePolicies", "iam:GetRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy"},
	},
}

// EnricherPermissions are the read-only calls of the principal enricher,
// made through the same responder role in the event's account.
var EnricherPermissions = []string{"iam:ListUserTags", "iam:ListRoleTags", "iam:ListMFADevices", "iam:GetAccessKeyLastUsed"}

// PathPermissions read a principal's IAM path, before an action that
// changes a user or role, when a protected_principals pattern with a path
// matches its name.
var PathPermissions = []string{"iam:GetUser", "iam:GetRole"}

// OrganizationsPermissions are the account enricher's calls, made with
// organizations_role_arn (or the ambient credentials) in the management or
// delegated-administrator account.
var OrganizationsPermissions = []string{"organizations:DescribeAccount", "organizations:ListTagsForResource"}

// ResponderPolicy renders the least-privilege identity policy for the
// responder role: the permissions of the given actions (all of them when
// none are named), with revert, plus the enricher's reads. Actions that
// cannot be scoped by resource (the EC2 and IAM reads) are granted on "*";
// the writes are scoped to the resource types they change.
func ResponderPolicy(actions ...string) string {
	if len(actions) == 0 {
		for name := range ActionPermissions {
			actions = append(actions, name)
		}
	}
	perms := slices.Concat(EnricherPermissions, PathPermissions)
	for _, a := range actions {
		perms = append(perms, ActionPermissions[a].Apply...)
		perms = append(perms, ActionPermissions[a].Revert...)
	}
	slices.Sort(perms)
	perms = slices.Compact(perms)

	type statement struct {
		Sid      string   `json:"Sid"`
		Effect   string   `json:"Effect"`
		Action   []string `json:"Action"`
		Resource []string `json:"Resource"`
	}
	groups := []struct {
		sid      string
		resource []string
		match    func(string) bool
	}{
		{"PatrolIAMUsersAndRoles", []string{"arn:aws:iam::*:user/*", "arn:aws:iam::*:role/*"},
			func(p string) bool { return len(p) > 4 && p[:4] == "iam:" }},
		{"PatrolS3Buckets", []string{"arn:aws:s3:::*"},
			func(p string) bool { return len(p) > 3 && p[:3] == "s3:" }},
		{"PatrolSecurityGroups", []string{"arn:aws:ec2:*:*:security-group/*"},
			func(p string) bool {
				return p == "ec2:RevokeSecurityGroupIngress" || p == "ec2:AuthorizeSecurityGroupIngress"
			}},
		{"PatrolEC2Reads", []string{"*"},
			func(p string) bool { return len(p) > 12 && p[:12] == "ec2:Describe" }},
		{"PatrolCloudTrail", []string{"arn:aws:cloudtrail:*:*:trail/*"},
			func(p string) bool { return len(p) > 11 && p[:11] == "cloudtrail:" }},
	}
	var stmts []statement
	for _, g := range groups {
		var acts []string
		for _, p := range perms {
			if g.match(p) {
				acts = append(acts, p)
			}
		}
		if len(acts) > 0 {
			stmts = append(stmts, statement{Sid: g.sid, Effect: "Allow", Action: acts, Resource: g.resource})
		}
	}
	doc := struct {
		Version   string      `json:"Version"`
		Statement []statement `json:"Statement"`
	}{"2012-10-17", stmts}
	b, _ := json.MarshalIndent(doc, "", "  ")
	return string(b)
}
