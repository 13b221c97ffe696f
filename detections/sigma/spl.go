package sigma

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// CloudTrail's record fields that hold a JSON object or array: Splunk
// extracts only their leaves (requestParameters.bucketName), so a rule that
// matches one of them as a whole is matched against its JSON text, which
// `spath` extracts.
var containers = map[string]bool{
	"userIdentity": true, "userIdentity.sessionContext": true, "userIdentity.sessionContext.attributes": true,
	"userIdentity.sessionContext.sessionIssuer": true, "userIdentity.sessionContext.webIdFederationData": true,
	"requestParameters": true, "responseElements": true, "additionalEventData": true, "resources": true,
	"serviceEventDetails": true, "tlsDetails": true, "insightDetails": true, "edgeDeviceDetails": true,
}

// absentAs are the fields the Splunk Add-on for AWS (and the local engine)
// fill in when the record has none: a successful call has no errorCode in
// CloudTrail, and errorCode=success in Splunk. A Sigma null or |exists test
// on them is written so that it means what it means in the record.
var absentAs = map[string]string{"errorCode": "success"}

// fieldNameRE is what the converter writes unquoted; other names are
// refused, since a quote, backtick or space in a field name could change
// the search.
var fieldNameRE = regexp.MustCompile(`^[A-Za-z0-9_@][A-Za-z0-9_.@{}-]*$`)

// splField is a Sigma field's Splunk name: CloudTrail's resources is an
// array, which Splunk marks with {}.
func splField(f string) string {
	if rest, ok := strings.CutPrefix(f, "resources."); ok {
		return "resources{}." + rest
	}
	return f
}

func checkFields(e expr) error {
	var err error
	walk(e, func(l leaf) {
		for _, f := range []string{l.field, refField(l)} {
			if f != "" && !fieldNameRE.MatchString(f) && err == nil {
				err = unsupported(0, "field name %q cannot be written in SPL (letters, digits, _ . @ - {} only)", f)
			}
		}
	})
	return err
}

func refField(l leaf) string {
	if l.kind == kindFieldRef {
		return l.value
	}
	return ""
}

func walk(e expr, fn func(leaf)) {
	switch x := e.(type) {
	case leaf:
		fn(x)
	case andExpr:
		for _, k := range x.kids {
			walk(k, fn)
		}
	case orExpr:
		for _, k := range x.kids {
			walk(k, fn)
		}
	case notExpr:
		walk(x.kid, fn)
	}
}

// searchable reports whether the search command can test l: Splunk's
// search has * but no single-character wildcard, cannot escape a literal *,
// compares ignoring case, and expands backtick macros anywhere.
func searchable(l leaf) bool {
	switch l.kind {
	case kindNull, kindExists, kindCompare:
		return true
	case kindPattern:
		if l.cased {
			return false
		}
		for _, p := range l.glob {
			if p.one || strings.ContainsAny(p.lit, "*`") || hasControl(p.lit) {
				return false
			}
		}
		return true
	}
	return false
}

func hasControl(s string) bool {
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

// needs reports what an expression needs beyond the leading search: eval
// (where) and the JSON text of container fields (spath).
func needs(e expr) (eval bool, spath []string) {
	walk(e, func(l leaf) {
		if !searchable(l) {
			eval = true
		}
		for _, f := range []string{l.field, refField(l)} {
			if containers[f] {
				spath = append(spath, f)
			}
		}
	})
	return eval, spath
}

// quote writes s as a double-quoted SPL string.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func searchValue(g []globPart) string {
	var b strings.Builder
	for _, p := range g {
		if p.star {
			b.WriteByte('*')
		} else {
			b.WriteString(p.lit)
		}
	}
	return quote(b.String())
}

func absent(f string) string {
	if v, ok := absentAs[f]; ok {
		return fmt.Sprintf("(NOT %s=* OR %s=%s)", f, f, quote(v))
	}
	return "NOT " + f + "=*"
}

func present(f string) string {
	if v, ok := absentAs[f]; ok {
		return fmt.Sprintf("(%s=* NOT %s=%s)", f, f, quote(v))
	}
	return f + "=*"
}

func leafSearch(l leaf) string {
	f := splField(l.field)
	switch l.kind {
	case kindNull:
		return absent(f)
	case kindExists:
		if l.exist {
			return present(f)
		}
		return absent(f)
	case kindCompare:
		return f + l.op + l.value
	}
	return f + "=" + searchValue(l.glob)
}

// renderSearch writes e in the search command's syntax. nested wraps ANDs
// and ORs in parentheses (search binds OR tighter than AND, so the
// parentheses are for the reader as much as for the parser).
func renderSearch(e expr, nested bool) string {
	switch x := e.(type) {
	case leaf:
		return leafSearch(x)
	case notExpr:
		return "NOT " + renderSearch(x.kid, true)
	case andExpr:
		s := join(x.kids, " ", func(k expr) string { return renderSearch(k, true) })
		if nested {
			return "(" + s + ")"
		}
		return s
	case orExpr:
		if in := renderIn(x); in != "" {
			return in
		}
		s := join(x.kids, " OR ", func(k expr) string { return renderSearch(k, true) })
		if nested {
			return "(" + s + ")"
		}
		return s
	}
	panic(fmt.Sprintf("sigma: unexpected node %T", e))
}

