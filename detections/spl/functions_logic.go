package spl

import (
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"strings"
)

// Conditional, comparison and string functions.

func fnIf(c *evalCtx, g getter, call *callExpr) (Value, error) {
	cond, err := call.args[0].eval(c, g)
	if err != nil {
		return Null, err
	}
	b, err := boolOf(cond, "if()")
	if err != nil {
		return Null, err
	}
	if b {
		return call.args[1].eval(c, g)
	}
	return call.args[2].eval(c, g)
}

func fnCase(c *evalCtx, g getter, call *callExpr) (Value, error) {
	if len(call.args)%2 != 0 {
		return Null, fmt.Errorf("case() takes condition/value pairs")
	}
	for i := 0; i < len(call.args); i += 2 {
		cond, err := call.args[i].eval(c, g)
		if err != nil {
			return Null, err
		}
		b, err := boolOf(cond, "case()")
		if err != nil {
			return Null, err
		}
		if b {
			return call.args[i+1].eval(c, g)
		}
	}
	return Null, nil
}

func fnCoalesce(c *evalCtx, g getter, call *callExpr) (Value, error) {
	for _, a := range call.args {
		v, err := a.eval(c, g)
		if err != nil {
			return Null, err
		}
		if !v.IsNull() {
			return v, nil
		}
	}
	return Null, nil
}

func fnValidate(c *evalCtx, g getter, call *callExpr) (Value, error) {
	if len(call.args)%2 != 0 {
		return Null, fmt.Errorf("validate() takes condition/value pairs")
	}
	for i := 0; i < len(call.args); i += 2 {
		cond, err := call.args[i].eval(c, g)
		if err != nil {
			return Null, err
		}
		if b, err := boolOf(cond, "validate()"); err != nil {
			return Null, err
		} else if !b {
			return call.args[i+1].eval(c, g)
		}
	}
	return Null, nil
}

func fnIsNull(want bool) func(*evalCtx, getter, *callExpr) (Value, error) {
	return func(c *evalCtx, g getter, call *callExpr) (Value, error) {
		v, err := evalArg(c, g, call, 0)
		return Bool(v.IsNull() == want), err
	}
}

func fnIsNum(c *evalCtx, g getter, call *callExpr) (Value, error) {
	v, err := evalArg(c, g, call, 0)
	_, ok := v.Number()
	return Bool(ok && !v.IsMulti()), err
}

func fnIsInt(c *evalCtx, g getter, call *callExpr) (Value, error) {
	v, err := evalArg(c, g, call, 0)
	n, ok := v.Number()
	return Bool(ok && n == math.Trunc(n)), err
}

func fnIsStr(c *evalCtx, g getter, call *callExpr) (Value, error) {
	v, err := evalArg(c, g, call, 0)
	_, num := v.Number()
	return Bool((v.k == kindString && !num) || v.k == kindMulti), err
}

func fnTypeof(c *evalCtx, g getter, call *callExpr) (Value, error) {
	v, err := evalArg(c, g, call, 0)
	if err != nil {
		return Null, err
	}
	switch v.k {
	case kindNull:
		return Str("Invalid"), nil
	case kindBool:
		return Str("Boolean"), nil
	case kindMulti:
		return Str("Multivalue"), nil
	}
	if _, ok := v.Number(); ok {
		return Str("Number"), nil
	}
	return Str("String"), nil
}

func fnIn(c *evalCtx, g getter, call *callExpr) (Value, error) {
	vs, err := evalArgs(c, g, call)
	if err != nil || vs[0].IsNull() {
		return Bool(false), err
	}
	found := false
	vs[0].each(func(x Value) bool {
		for _, o := range vs[1:] {
			o.each(func(y Value) bool {
				found = x.String() == y.String()
				return found
			})
			if found {
				return true
			}
		}
		return false
	})
	return Bool(found), nil
}

func fnLike(c *evalCtx, g getter, call *callExpr) (Value, error) {
	vs, err := evalArgs(c, g, call)
	if err != nil {
		return Null, err
	}
	r := likeOp(vs[0], vs[1])
	if r.IsNull() {
		return Bool(false), nil
	}
	return r, nil
}

func fnMatch(c *evalCtx, g getter, call *callExpr) (Value, error) {
	v, err := evalArg(c, g, call, 0)
	if err != nil || v.IsNull() {
		return Bool(false), err
	}
	re, ok, err := argRegexp(c, g, call, 1)
	if err != nil || !ok {
		return Bool(false), err
	}
	found := false
	v.each(func(x Value) bool {
		found = re.MatchString(x.String())
		return found
	})
	return Bool(found), nil
}

