package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// Inline policy names patrol writes. AWSRevokeOlderSessions is the name the
// IAM console's "Revoke active sessions" uses, so a person looking at the
// role recognises it, and a later console revocation replaces it.
const (
	revokeSessionsPolicy     = "AWSRevokeOlderSessions"
	revokeUserSessionsPolicy = "PatrolRevokeOlderSessions"
	quarantinePolicy         = "PatrolQuarantine"
)

// quarantineDocument denies every action on every resource. An explicit
// deny wins over any allow, so this stops the principal without touching
// its other policies, and deleting it restores the principal exactly.
const quarantineDocument = `{"Version":"2012-10-17","Statement":[{"Sid":"PatrolQuarantine","Effect":"Deny","Action":"*","Resource":"*"}]}`

// revokeSessionsDocument is AWS's documented policy for revoking a role's
// active sessions: deny everything to credentials issued before cutoff.
func revokeSessionsDocument(cutoff time.Time) string {
	return revokeSessionsDocumentAt(cutoff.UTC().Format(time.RFC3339))
}

// revokeSessionsDocumentAt is that policy with the cutoff as text: a time,
// or a placeholder in a plan.
func revokeSessionsDocumentAt(cutoff string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":"` + cutoff + `"}}}]}`
}

// revokeCutoff is the time sessions are revoked before: now, rounded up to
// the next second, since the policy's time has second precision and a
// session issued in the current second must not slip through.
func revokeCutoff(now time.Time) time.Time {
	return now.UTC().Truncate(time.Second).Add(time.Second)
}

// decodePolicy turns a document as IAM returns it (URL-encoded JSON, RFC
// 3986) into JSON.
func decodePolicy(doc string) (string, error) {
	if strings.HasPrefix(strings.TrimSpace(doc), "{") {
		return doc, nil
	}
	return url.QueryUnescape(doc)
}

// samePolicy compares two JSON documents by meaning, not by spacing or key
// order.
func samePolicy(a, b string) bool {
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// principalRef is an IAM user or role whose inline policies patrol edits.
type principalRef struct {
	kind string // "user" or "role"
	name string
}

// listPolicies returns the principal's inline policy names. It also tells
// "no such principal" (NoSuchEntity here) from "no such policy", which a
// failed GetUserPolicy alone cannot.
func listPolicies(ctx context.Context, c iamAPI, pr principalRef) ([]string, error) {
	var names []string
	if pr.kind == "user" {
		pages := iam.NewListUserPoliciesPaginator(c, &iam.ListUserPoliciesInput{UserName: aws.String(pr.name)})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return nil, awsError("iam:ListUserPolicies "+pr.name, err)
			}
			names = append(names, page.PolicyNames...)
		}
		return names, nil
	}
	pages := iam.NewListRolePoliciesPaginator(c, &iam.ListRolePoliciesInput{RoleName: aws.String(pr.name)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, awsError("iam:ListRolePolicies "+pr.name, err)
		}
		names = append(names, page.PolicyNames...)
	}
	return names, nil
}

func getPolicy(ctx context.Context, c iamAPI, pr principalRef, policy string) (string, error) {
	var doc string
	if pr.kind == "user" {
		out, err := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String(pr.name), PolicyName: aws.String(policy)})
		if err != nil {
			return "", awsError("iam:GetUserPolicy "+pr.name+" "+policy, err)
		}
		doc = aws.ToString(out.PolicyDocument)
	} else {
		out, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(pr.name), PolicyName: aws.String(policy)})
		if err != nil {
			return "", awsError("iam:GetRolePolicy "+pr.name+" "+policy, err)
		}
		doc = aws.ToString(out.PolicyDocument)
	}
	dec, err := decodePolicy(doc)
	if err != nil {
		return "", fmt.Errorf("policy %s of %s %s: %w", policy, pr.kind, pr.name, err)
	}
	return dec, nil
}

func putPolicy(ctx context.Context, c iamAPI, pr principalRef, policy, doc string) error {
	if pr.kind == "user" {
		_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(pr.name), PolicyName: aws.String(policy), PolicyDocument: aws.String(doc)})
		return awsError("iam:PutUserPolicy "+pr.name+" "+policy, err)
	}
	_, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(pr.name), PolicyName: aws.String(policy), PolicyDocument: aws.String(doc)})
	return awsError("iam:PutRolePolicy "+pr.name+" "+policy, err)
}

func deletePolicy(ctx context.Context, c iamAPI, pr principalRef, policy string) error {
	var err error
	if pr.kind == "user" {
		_, err = c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String(pr.name), PolicyName: aws.String(policy)})
		err = awsError("iam:DeleteUserPolicy "+pr.name+" "+policy, err)
	} else {
		_, err = c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(pr.name), PolicyName: aws.String(policy)})
		err = awsError("iam:DeleteRolePolicy "+pr.name+" "+policy, err)
	}
	return err
}

// readPolicy returns the document of the inline policy, and whether the
// principal has it.
func readPolicy(ctx context.Context, c iamAPI, pr principalRef, policy string) (string, bool, error) {
	names, err := listPolicies(ctx, c, pr)
	if err != nil {
		return "", false, err
	}
	if !slices.Contains(names, policy) {
		return "", false, nil
	}
	doc, err := getPolicy(ctx, c, pr, policy)
	var e *Error
	if errors.As(err, &e) && e.Code == "NoSuchEntity" {
		return "", false, nil // deleted between the two calls
	}
	return doc, err == nil, err
}
