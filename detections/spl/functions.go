package spl

import (
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"strings"
	"time"
)

// funcDef is one eval function. fn receives the unevaluated arguments so
// that if/case/coalesce evaluate only what they need.
type funcDef struct {
	min, max int // argument counts; max < 0: no upper bound
	fn       func(c *evalCtx, g getter, call *callExpr) (Value, error)
	// check validates literal arguments at parse time (regular expressions).
	check func(call *callExpr) error
}

// evalCtx is the per-run state expressions need.
type evalCtx struct {
	now   time.Time
	loc   *time.Location
	cache map[string]*regexp.Regexp // patterns that come from field values
}

func newEvalCtx(now time.Time, loc *time.Location) *evalCtx {
	if loc == nil {
		loc = time.UTC
	}
	return &evalCtx{now: now, loc: loc, cache: map[string]*regexp.Regexp{}}
}

// regexp compiles a pattern from a field value, caching it for the run.
func (c *evalCtx) regexp(pat string) (*regexp.Regexp, error) {
	if re, ok := c.cache[pat]; ok {
		return re, nil
	}
	re, err := compileRegexp(pat)
	if err != nil {
		return nil, err
	}
	if len(c.cache) > 1000 {
		clear(c.cache)
	}
	c.cache[pat] = re
	return re, nil
}

// compileRegexp compiles a PCRE-style pattern with Go's RE2 syntax, which
// also accepts Splunk's (?<name>...) groups.
func compileRegexp(pat string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil, fmt.Errorf("regular expression %q: %v", pat, err)
	}
	return re, nil
}

// argRegexp returns the compiled pattern of argument i: precompiled when
// it was a literal, else compiled (and cached) from its value.
func argRegexp(c *evalCtx, g getter, call *callExpr, i int) (*regexp.Regexp, bool, error) {
	if call.re != nil {
		return call.re, true, nil
	}
	v, err := call.args[i].eval(c, g)
	if err != nil || v.IsNull() {
		return nil, false, err
	}
	re, err := c.regexp(v.String())
	return re, err == nil, err
}

// literalRegexp precompiles argument i when it is a string literal.
func literalRegexp(i int) func(*callExpr) error {
	return func(call *callExpr) error {
		if l, ok := call.args[i].(litExpr); ok && l.v.k == kindString {
			re, err := compileRegexp(l.v.s)
			if err != nil {
				return err
			}
			call.re = re
		}
		return nil
	}
}

func evalArg(c *evalCtx, g getter, call *callExpr, i int) (Value, error) {
	if i >= len(call.args) {
		return Null, nil
	}
	return call.args[i].eval(c, g)
}

func evalArgs(c *evalCtx, g getter, call *callExpr) ([]Value, error) {
	vs := make([]Value, len(call.args))
	for i, a := range call.args {
		v, err := a.eval(c, g)
		if err != nil {
			return nil, err
		}
		vs[i] = v
	}
	return vs, nil
}

// unary wraps a function of one evaluated argument that is null on null.
func unary(f func(v Value) Value) func(*evalCtx, getter, *callExpr) (Value, error) {
	return func(c *evalCtx, g getter, call *callExpr) (Value, error) {
		v, err := evalArg(c, g, call, 0)
		if err != nil || v.IsNull() {
			return Null, err
		}
		return f(v), nil
	}
}

// perValue applies a string function to every value of a multivalue.
func perValue(f func(s string) string) func(*evalCtx, getter, *callExpr) (Value, error) {
	return unary(func(v Value) Value {
		if !v.IsMulti() {
			return Str(f(v.String()))
		}
		out := make([]string, len(v.mv))
		for i, s := range v.mv {
			out[i] = f(s)
		}
		return Multi(out)
	})
}

// numeric wraps a function of one number; non-numbers give null.
func numeric(f func(x float64) float64) func(*evalCtx, getter, *callExpr) (Value, error) {
	return unary(func(v Value) Value {
		n, ok := v.Number()
		if !ok {
			return Null
		}
		r := f(n)
		if math.IsNaN(r) || math.IsInf(r, 0) {
			return Null
		}
		return Num(r)
	})
}

