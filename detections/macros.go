package detections

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Macros expands search macros (`name` and `name(arg, ...)`) the way Splunk's
// macros.conf does, before a search goes to any backend. Definitions come from
// [search.macros]: a key "name" is a macro without arguments, a key
// "name(a,b)" one with two arguments, substituted for $a$ and $b$ in the body.
//
// Built in, unless the config defines the same name:
//   - `org_networks(FIELD)`: (cidrmatch("CIDR", FIELD) OR ...) over enrich.org_cidrs
//   - `security_content_ctime(FIELD)`: convert timeformat="%Y-%m-%dT%H:%M:%S" ctime(FIELD)
//   - `NAME_filter` (any macro ending in _filter, no arguments): "search *", a no-op,
//     as Splunk's security content ships them; define one to give it a body.
type Macros struct {
	defs      map[string]macroDef // keyed by name/arity, e.g. "cloudtrail/0"
	noFilters bool
}

type macroDef struct {
	name string
	args []string
	body string
}

var macroKeyRE = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_.:-]*)(?:\(\s*([A-Za-z_][A-Za-z0-9_]*(?:\s*,\s*[A-Za-z_][A-Za-z0-9_]*)*)?\s*\))?$`)

// MacroOptions tunes the built-in macros.
type MacroOptions struct {
	OrgCIDRs []string
	// StrictFilters turns off the `*_filter` no-op: an undefined filter macro
	// is then an error like any other unknown macro.
	StrictFilters bool
}

// NewMacros parses macro definitions. Keys that are not "name" or
// "name(arg,...)" are reported with the key.
func NewMacros(defs map[string]string, opts MacroOptions) (*Macros, error) {
	m := &Macros{defs: map[string]macroDef{}, noFilters: opts.StrictFilters}
	var terms []string
	for _, c := range opts.OrgCIDRs {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			return nil, fmt.Errorf("org_cidrs: %q is not a CIDR (like 203.0.113.0/24)", c)
		}
		terms = append(terms, fmt.Sprintf(`cidrmatch("%s", $field$)`, p.Masked()))
	}
	orgBody := "(1=0)" // no org networks: nothing is ours
	if len(terms) > 0 {
		orgBody = "(" + strings.Join(terms, " OR ") + ")"
	}
	m.defs["org_networks/1"] = macroDef{name: "org_networks", args: []string{"field"}, body: orgBody}
	m.defs["security_content_ctime/1"] = macroDef{name: "security_content_ctime", args: []string{"field"},
		body: `convert timeformat="%Y-%m-%dT%H:%M:%S" ctime($field$)`}
	for key, body := range defs {
		g := macroKeyRE.FindStringSubmatch(strings.TrimSpace(key))
		if g == nil {
			return nil, fmt.Errorf("macro key %q: want name or name(arg1,arg2)", key)
		}
		var args []string
		if g[2] != "" {
			for _, a := range strings.Split(g[2], ",") {
				args = append(args, strings.TrimSpace(a))
			}
		}
		m.defs[fmt.Sprintf("%s/%d", g[1], len(args))] = macroDef{name: g[1], args: args, body: body}
	}
	return m, nil
}

// Expand replaces every macro reference in spl, recursively. Errors name the
// macro and its byte offset in spl. Every undefined macro is reported, each
// as one error of an errors.Join, so that a person fixing a config sees them
// all at once; any other problem stops the expansion.
func (m *Macros) Expand(spl string) (string, error) {
	var unknown []error
	out, err := m.expand(spl, nil, &unknown)
	if err != nil {
		return "", err
	}
	return out, errors.Join(unknown...)
}

func (m *Macros) expand(spl string, stack []string, unknown *[]error) (string, error) {
	if len(stack) > 20 {
		return "", fmt.Errorf("macros nest deeper than 20: %s", strings.Join(stack, " → "))
	}
	var b strings.Builder
	i := 0
	for i < len(spl) {
		c := spl[i]
		if c == '"' { // a quoted string: copy through, macros are not expanded inside
			j := i + 1
			for j < len(spl) && spl[j] != '"' {
				if spl[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(spl) {
				b.WriteString(spl[i:])
				break
			}
			b.WriteString(spl[i : j+1])
			i = j + 1
			continue
		}
		if c != '`' {
			b.WriteByte(c)
			i++
			continue
		}
		end := strings.IndexByte(spl[i+1:], '`')
		if end < 0 {
			return "", fmt.Errorf("unclosed macro backtick at offset %d", i)
		}
		ref := strings.TrimSpace(spl[i+1 : i+1+end])
		out, err := m.call(ref, i, stack, unknown)
		if err != nil {
			return "", err
		}
		b.WriteString(out)
		i += end + 2
	}
	return b.String(), nil
}

func (m *Macros) call(ref string, offset int, stack []string, unknown *[]error) (string, error) {
	name, args, err := splitCall(ref)
	if err != nil {
		return "", fmt.Errorf("macro `%s` at offset %d: %v", ref, offset, err)
	}
	key := fmt.Sprintf("%s/%d", name, len(args))
	def, ok := m.defs[key]
	if !ok {
		if len(args) == 0 && strings.HasSuffix(name, "_filter") && !m.noFilters {
			return "search *", nil
		}
		*unknown = append(*unknown, fmt.Errorf("unknown macro `%s` at offset %d (define %s in [search.macros])", ref, offset, macroSignature(name, len(args))))
		return "`" + ref + "`", nil
	}
	for _, s := range stack {
		if s == key {
			return "", fmt.Errorf("macro `%s` refers to itself: %s → %s", name, strings.Join(stack, " → "), key)
		}
	}
	body := def.body
	for k, a := range def.args {
		body = strings.ReplaceAll(body, "$"+a+"$", args[k])
	}
	return m.expand(body, append(stack, key), unknown)
}

func macroSignature(name string, n int) string {
	if n == 0 {
		return strconv.Quote(name)
	}
	args := make([]string, n)
	for i := range args {
		args[i] = fmt.Sprintf("arg%d", i+1)
	}
	return strconv.Quote(name + "(" + strings.Join(args, ",") + ")")
}

// splitCall splits "name(a, "b,c", f(x))" into name and top-level arguments.
func splitCall(ref string) (string, []string, error) {
	open := strings.IndexByte(ref, '(')
	if open < 0 {
		if ref == "" {
			return "", nil, fmt.Errorf("empty macro name")
		}
		return ref, nil, nil
	}
	if !strings.HasSuffix(ref, ")") {
		return "", nil, fmt.Errorf("missing closing parenthesis")
	}
	name := strings.TrimSpace(ref[:open])
	inner := ref[open+1 : len(ref)-1]
	if strings.TrimSpace(inner) == "" {
		return name, nil, nil
	}
	var args []string
	depth, start, quoted := 0, 0, false
	for i := 0; i < len(inner); i++ {
		switch c := inner[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ',' && depth == 0:
			args = append(args, strings.TrimSpace(inner[start:i]))
			start = i + 1
		}
	}
	if quoted || depth != 0 {
		return "", nil, fmt.Errorf("unbalanced quotes or parentheses in arguments")
	}
	args = append(args, strings.TrimSpace(inner[start:]))
	return name, args, nil
}
