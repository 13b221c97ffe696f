package spl

import (
	"fmt"
	"math"
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
	if c.cache == nil { // a context shared between runs: no cache
		return compileRegexp(pat)
	}
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
	"searchmatch": {min: 1, max: 1, fn: fnSearchmatch, check: checkSearchmatch},

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