// renderIn writes an OR of plain values of one field as field IN (...).
func renderIn(o orExpr) string {
	var f string
	var vals []string
	for _, k := range o.kids {
		l, ok := k.(leaf)
		if !ok || l.kind != kindPattern || f != "" && l.field != f {
			return ""
		}
		f = l.field
		vals = append(vals, searchValue(l.glob))
	}
	return splField(f) + " IN (" + strings.Join(vals, ", ") + ")"
}

func join(kids []expr, sep string, fn func(expr) string) string {
	parts := make([]string, len(kids))
	for i, k := range kids {
		parts[i] = fn(k)
	}
	return strings.Join(parts, sep)
}

// leafEval writes l as a where expression that is always true or false,
// never null, so that NOT and OR over it keep Sigma's meaning for events
// that lack the field.
func leafEval(l leaf) string {
	if searchable(l) {
		return "searchmatch(" + quote(leafSearch(l)) + ")"
	}
	f := "'" + splField(l.field) + "'"
	switch l.kind {
	case kindRegex:
		return fmt.Sprintf("(isnotnull(%s) AND match(%s, %s))", f, f, quote(strings.ReplaceAll(l.value, "`", `\x60`)))
	case kindCIDR:
		return fmt.Sprintf("(isnotnull(%s) AND cidrmatch(%s, %s))", f, quote(l.value), f)
	case kindFieldRef:
		g := "'" + splField(l.value) + "'"
		if l.cased {
			return fmt.Sprintf("(isnotnull(%s) AND isnotnull(%s) AND %s==%s)", f, g, f, g)
		}
		return fmt.Sprintf("(isnotnull(%s) AND isnotnull(%s) AND lower(%s)==lower(%s))", f, g, f, g)
	}
	return fmt.Sprintf("(isnotnull(%s) AND match(%s, %s))", f, f, quote(globRegexp(l.glob, l.cased)))
}

// globRegexp writes a Sigma pattern as an anchored regular expression.
func globRegexp(g []globPart, cased bool) string {
	var b strings.Builder
	if !cased {
		b.WriteString("(?i)")
	}
	b.WriteString("(?s)^")
	for _, p := range g {
		switch {
		case p.star:
			b.WriteString(".*")
		case p.one:
			b.WriteString(".")
		default:
			for _, c := range p.lit {
				switch {
				case strings.ContainsRune(`\.+*?()|[]{}^$`, c):
					b.WriteByte('\\')
					b.WriteRune(c)
				case c < 0x20 || c == 0x7f || c == '`':
					fmt.Fprintf(&b, `\x%02x`, c)
				default:
					b.WriteRune(c)
				}
			}
		}
	}
	b.WriteString("$")
	return b.String()
}

func renderEval(e expr) string {
	if eval, _ := needs(e); !eval {
		// a part the search command can test on its own: one searchmatch
		return "searchmatch(" + quote(renderSearch(e, false)) + ")"
	}
	switch x := e.(type) {
	case leaf:
		return leafEval(x)
	case notExpr:
		return "NOT " + renderEval(x.kid)
	case andExpr:
		return "(" + join(x.kids, " AND ", renderEval) + ")"
	case orExpr:
		return "(" + join(x.kids, " OR ", renderEval) + ")"
	}
	panic(fmt.Sprintf("sigma: unexpected node %T", e))
}

// Search is the SPL of a condition: the leading search holds every
// top-level conjunct the search command can test (so that it narrows the
// events read), container fields are extracted with spath, and what needs
// eval (regular expressions, CIDR ranges, field references, ? wildcards,
// case-sensitive values) goes to where.
func buildSearch(e expr) []string {
	conjs := []expr{e}
	if a, ok := e.(andExpr); ok {
		conjs = a.kids
	}
	var lead, after, where []string
	spaths := map[string]bool{}
	for _, c := range conjs {
		eval, sp := needs(c)
		for _, f := range sp {
			spaths[f] = true
		}
		switch {
		case eval:
			w := renderEval(c)
			where = append(where, w)
		case len(sp) > 0:
			after = append(after, renderSearch(c, len(conjs) > 1))
		default:
			lead = append(lead, renderSearch(c, len(conjs) > 1))
		}
	}
	lines := []string{strings.TrimSpace("`cloudtrail` " + strings.Join(lead, " "))}
	var sp []string
	for f := range spaths {
		sp = append(sp, f)
	}
	sort.Strings(sp)
	for _, f := range sp {
		lines = append(lines, fmt.Sprintf("| spath output=%s path=%s", f, f))
	}
	if len(after) > 0 {
		lines = append(lines, "| search "+strings.Join(after, " "))
	}
	for _, w := range where {
		lines = append(lines, "| where "+w)
	}
	return lines
}
