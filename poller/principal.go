package poller

import (
	"context"
	"fmt"
	"regexp"
	"strings"
)

// Principal is an IAM user or role as the guardrails see it.
type Principal struct {
	Partition string
	Account   string
	Kind      string // "user" or "role"
	Path      string // "/admins/"; "/" for the root path
	Name      string
	// PathKnown says Path is the principal's real IAM path. An ARN built
	// from a name (what actions plan with) or an assumed-role session does
	// not carry the path; the ARN of a user or role as IAM and CloudTrail
	// write it does.
	PathKnown bool
}

// ParsePrincipal reads an IAM user or role ARN
// (arn:aws:iam::111122223333:user/admins/break-glass), or an STS
// assumed-role session ARN (its role, path unknown), in any partition.
// pathKnown says whether an IAM ARN without a path means the root path
// (an ARN IAM or CloudTrail wrote) or only "no path given" (an ARN built
// from a name). It reports false for anything else (root, federated users,
// services).
func ParsePrincipal(arn string, pathKnown bool) (Principal, bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[4] == "" {
		return Principal{}, false
	}
	res := parts[5]
	switch parts[2] {
	case "iam":
		kind, rest, ok := strings.Cut(res, "/")
		if !ok || (kind != "user" && kind != "role") || rest == "" {
			return Principal{}, false
		}
		p := Principal{Partition: parts[1], Account: parts[4], Kind: kind, Path: "/", Name: rest, PathKnown: pathKnown}
		if i := strings.LastIndexByte(rest, '/'); i >= 0 {
			p.Path, p.Name, p.PathKnown = "/"+rest[:i+1], rest[i+1:], true
		}
		return p, p.Name != ""
	case "sts":
		f := strings.Split(res, "/")
		if len(f) >= 2 && f[0] == "assumed-role" && f[1] != "" {
			return Principal{Partition: parts[1], Account: parts[4], Kind: "role", Path: "/", Name: f[1]}, true
		}
	}
	return Principal{}, false
}

// ARN is the principal's IAM ARN, with its path when it is known.
func (p Principal) ARN() string {
	path := p.Path
	if !p.PathKnown {
		path = "/"
	}
	return "arn:" + p.Partition + ":iam::" + p.Account + ":" + p.Kind + path + p.Name
}

// PrincipalPattern is one protected_principals entry: an IAM user or role
// ARN with * and ? wildcards. Written with an IAM path it matches only
// principals at that path; without one, the name at any path. The
// partition is not compared (a pattern protects the principal in every
// partition), and names compare without regard to case, as IAM's do.
type PrincipalPattern struct {
	Raw  string
	kind string
	// account and name match those parts; res matches path and name
	// together ("admins/*" covers everything under /admins/).
	account, name, res *regexp.Regexp
	hasPath            bool
}

// ParsePrincipalPattern checks and compiles a protected_principals entry.
func ParsePrincipalPattern(s string) (PrincipalPattern, error) {
	bad := func(why string) (PrincipalPattern, error) {
		return PrincipalPattern{}, fmt.Errorf("%q is not an IAM user or role ARN pattern (%s), like arn:aws:iam::*:user/break-glass or arn:aws:iam::*:role/admins/OrganizationAccountAccessRole", s, why)
	}
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return bad("an ARN has six parts: arn:partition:iam::account:user/name")
	}
	if parts[1] == "" {
		return bad("no partition")
	}
	if parts[2] != "iam" || parts[3] != "" {
		return bad("the service must be iam, with an empty region")
	}
	if strings.Trim(parts[4], "0123456789*?") != "" || parts[4] == "" {
		return bad("the account must be 12 digits or a wildcard")
	}
	kind, rest, ok := strings.Cut(parts[5], "/")
	if !ok || (kind != "user" && kind != "role") || rest == "" {
		return bad("the resource must be user/NAME or role/NAME, optionally with a path")
	}
	p := PrincipalPattern{Raw: s, kind: kind, account: glob(parts[4]), name: glob(rest), res: glob(rest)}
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		if rest[i+1:] == "" {
			return bad("it ends in /: give a name, or * for every name at the path")
		}
		p.hasPath, p.name = true, glob(rest[i+1:])
	}
	return p, nil
}

// pathMatch is the answer of PrincipalPattern.match.
type pathMatch int

const (
	noMatch pathMatch = iota
	isMatch
	needsPath // matches by name; the pattern names a path the principal's ARN does not carry
)

func (pp PrincipalPattern) match(p Principal) pathMatch {
	if pp.kind != p.Kind || !pp.account.MatchString(p.Account) || !pp.name.MatchString(p.Name) {
		return noMatch
	}
	switch {
	case !pp.hasPath:
		return isMatch
	case !p.PathKnown:
		return needsPath
	case pp.res.MatchString(strings.TrimPrefix(p.Path, "/") + p.Name):
		return isMatch
	}
	return noMatch
}

// glob compiles an IAM wildcard pattern: * any run of characters, ? one;
// case-insensitive.
func glob(p string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("(?is)^")
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

// PathResolver returns the ARN of an IAM user or role with its real IAM
// path, given an ARN that may not carry it.
type PathResolver func(ctx context.Context, arn string) (string, error)

// Protection says which protected_principals pattern covers a principal.
type Protection struct {
	Pattern string
	// ARN is the principal as matched: with its IAM path when it had to be
	// read.
	ARN string
	// PathErr is set when a pattern with a path matched the principal's
	// name but its path could not be read: it is then protected, since it
	// may be the one the pattern names.
	PathErr error
}

func (p Protection) String() string {
	if p.PathErr != nil {
		return fmt.Sprintf("%s matches %s by name and its IAM path could not be read (%v)", p.ARN, p.Pattern, p.PathErr)
	}
	return fmt.Sprintf("%s matches %s", p.ARN, p.Pattern)
}

// ProtectedBy returns the pattern that protects the principal arn, if any.
// Patterns that do not parse protect nothing (validation rejects them). A
// pattern with a path that matches the principal by name, when arn does
// not carry the path, has resolve read it; without resolve, or when that
// fails, the principal counts as protected.
func ProtectedBy(ctx context.Context, patterns []string, arn string, pathKnown bool, resolve PathResolver) (Protection, bool) {
	p, ok := ParsePrincipal(arn, pathKnown)
	if !ok {
		return Protection{}, false
	}
	resolved := false
	for _, raw := range patterns {
		pp, err := ParsePrincipalPattern(raw)
		if err != nil {
			continue
		}
		m := pp.match(p)
		if m == needsPath && !resolved {
			resolved = true
			var err error
			if resolve == nil {
				err = fmt.Errorf("nothing can look it up")
			} else if full, rerr := resolve(ctx, p.ARN()); rerr != nil {
				err = rerr
			} else if rp, ok := ParsePrincipal(full, true); ok && rp.Kind == p.Kind && strings.EqualFold(rp.Name, p.Name) {
				arn, p = full, rp
				m = pp.match(p)
			} else {
				err = fmt.Errorf("IAM answered %q", full)
			}
			if err != nil {
				return Protection{Pattern: raw, ARN: arn, PathErr: err}, true
			}
		}
		if m == needsPath { // resolved before, and still without a path: cannot happen, but fail closed
			return Protection{Pattern: raw, ARN: arn, PathErr: fmt.Errorf("no path")}, true
		}
		if m == isMatch {
			return Protection{Pattern: raw, ARN: arn}, true
		}
	}
	return Protection{}, false
}
