package aws

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/patrolsec/patrol/poller"
)

// planned is what an action makes of its params: everything in a
// poller.Plan except the action name, the ticket and the credentials step,
// which every action shares.
type planned struct {
	Target, Principal, Account, Region string
	Params                             params
	Steps                              []string
}

// parser turns rendered params into the action's typed request and its plan.
// It must be pure: no AWS calls, no side effects. Plan shows its result to
// people; Apply runs it again on the stored plan's params and acts on that.
type parser[T any] func(params map[string]string) (T, planned, error)

// makePlan is the shared half of every action's Plan.
func makePlan[T any](p *Provider, name string, req poller.ActionRequest, parse parser[T]) (poller.Plan, error) {
	if req.Action != "" && req.Action != name {
		return poller.Plan{}, fmt.Errorf("plan %s: request is for action %s", name, req.Action)
	}
	if _, ok := req.Params[ticketParam]; ok {
		return poller.Plan{}, fmt.Errorf("plan %s: param %q is reserved", name, ticketParam)
	}
	_, pl, err := parse(req.Params)
	if err != nil {
		return poller.Plan{}, fmt.Errorf("plan %s: %w", name, err)
	}
	if err := p.notSelf(pl); err != nil {
		return poller.Plan{}, fmt.Errorf("plan %s: %w", name, err)
	}
	cred, err := p.credentialStep(pl.Account, req.TicketKey)
	if err != nil {
		return poller.Plan{}, fmt.Errorf("plan %s: %w", name, err)
	}
	ps := maps.Clone(map[string]string(pl.Params))
	ps[ticketParam] = req.TicketKey
	return poller.Plan{
		Action:    name,
		Target:    pl.Target,
		Principal: pl.Principal,
		Account:   pl.Account,
		Region:    pl.Region,
		Params:    ps,
		Steps:     append([]string{cred}, pl.Steps...),
	}, nil
}

// credentialStep says, in the plan, whose credentials the calls will use.
func (p *Provider) credentialStep(account, ticket string) (string, error) {
	role, err := p.roleFor(account)
	if err != nil {
		return "", err
	}
	if role == "" {
		return fmt.Sprintf("use the ambient credentials; sts:GetCallerIdentity must report account %s", account), nil
	}
	step := fmt.Sprintf("sts:AssumeRole RoleArn=%s RoleSessionName=%s", role, roleSession)
	if p.externalID != "" {
		step += " ExternalId=(set)"
	}
	return step + fmt.Sprintf(" (the account's session, reused until it nears expiry; each call names %s in its user agent)", appID(ticket)), nil
}

// notSelf refuses a plan that would change patrol's own responder role:
// quarantining it or revoking its sessions would lock patrol out of the
// account in the middle of an incident.
func (p *Provider) notSelf(pl planned) error {
	if pl.Principal == "" || pl.Account == "" {
		return nil
	}
	role, err := p.roleFor(pl.Account)
	if err != nil || role == "" {
		return nil
	}
	// The role may have a path; principals are built without one.
	self := p.roleARN(pl.Account, role[strings.LastIndex(role, "/")+1:])
	if strings.EqualFold(self, pl.Principal) {
		return fmt.Errorf("%s is patrol's own responder role", pl.Principal)
	}
	return nil
}

// prepare is the shared half of every action's Apply: it re-derives the
// request from the plan's params, checks that it is the plan the core
// approved and recorded (same target, principal, account and region), checks
// the guardrails once more, and connects to the account.
func prepare[T any](ctx context.Context, p *Provider, name string, pl poller.Plan, parse parser[T]) (T, clientSet, error) {
	var zero T
	if pl.Action != name {
		return zero, nil, fmt.Errorf("apply %s: plan is for action %s", name, pl.Action)
	}
	if p.cfg.DryRun {
		return zero, nil, fmt.Errorf("apply %s: aws.dry_run is on; nothing changed", name)
	}
	req, err := replan(p, name, pl, parse)
	if err != nil {
		return zero, nil, err
	}
	if slices.Contains(p.cfg.ProtectedAccounts, pl.Account) {
		return zero, nil, fmt.Errorf("apply %s: account %s is protected", name, pl.Account)
	}
	// A pattern that protects the principal's name at any path refuses
	// before connecting; one with a path reads the principal's path first.
	if err := p.protected(ctx, nil, pl.Principal); err != nil {
		return zero, nil, fmt.Errorf("apply %s: %w", name, err)
	}
	cs, err := p.connect(ctx, pl.Account, pl.Params[ticketParam])
	if err != nil {
		return zero, nil, fmt.Errorf("apply %s in %s: %w", name, pl.Account, err)
	}
	if err := p.protected(ctx, cs.IAM(), pl.Principal); err != nil {
		return zero, nil, fmt.Errorf("apply %s: %w", name, err)
	}
	return req, cs, nil
}

// prepareRevert is prepare for Revert. Dry run still refuses; protected
// principals do not, since a revert gives back what patrol took. Its
// refusals changed nothing (poller.NothingChanged): the undo stays
// available.
func prepareRevert[T any](ctx context.Context, p *Provider, name string, pl poller.Plan, parse parser[T]) (T, clientSet, error) {
	var zero T
	if pl.Action != name {
		return zero, nil, unchanged(fmt.Errorf("revert %s: plan is for action %s", name, pl.Action))
	}
	if p.cfg.DryRun {
		return zero, nil, unchanged(fmt.Errorf("revert %s: aws.dry_run is on; nothing changed", name))
	}
	req, err := replan(p, name, pl, parse)
	if err != nil {
		return zero, nil, unchanged(err)
	}
	cs, err := p.connect(ctx, pl.Account, pl.Params[ticketParam])
	if err != nil {
		return zero, nil, unchanged(fmt.Errorf("revert %s in %s: %w", name, pl.Account, err))
	}
	return req, cs, nil
}

// unchanged marks err as returned before anything was changed.
func unchanged(err error) error {
	if err == nil {
		return nil
	}
	return poller.NothingChanged{Err: err}
}

// replan parses a stored plan's params again and refuses a plan whose
// target, principal, account or region do not follow from them: a plan
// edited or corrupted on its way through state must not act on something
// other than what the ledger recorded.
func replan[T any](p *Provider, name string, pl poller.Plan, parse parser[T]) (T, error) {
	var zero T
	ps := maps.Clone(pl.Params)
	delete(ps, ticketParam)
	req, want, err := parse(ps)
	if err != nil {
		return zero, fmt.Errorf("%s: stored plan: %w", name, err)
	}
	if err := p.notSelf(want); err != nil {
		return zero, fmt.Errorf("%s: %w", name, err)
	}
	if want.Target != pl.Target || want.Principal != pl.Principal || want.Account != pl.Account || want.Region != pl.Region {
		return zero, fmt.Errorf("%s: stored plan does not match its params (target %q, want %q)", name, pl.Target, want.Target)
	}
	return req, nil
}