var functions = map[string]*funcDef{
	"if":          {min: 3, max: 3, fn: fnIf},
	"case":        {min: 2, max: -1, fn: fnCase},
	"coalesce":    {min: 1, max: -1, fn: fnCoalesce},
	"validate":    {min: 2, max: -1, fn: fnValidate},
	"null":        {min: 0, max: 0, fn: func(*evalCtx, getter, *callExpr) (Value, error) { return Null, nil }},
	"true":        {min: 0, max: 0, fn: func(*evalCtx, getter, *callExpr) (Value, error) { return Bool(true), nil }},
	"false":       {min: 0, max: 0, fn: func(*evalCtx, getter, *callExpr) (Value, error) { return Bool(false), nil }},
	"isnull":      {min: 1, max: 1, fn: fnIsNull(true)},
	"isnotnull":   {min: 1, max: 1, fn: fnIsNull(false)},
	"isnum":       {min: 1, max: 1, fn: fnIsNum},
	"isint":       {min: 1, max: 1, fn: fnIsInt},
	"isstr":       {min: 1, max: 1, fn: fnIsStr},
	"typeof":      {min: 1, max: 1, fn: fnTypeof},
	"in":          {min: 2, max: -1, fn: fnIn},
	"like":        {min: 2, max: 2, fn: fnLike},
	"match":       {min: 2, max: 2, fn: fnMatch, check: literalRegexp(1)},
	"cidrmatch":   {min: 2, max: 2, fn: fnCidrmatch, check: checkCIDR},
	"searchmatch": {min: 1, max: 1, fn: fnSearchmatch},

	"lower":     {min: 1, max: 1, fn: perValue(strings.ToLower)},
	"upper":     {min: 1, max: 1, fn: perValue(strings.ToUpper)},
	"len":       {min: 1, max: 1, fn: unary(func(v Value) Value { return Num(float64(len([]rune(v.String())))) })},
	"trim":      {min: 1, max: 2, fn: fnTrim(strings.Trim)},
	"ltrim":     {min: 1, max: 2, fn: fnTrim(strings.TrimLeft)},
	"rtrim":     {min: 1, max: 2, fn: fnTrim(strings.TrimRight)},
	"substr":    {min: 2, max: 3, fn: fnSubstr},
	"replace":   {min: 3, max: 3, fn: fnReplace, check: literalRegexp(1)},
	"urldecode": {min: 1, max: 1, fn: perValue(urldecode)},
	"tostring":  {min: 1, max: 2, fn: fnTostring},
	"tonumber":  {min: 1, max: 2, fn: fnTonumber},
	"md5":       {min: 1, max: 1, fn: hashFn("md5")},
	"sha1":      {min: 1, max: 1, fn: hashFn("sha1")},
	"sha256":    {min: 1, max: 1, fn: hashFn("sha256")},
	"sha512":    {min: 1, max: 1, fn: hashFn("sha512")},
	"spath":     {min: 2, max: 2, fn: fnSpath},

	"round":   {min: 1, max: 2, fn: fnRound},
	"floor":   {min: 1, max: 1, fn: numeric(math.Floor)},
	"ceil":    {min: 1, max: 1, fn: numeric(math.Ceil)},
	"ceiling": {min: 1, max: 1, fn: numeric(math.Ceil)},
	"abs":     {min: 1, max: 1, fn: numeric(math.Abs)},
	"sqrt":    {min: 1, max: 1, fn: numeric(math.Sqrt)},
	"exp":     {min: 1, max: 1, fn: numeric(math.Exp)},
	"ln":      {min: 1, max: 1, fn: numeric(math.Log)},
	"exact":   {min: 1, max: 1, fn: unary(func(v Value) Value { return v })},
	"pow":     {min: 2, max: 2, fn: fnPow},
	"log":     {min: 1, max: 2, fn: fnLog},
	"pi":      {min: 0, max: 0, fn: func(*evalCtx, getter, *callExpr) (Value, error) { return Num(math.Pi), nil }},
	"min":     {min: 1, max: -1, fn: fnMinMax(-1)},
	"max":     {min: 1, max: -1, fn: fnMinMax(1)},

	"split":    {min: 2, max: 2, fn: fnSplit},
	"mvindex":  {min: 2, max: 3, fn: fnMvindex},
	"mvcount":  {min: 1, max: 1, fn: fnMvcount},
	"mvappend": {min: 1, max: -1, fn: fnMvappend},
	"mvjoin":   {min: 2, max: 2, fn: fnMvjoin},
	"mvfilter": {min: 1, max: 1, fn: fnMvfilter, check: checkMvfilter},
	"mvdedup":  {min: 1, max: 1, fn: fnMvdedup},
	"mvsort":   {min: 1, max: 1, fn: fnMvsort},
	"mvfind":   {min: 2, max: 2, fn: fnMvfind, check: literalRegexp(1)},
	"mvzip":    {min: 2, max: 3, fn: fnMvzip},

	"now":           {min: 0, max: 0, fn: fnNow},
	"time":          {min: 0, max: 0, fn: fnTime},
	"relative_time": {min: 2, max: 2, fn: fnRelativeTime},
	"strftime":      {min: 2, max: 2, fn: fnStrftime},
	"strptime":      {min: 2, max: 2, fn: fnStrptime},
}

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
	v, err := evalArg(c, g, call, 0)
	if err != nil || v.IsNull() {
		return Bool(false), err
	}
	p := newParser(v.String())
	e, err := p.parseSearchExpr(nil)
	if err != nil {
		return Null, err
	}
	r, ok := g.(*row)
	if !ok {
		return Bool(false), nil
	}
	m, err := e.match(r)
	return Bool(m), err
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
