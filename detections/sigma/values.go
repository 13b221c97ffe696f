package sigma

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// leaf is one test of one field against one value.
type leaf struct {
	field string // the field as the rule names it
	kind  leafKind
	glob  []globPart // kindPattern
	cased bool       // kindPattern, kindFieldRef: match case
	value string     // kindRegex: the pattern with flags; kindCIDR: the prefix; kindFieldRef: the other field; kindCompare: the number
	op    string     // kindCompare: < <= > >=
	exist bool       // kindExists: must exist (true) or must not (false)
}

type leafKind int

const (
	kindPattern  leafKind = iota // equals, with * and ? wildcards
	kindNull                     // the field is absent (null)
	kindExists                   // |exists
	kindRegex                    // |re
	kindCIDR                     // |cidr
	kindFieldRef                 // |fieldref
	kindCompare                  // |lt |lte |gt |gte
)

// globPart is a run of literal text, or a wildcard.
type globPart struct {
	lit  string
	star bool // * any run of characters
	one  bool // ? one character
}

// knownModifiers are the modifiers of the Sigma specification (modifiers
// appendix 2.1.0); the ones patrol cannot convert say why.
var knownModifiers = map[string]string{
	"contains": "", "startswith": "", "endswith": "", "all": "", "re": "", "i": "", "m": "", "s": "",
	"cidr": "", "exists": "", "fieldref": "", "cased": "", "lt": "", "lte": "", "gt": "", "gte": "",
	"expand":       "placeholders (|expand) need values from your environment, which patrol does not resolve: replace the placeholder with the values, or write the filter as a patrol macro",
	"base64":       "encoding modifiers (|base64) are not supported",
	"base64offset": "encoding modifiers (|base64offset) are not supported",
	"utf16le":      "encoding modifiers (|utf16le) are not supported",
	"utf16be":      "encoding modifiers (|utf16be) are not supported",
	"utf16":        "encoding modifiers (|utf16) are not supported",
	"wide":         "encoding modifiers (|wide) are not supported",
	"windash":      "|windash (Windows command-line dashes) is not supported",
	"neq":          "|neq is not supported: write the value in a filter and negate it in the condition",
	"minute":       "time modifiers (|minute) are not supported", "hour": "time modifiers (|hour) are not supported",
	"day": "time modifiers (|day) are not supported", "week": "time modifiers (|week) are not supported",
	"month": "time modifiers (|month) are not supported", "year": "time modifiers (|year) are not supported",
}

// expandSearch turns a search identifier into an expression over leaves:
// alternatives ORed, the items of each ANDed, an item's values ORed (ANDed
// with |all).
func expandSearch(s *Search) (expr, error) {
	if s.Keywords {
		return nil, unsupported(s.Line, "search identifier %s lists keywords (values without a field), which are not supported: name the CloudTrail field to match", s.Name)
	}
	var alts []expr
	for _, items := range s.Alts {
		var all []expr
		for _, it := range items {
			e, err := itemExpr(it)
			if err != nil {
				return nil, err
			}
			all = append(all, e)
		}
		if len(all) == 0 {
			return nil, unsupported(s.Line, "search identifier %s is empty", s.Name)
		}
		alts = append(alts, flatten(andExpr{all}))
	}
	return flatten(orExpr{alts}), nil
}

func itemExpr(it *Item) (expr, error) {
	if it.Field == "" {
		return nil, unsupported(it.Line, "keyword searches (values without a field) are not supported: name the CloudTrail field to match")
	}
	mods := map[string]bool{}
	for _, m := range it.Modifiers {
		why, known := knownModifiers[m]
		if !known {
			return nil, unsupported(it.Line, "unknown modifier %q on %s", m, it.Field)
		}
		if why != "" {
			return nil, unsupported(it.Line, "%s: %s", it.Field, why)
		}
		mods[m] = true
	}
	if err := checkModifiers(it, mods); err != nil {
		return nil, err
	}
	var kids []expr
	for _, v := range it.Values {
		l, err := valueLeaf(it, mods, v)
		if err != nil {
			return nil, err
		}
		kids = append(kids, l)
	}
	if mods["all"] {
		return flatten(andExpr{kids}), nil
	}
	return flatten(orExpr{kids}), nil
}

