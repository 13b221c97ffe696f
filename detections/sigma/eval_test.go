package sigma_test

// An evaluation of Sigma rules written from the Sigma specification (rules
// specification 2.0.0: search identifiers, lists, maps, wildcards, escaping,
// null, the condition grammar; modifiers appendix 2.1.0), over CloudTrail
// records as JSON. It shares no code with the converter: the equivalence
// test holds the converter's SPL against it.
//
// Conventions where the specification leaves the data model open, the same
// as the converter documents: a field names a dotted path into the record;
// an array on the path stands for each of its elements; a value that is an
// object or array is compared as its JSON text; null means the field is
// absent or JSON null; exists is true for any present field.

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

type evalRule struct {
	detection  map[string]any
	conditions []string
}

func loadEvalRule(path string) (*evalRule, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	det, ok := doc["detection"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: no detection", path)
	}
	r := &evalRule{detection: det}
	switch c := det["condition"].(type) {
	case string:
		r.conditions = []string{c}
	case []any:
		for _, x := range c {
			r.conditions = append(r.conditions, x.(string))
		}
	}
	return r, nil
}

// identifiers are the search identifiers, sorted.
func (r *evalRule) identifiers() []string {
	var out []string
	for k := range r.detection {
		if k != "condition" && k != "timeframe" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// matches evaluates the rule on one record: the conditions are ORed.
func (r *evalRule) matches(rec map[string]any) (bool, error) {
	for _, c := range r.conditions {
		toks := condToken.FindAllString(c, -1)
		e := &condEval{r: r, rec: rec, toks: toks}
		v, err := e.disjunction()
		if err != nil {
			return false, err
		}
		if e.i != len(toks) {
			return false, fmt.Errorf("condition %q: trailing %q", c, toks[e.i:])
		}
		if v {
			return true, nil
		}
	}
	return false, nil
}

var condToken = regexp.MustCompile(`\(|\)|[^\s()]+`)

// compiled caches regular expressions: rules are evaluated on every record.
var compiled = map[string]*regexp.Regexp{}

func compile(pat string) (*regexp.Regexp, error) {
	if re, ok := compiled[pat]; ok {
		return re, nil
	}
	re, err := regexp.Compile(pat)
	if err == nil {
		compiled[pat] = re
	}
	return re, err
}

// condEval evaluates a condition as it parses it: or < and < not < "x of" < ( ).
type condEval struct {
	r    *evalRule
	rec  map[string]any
	toks []string
	i    int
}

func (e *condEval) next() string {
	if e.i >= len(e.toks) {
		return ""
	}
	return e.toks[e.i]
}

func (e *condEval) disjunction() (bool, error) {
	v, err := e.conjunction()
	for err == nil && e.next() == "or" {
		e.i++
		var w bool
		w, err = e.conjunction()
		v = v || w
	}
	return v, err
}

func (e *condEval) conjunction() (bool, error) {
	v, err := e.negation()
	for err == nil && e.next() == "and" {
		e.i++
		var w bool
		w, err = e.negation()
		v = v && w
	}
	return v, err
}

func (e *condEval) negation() (bool, error) {
	t := e.next()
	e.i++
	switch {
	case t == "not":
		v, err := e.negation()
		return !v, err
	case t == "(":
		v, err := e.disjunction()
		if e.next() != ")" {
			return false, fmt.Errorf("missing )")
		}
		e.i++
		return v, err
	case (t == "1" || t == "all" || t == "any") && e.next() == "of":
		e.i++
		target := e.next()
		e.i++
		var names []string
		for _, id := range e.r.identifiers() {
			if target == "them" && !strings.HasPrefix(id, "_") ||
				target != "them" && mustCompile("^"+strings.ReplaceAll(regexp.QuoteMeta(target), `\*`, ".*")+"$").MatchString(id) {
				names = append(names, id)
			}
		}
		if len(names) == 0 {
			return false, fmt.Errorf("%q matches nothing", target)
		}
		for _, n := range names {
			v, err := e.search(n)
			if err != nil {
				return false, err
			}
			if t == "all" && !v {
				return false, nil
			}
			if t != "all" && v {
				return true, nil
			}
		}
		return t == "all", nil
	}
	return e.search(t)
}

// search evaluates a search identifier: a map ANDs its fields, a list of
// maps ORs them.
func (e *condEval) search(name string) (bool, error) {
	def, ok := e.r.detection[name]
	if !ok {
		return false, fmt.Errorf("no search identifier %q", name)
	}
	switch d := def.(type) {
	case map[string]any:
		return matchMap(d, e.rec)
	case []any:
		for _, m := range d {
			mm, ok := m.(map[string]any)
			if !ok {
				return false, fmt.Errorf("%s: keywords are not evaluated", name)
			}
			v, err := matchMap(mm, e.rec)
			if err != nil || v {
				return v, err
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("%s: unexpected %T", name, def)
}

func matchMap(m map[string]any, rec map[string]any) (bool, error) {
	for key, want := range m {
		v, err := matchField(key, want, rec)
		if err != nil || !v {
			return false, err
		}
	}
	return true, nil
}

// matchField applies "field|modifiers: value(s)" to a record.
func matchField(key string, want any, rec map[string]any) (bool, error) {
	parts := strings.Split(key, "|")
	field, mods := parts[0], map[string]bool{}
	for _, m := range parts[1:] {
		mods[m] = true
	}
	values, found := fieldValues(rec, field)
	wants, isList := want.([]any)
	if !isList {
		wants = []any{want}
	}
	one := func(w any) (bool, error) {
		switch {
		case mods["exists"]:
			return w.(bool) == found, nil
		case w == nil:
			for _, v := range values {
				if v != nil {
					return false, nil
				}
			}
			return true, nil
		case mods["fieldref"]:
			others, _ := fieldValues(rec, w.(string))
			for _, a := range values {
				for _, b := range others {
					if a != nil && b != nil && (text(a) == text(b) || !mods["cased"] && strings.EqualFold(text(a), text(b))) {
						return true, nil
					}
				}
			}
			return false, nil
		}
		var test func(string) bool
		switch {
		case mods["re"]:
			flags := ""
			for _, f := range []string{"i", "m", "s"} {
				if mods[f] {
					flags += f
				}
			}
			pat := fmt.Sprint(w)
			if flags != "" {
				pat = "(?" + flags + ")" + pat
			}
			re, err := compile(pat)
			if err != nil {
				return false, err
			}
			test = re.MatchString
		case mods["cidr"]:
			p, err := netip.ParsePrefix(fmt.Sprint(w))
			if err != nil {
				return false, err
			}
			test = func(s string) bool { a, err := netip.ParseAddr(s); return err == nil && p.Contains(a) }
		case mods["lt"] || mods["lte"] || mods["gt"] || mods["gte"]:
			n, err := strconv.ParseFloat(fmt.Sprint(w), 64)
			if err != nil {
				return false, err
			}
			test = func(s string) bool {
				x, err := strconv.ParseFloat(s, 64)
				return err == nil && (mods["lt"] && x < n || mods["lte"] && x <= n || mods["gt"] && x > n || mods["gte"] && x >= n)
			}
		default:
			re := wildcardRegexp(yamlText(w), mods)
			test = re.MatchString
		}
		for _, v := range values {
			if v != nil && test(text(v)) {
				return true, nil
			}
		}
		return false, nil
	}
	for _, w := range wants {
		v, err := one(w)
		if err != nil {
			return false, err
		}
		if mods["all"] && !v {
			return false, nil
		}
		if !mods["all"] && v {
			return true, nil
		}
	}
	return mods["all"], nil
}

// wildcardRegexp reads a Sigma string: * any run, ? one character, a
// backslash escaping *, ? or itself and standing for itself otherwise; it
// matches the whole value, ignoring case unless |cased.
func wildcardRegexp(s string, mods map[string]bool) *regexp.Regexp {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && strings.IndexByte(`*?\`, s[i+1]) >= 0 {
			b.WriteString(regexp.QuoteMeta(s[i+1 : i+2]))
			i++
			continue
		}
		switch c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	body := b.String()
	switch {
	case mods["contains"]:
		body = ".*" + body + ".*"
	case mods["startswith"]:
		body += ".*"
	case mods["endswith"]:
		body = ".*" + body
	}
	flags := "(?s)"
	if !mods["cased"] {
		flags = "(?is)"
	}
	return mustCompile(flags + "^" + body + "$")
}

func mustCompile(pat string) *regexp.Regexp {
	re, err := compile(pat)
	if err != nil {
		panic(err)
	}
	return re
}

func yamlText(w any) string {
	switch x := w.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(w)
}

// fieldValues follows a dotted path; arrays on the way fan out.
func fieldValues(rec map[string]any, path string) ([]any, bool) {
	cur := []any{rec}
	for _, seg := range strings.Split(path, ".") {
		var next []any
		for _, c := range cur {
			for _, x := range elements(c) {
				if m, ok := x.(map[string]any); ok {
					if v, ok := m[seg]; ok {
						next = append(next, v)
					}
				}
			}
		}
		cur = next
	}
	if len(cur) == 0 {
		return nil, false
	}
	var out []any
	for _, c := range cur {
		if a, ok := c.([]any); ok && scalars(a) {
			out = append(out, a...)
		} else {
			out = append(out, c)
		}
	}
	return out, true
}

func elements(v any) []any {
	if a, ok := v.([]any); ok {
		return a
	}
	return []any{v}
}

func scalars(a []any) bool {
	for _, x := range a {
		switch x.(type) {
		case map[string]any, []any:
			return false
		}
	}
	return true
}

// text is a record value as a string: objects and arrays as JSON.
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}
