package aws

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/patrolsec/patrol/poller"
)

// TestApplyReadsThePathOfProtectedPrincipals: the actions check protected
// patterns again before they change anything, reading the principal's
// IAM path when a pattern names one, whatever the respond job decided.
func TestApplyReadsThePathOfProtectedPrincipals(t *testing.T) {
	t.Parallel()
	c := iam.NewFromConfig(adminConfig(t, defaultAccount))
	admin, dev := uniq("bg"), uniq("bg")
	for user, path := range map[string]string{admin: "/admins/", dev: "/dev/"} {
		must(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user), Path: aws.String(path)}))(t)
	}
	role := uniq("org-admin")
	createRole(t, c, role)
	p := motoProvider(t, func(c *Config, _ *Options) {
		c.ProtectedPrincipals = []string{"arn:aws:iam::*:user/admins/" + admin, "arn:aws:iam::*:user/admins/" + dev, "arn:aws:iam::*:role/ops/" + role, "arn:aws:iam::*:user/admins/ghost*"}
	})
	q := p.Actions()[ActionQuarantine]
	apply := func(params map[string]string) error {
		pl := must(q.Plan(ctx, poller.ActionRequest{Params: params, TicketKey: "SEC-9"}))(t)
		_, err := q.Apply(ctx, pl)
		return err
	}
	err := apply(map[string]string{"account": defaultAccount, "user": admin})
	if err == nil || !strings.Contains(err.Error(), "user/admins/"+admin) || !strings.Contains(err.Error(), "is protected") {
		t.Errorf("user at /admins/: %v", err)
	}
	if err := apply(map[string]string{"account": defaultAccount, "user": dev}); err != nil {
		t.Errorf("user at /dev/ (protected at /admins/ only): %v", err)
	}
	// The role lives at "/", not "/ops/": not protected.
	if err := apply(map[string]string{"account": defaultAccount, "role": role}); err != nil {
		t.Errorf("role at /: %v", err)
	}
	// A user IAM does not know: its path cannot be read, so it stays protected.
	err = apply(map[string]string{"account": defaultAccount, "user": uniq("ghost")})
	if err == nil || !strings.Contains(err.Error(), "could not be read") {
		t.Errorf("unknown user: %v", err)
	}
}
