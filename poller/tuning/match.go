// Package tuning mutes what a team has decided it does not need to see,
// without editing any search: per-detection exceptions (results dropped
// before fingerprinting, each with a reason, an owner and an expiry) and
// silences in silences.toml (alerts recorded but not ticketed while a
// maintenance window or a known incident lasts). Both are files people
// review in git; both expire.
package tuning

import (
	"net/netip"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/patrolsec/patrol/poller"
)

// Match is a compiled `match` table: every field must match, a field
// matching when any of its values matches any of the patterns.
type Match []fieldMatch

type fieldMatch struct {
	field    string
	patterns []pattern
	cidrs    bool // some pattern is a CIDR: values are parsed as addresses
}

// pattern is one match value: a CIDR matches the addresses inside it (and
// its own text); anything else is a case-insensitive glob.
type pattern struct {
	prefix netip.Prefix
	cidr   bool
	glob   []rune // lowercased
}

// CompileMatch compiles a match table (field → patterns). An empty table
// matches everything.
func CompileMatch(m map[string][]string) Match {
	fields := make([]string, 0, len(m))
	for f := range m {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	out := make(Match, 0, len(fields))
	for _, f := range fields {
		fm := fieldMatch{field: f}
		for _, v := range m[f] {
			p := compilePattern(v)
			fm.patterns = append(fm.patterns, p)
			fm.cidrs = fm.cidrs || p.cidr
		}
		out = append(out, fm)
	}
	return out
}

func compilePattern(v string) pattern {
	p := pattern{glob: []rune(strings.ToLower(v))}
	if strings.Contains(v, "/") {
		if pre, err := netip.ParsePrefix(strings.TrimSpace(v)); err == nil {
			p.prefix, p.cidr = pre.Masked(), true
		}
	}
	return p
}

// Matches reports whether r matches every field.
func (m Match) Matches(r poller.Result) bool {
	for _, fm := range m {
		if !fm.matches(r[fm.field]) {
			return false
		}
	}
	return true
}

func (fm fieldMatch) matches(values []string) bool {
	for _, v := range values {
		// Each value is lowercased and parsed once, whatever the number
		// of patterns.
		lower := strings.ToLower(v)
		var addr netip.Addr
		isAddr := false
		if fm.cidrs {
			if a, err := netip.ParseAddr(strings.TrimSpace(v)); err == nil {
				addr, isAddr = a.Unmap(), true
			}
		}
		for _, p := range fm.patterns {
			if (p.cidr && isAddr && p.prefix.Contains(addr)) || ((!p.cidr || !isAddr) && Glob(p.glob, lower)) {
				return true
			}
		}
	}
	return false
}

// Glob reports whether s matches the glob pattern: * matches any run of
// characters (slashes included: ARNs are one string), ? one character,
// and a backslash makes the next character literal. Both are compared as
// given (callers lowercase them for case-insensitive matching).
func Glob(pattern []rune, s string) bool {
	// Iterative matching with one backtrack point: linear in practice,
	// never exponential, whatever an event holds.
	var star, mark = -1, 0
	pi, si := 0, 0
	for si < len(s) {
		c, size := utf8.DecodeRuneInString(s[si:])
		if pi < len(pattern) {
			switch p := pattern[pi]; {
			case p == '*':
				star, mark = pi, si
				pi++
				continue
			case p == '?':
				pi++
				si += size
				continue
			case p == '\\' && pi+1 < len(pattern):
				if pattern[pi+1] == c {
					pi += 2
					si += size
					continue
				}
			case p == c:
				pi++
				si += size
				continue
			}
		}
		if star < 0 {
			return false
		}
		_, size = utf8.DecodeRuneInString(s[mark:])
		mark += size
		si = mark
		pi = star + 1
	}
	for pi < len(pattern) && pattern[pi] == '*' {
		pi++
	}
	return pi == len(pattern)
}