func checkModifiers(it *Item, mods map[string]bool) error {
	n := 0
	for _, m := range []string{"contains", "startswith", "endswith"} {
		if mods[m] {
			n++
		}
	}
	kinds := 0
	for _, m := range []string{"re", "cidr", "exists", "fieldref", "lt", "lte", "gt", "gte"} {
		if mods[m] {
			kinds++
		}
	}
	switch {
	case n > 1:
		return unsupported(it.Line, "%s: contains, startswith and endswith exclude each other", it.Field)
	case kinds > 1 || kinds == 1 && n > 0 && !mods["fieldref"]:
		return unsupported(it.Line, "%s: modifiers %s cannot be combined", it.Field, strings.Join(it.Modifiers, "|"))
	case mods["fieldref"] && n > 0:
		return unsupported(it.Line, "%s: |fieldref with %s is not supported (only equality of two fields)", it.Field, strings.Join(it.Modifiers, "|"))
	case (mods["i"] || mods["m"] || mods["s"]) && !mods["re"]:
		return unsupported(it.Line, "%s: |i, |m and |s apply to |re only", it.Field)
	case mods["cased"] && kinds > 0 && !mods["fieldref"]:
		return unsupported(it.Line, "%s: |cased applies to plain values and fields only", it.Field)
	}
	return nil
}

func valueLeaf(it *Item, mods map[string]bool, v Value) (expr, error) {
	f := it.Field
	switch {
	case mods["exists"]:
		if !v.Bool {
			return nil, unsupported(it.Line, "%s|exists takes true or false", f)
		}
		return leaf{field: f, kind: kindExists, exist: v.S == "true"}, nil
	case v.Null:
		if len(mods) > 0 && !mods["all"] {
			return nil, unsupported(it.Line, "%s: null cannot take modifiers", f)
		}
		return leaf{field: f, kind: kindNull}, nil
	case mods["re"]:
		flags := ""
		for _, fl := range []string{"i", "m", "s"} {
			if mods[fl] {
				flags += fl
			}
		}
		re := v.S
		if flags != "" {
			re = "(?" + flags + ")" + re
		}
		if _, err := regexp.Compile(re); err != nil {
			return nil, unsupported(it.Line, "%s|re: %v (Sigma regular expressions are the portable PCRE subset)", f, err)
		}
		return leaf{field: f, kind: kindRegex, value: re}, nil
	case mods["cidr"]:
		p, err := netip.ParsePrefix(strings.TrimSpace(v.S))
		if err != nil {
			return nil, unsupported(it.Line, "%s|cidr: %q is not a CIDR range", f, v.S)
		}
		return leaf{field: f, kind: kindCIDR, value: p.String()}, nil
	case mods["fieldref"]:
		if v.S == "" {
			return nil, unsupported(it.Line, "%s|fieldref needs a field name", f)
		}
		return leaf{field: f, kind: kindFieldRef, value: v.S, cased: mods["cased"]}, nil
	case mods["lt"], mods["lte"], mods["gt"], mods["gte"]:
		if _, err := strconv.ParseFloat(v.S, 64); err != nil {
			return nil, unsupported(it.Line, "%s: %q is not a number", f, v.S)
		}
		op := map[string]string{"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
		for m, o := range op {
			if mods[m] {
				return leaf{field: f, kind: kindCompare, op: o, value: v.S}, nil
			}
		}
	}
	g := parseGlob(v.S)
	if mods["contains"] || mods["endswith"] {
		g = append([]globPart{{star: true}}, g...)
	}
	if mods["contains"] || mods["startswith"] {
		g = append(g, globPart{star: true})
	}
	return leaf{field: f, kind: kindPattern, glob: simplify(g), cased: mods["cased"]}, nil
}

// parseGlob reads a Sigma string: * and ? are wildcards; a backslash
// escapes *, ? and itself, and stays a plain backslash before anything
// else (Sigma rules specification, "Escaping").
func parseGlob(s string) []globPart {
	var out []globPart
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			out = append(out, globPart{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\') {
				lit.WriteByte(s[i+1])
				i++
			} else {
				lit.WriteByte('\\')
			}
		case '*':
			flush()
			out = append(out, globPart{star: true})
		case '?':
			flush()
			out = append(out, globPart{one: true})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return out
}

// simplify merges adjacent stars.
func simplify(g []globPart) []globPart {
	var out []globPart
	for _, p := range g {
		if p.star && len(out) > 0 && out[len(out)-1].star {
			continue
		}
		out = append(out, p)
	}
	return out
}