func checkCIDR(call *callExpr) error {
	if l, ok := call.args[0].(litExpr); ok {
		if _, err := parseCIDR(l.v.String()); err != nil {
			return err
		}
	}
	return nil
}

func parseCIDR(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		a, aerr := netip.ParseAddr(strings.TrimSpace(s))
		if aerr != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR", s)
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return p.Masked(), nil
}

func fnCidrmatch(c *evalCtx, g getter, call *callExpr) (Value, error) {
	vs, err := evalArgs(c, g, call)
	if err != nil || vs[0].IsNull() || vs[1].IsNull() {
		return Bool(false), err
	}
	p, err := parseCIDR(vs[0].String())
	if err != nil {
		return Null, err
	}
	found := false
	vs[1].each(func(x Value) bool {
		a, err := netip.ParseAddr(strings.TrimSpace(x.String()))
		found = err == nil && p.Contains(a.Unmap())
		return found
	})
	return Bool(found), nil
}

func fnSearchmatch(c *evalCtx, g getter, call *callExpr) (Value, error) {
	e := call.search
	if e == nil {
		v, err := evalArg(c, g, call, 0)
		if err != nil || v.IsNull() {
			return Bool(false), err
		}
		if e, err = parseSearchString(v.String()); err != nil {
			return Null, err
		}
	}
	r, ok := g.(*row)
	if !ok {
		return Bool(false), nil
	}
	m, err := e.match(r)
	return Bool(m), err
}

// checkSearchmatch parses a literal search string once, when the query is
// parsed: a mistake in it fails the query there, not on every event.
func checkSearchmatch(call *callExpr) error {
	if l, ok := call.args[0].(litExpr); ok && l.v.k == kindString {
		e, err := parseSearchString(l.v.s)
		if err != nil {
			return err
		}
		call.search = e
	}
	return nil
}

// parseSearchString parses searchmatch's argument, which must be a whole
// search expression.
func parseSearchString(s string) (sexpr, error) {
	p := newParser(s)
	e, err := p.parseSearchExpr(nil)
	if err == nil {
		if t, _ := p.lx.peek(modeSearch); t.k != tEOF {
			err = p.errorf(t.pos, "unexpected %q", t.s)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("searchmatch(%q): %v", s, err)
	}
	return e, nil
}

func fnTrim(f func(string, string) string) func(*evalCtx, getter, *callExpr) (Value, error) {
	return func(c *evalCtx, g getter, call *callExpr) (Value, error) {
		vs, err := evalArgs(c, g, call)
		if err != nil || vs[0].IsNull() {
			return Null, err
		}
		cut := " \t"
		if len(vs) > 1 {
			cut = vs[1].String()
		}
		return Str(f(vs[0].String(), cut)), nil
	}
}

func fnSubstr(c *evalCtx, g getter, call *callExpr) (Value, error) {
	vs, err := evalArgs(c, g, call)
	if err != nil || vs[0].IsNull() {
		return Null, err
	}
	r := []rune(vs[0].String())
	start, ok := vs[1].Number()
	if !ok {
		return Null, nil
	}
	// Splunk counts from 1; a negative start counts from the end
	s := int(start)
	switch {
	case s < 0:
		s = len(r) + s
	case s > 0:
		s--
	}
	if s < 0 {
		s = 0
	}
	if s > len(r) {
		return Str(""), nil
	}
	e := len(r)
	if len(vs) > 2 {
		n, ok := vs[2].Number()
		if !ok || n < 0 {
			return Null, nil
		}
		if s+int(n) < e {
			e = s + int(n)
		}
	}
	return Str(string(r[s:e])), nil
}

// sedBackrefs turns \1 style back-references into Go's ${1}.
var backrefRE = regexp.MustCompile(`\\(\d)`)

func sedReplacement(s string) string {
	s = strings.ReplaceAll(s, "$", "$$")
	return backrefRE.ReplaceAllString(s, "$${$1}")
}

func fnReplace(c *evalCtx, g getter, call *callExpr) (Value, error) {
	v, err := evalArg(c, g, call, 0)
	if err != nil || v.IsNull() {
		return Null, err
	}
	re, ok, err := argRegexp(c, g, call, 1)
	if err != nil || !ok {
		return Null, err
	}
	rep, err := evalArg(c, g, call, 2)
	if err != nil || rep.IsNull() {
		return Null, err
	}
	repl := sedReplacement(rep.String())
	return perValue(func(s string) string { return re.ReplaceAllString(s, repl) })(c, litGetter{v}, &callExpr{args: []expr{fieldExpr{}}})
}

// litGetter serves one value for any field: it lets the per-value helpers
// run on an already evaluated value.
type litGetter struct{ v Value }

func (l litGetter) get(string) (Value, error) { return l.v, nil }
