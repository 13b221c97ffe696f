package spl

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"math"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

func fnTostring(c *evalCtx, g getter, call *callExpr) (Value, error) {
	vs, err := evalArgs(c, g, call)
	if err != nil || vs[0].IsNull() {
		return Null, err
	}
	v := vs[0]
	if v.isBool() {
		if v.truth() {
			return Str("True"), nil
		}
		return Str("False"), nil
	}
	if len(vs) == 1 {
		return Str(v.String()), nil
	}
	n, ok := v.Number()
	if !ok {
		return Str(v.String()), nil
	}
	switch f := strings.ToLower(vs[1].String()); f {
	case "hex":
		return Str(fmt.Sprintf("0x%X", int64(n))), nil
	case "commas":
		return Str(commas(n)), nil
	case "duration":
		return Str(duration(n)), nil
	default:
		return Null, fmt.Errorf("tostring(): unknown format %q (hex, commas, duration)", f)
	}
}

func commas(n float64) string {
	neg := n < 0
	n = math.Abs(n)
	s := strconv.FormatFloat(n, 'f', -1, 64)
	if n != math.Trunc(n) {
		s = strconv.FormatFloat(n, 'f', 2, 64)
	}
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, ch := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	out := b.String()
	if frac != "" {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out
}

func duration(n float64) string {
	secs := int64(n)
	d := secs / 86400
	secs %= 86400
	s := fmt.Sprintf("%02d:%02d:%02d", secs/3600, secs%3600/60, secs%60)
	if d > 0 {
		s = fmt.Sprintf("%d+%s", d, s)
	}
	return s
}

func fnTonumber(c *evalCtx, g getter, call *callExpr) (Value, error) {
	vs, err := evalArgs(c, g, call)
	if err != nil || vs[0].IsNull() {
		return Null, err
	}
	s := strings.TrimSpace(vs[0].String())
	if len(vs) > 1 {
		base, ok := vs[1].Number()
		if !ok || base < 2 || base > 36 {
			return Null, fmt.Errorf("tonumber(): base must be 2 to 36")
		}
		if base == 16 {
			s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
		}
		i, err := strconv.ParseInt(s, int(base), 64)
		if err != nil {
			return Null, nil
		}
		return Num(float64(i)), nil
	}
	if n, ok := parseNumber(s); ok {
		return Num(n), nil
	}
	return Null, nil
}

func hashFn(name string) func(*evalCtx, getter, *callExpr) (Value, error) {
	return unary(func(v Value) Value {
		var h hash.Hash
		switch name {
		case "md5":
			h = md5.New()
		case "sha1":
			h = sha1.New()
		case "sha256":
			h = sha256.New()
		default:
			h = sha512.New()
		}
		h.Write([]byte(v.String()))
		return Str(hex.EncodeToString(h.Sum(nil)))
	})
}

func fnSpath(c *evalCtx, g getter, call *callExpr) (Value, error) {
	vs, err := evalArgs(c, g, call)
	if err != nil || vs[0].IsNull() || vs[1].IsNull() {
		return Null, err
	}
	v, err := spathValue([]byte(vs[0].String()), vs[1].String(), DefaultJSONLimits)
	if err != nil {
		return Null, nil // not JSON: nothing to extract, as Splunk
	}
	return v, nil
}

func fnRound(c *evalCtx, g getter, call *callExpr) (Value, error) {
	vs, err := evalArgs(c, g, call)
	if err != nil || vs[0].IsNull() {
		return Null, err
	}
	x, ok := vs[0].Number()
	if !ok {
		return Null, nil
	}
	digits := 0.0
	if len(vs) > 1 {
		if digits, ok = vs[1].Number(); !ok {
			return Null, nil
		}
	}
	p := math.Pow(10, digits)
	return Num(math.Round(x*p) / p), nil
}

func fnPow(c *evalCtx, g getter, call *callExpr) (Value, error) {
	vs, err := evalArgs(c, g, call)
	if err != nil {
		return Null, err
	}
	x, ok1 := vs[0].Number()
	y, ok2 := vs[1].Number()
	if !ok1 || !ok2 {
		return Null, nil
	}
	return finite(math.Pow(x, y)), nil
}

func fnLog(c *evalCtx, g getter, call *callExpr) (Value, error) {
	vs, err := evalArgs(c, g, call)
	if err != nil {
		return Null, err
	}
	x, ok := vs[0].Number()
	if !ok {
		return Null, nil
	}
	base := 10.0
	if len(vs) > 1 {
		if base, ok = vs[1].Number(); !ok {
			return Null, nil
		}
	}
	return finite(math.Log(x) / math.Log(base)), nil
}

func finite(f float64) Value {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return Null
	}
	return Num(f)
}

// fnMinMax returns the least (dir -1) or greatest (dir 1) of all values of
// all arguments: numbers compare as numbers and sort before strings.
func fnMinMax(dir int) func(*evalCtx, getter, *callExpr) (Value, error) {
	return func(c *evalCtx, g getter, call *callExpr) (Value, error) {
		vs, err := evalArgs(c, g, call)
		if err != nil {
			return Null, err
		}
		best := Null
		for _, v := range vs {
			v.each(func(x Value) bool {
				if best.IsNull() || sortCompare(x, best)*dir > 0 {
					best = x
				}
				return false
			})
		}
		return best, nil
	}
}

func fnSplit(c *evalCtx, g getter, call *callExpr) (Value, error) {
	vs, err := evalArgs(c, g, call)
	if err != nil || vs[0].IsNull() || vs[1].IsNull() {
		return Null, err
	}
	var out []string
	for _, s := range vs[0].Strings() {
		out = append(out, strings.Split(s, vs[1].String())...)
	}
	return Multi(out), nil
}

func fnMvindex(c *evalCtx, g getter, call *callExpr) (Value, error) {
	vs, err := evalArgs(c, g, call)
	if err != nil || vs[0].IsNull() {
		return Null, err
	}
	all := vs[0].Strings()
	idx := func(v Value) (int, bool) {
		n, ok := v.Number()
		if !ok {
			return 0, false
		}
		i := int(n)
		if i < 0 {
			i += len(all)
		}
		return i, true
	}
	start, ok := idx(vs[1])
	if !ok || start < 0 || start >= len(all) {
		return Null, nil
	}
	end := start
	if len(vs) > 2 {
		if end, ok = idx(vs[2]); !ok {
			return Null, nil
		}
		if end >= len(all) {
			end = len(all) - 1
		}
		if end < start {
			return Null, nil
		}
	}
	return Multi(append([]string(nil), all[start:end+1]...)), nil
}

func fnMvcount(c *evalCtx, g getter, call *callExpr) (Value, error) {
	v, err := evalArg(c, g, call, 0)
	if err != nil || v.IsNull() {
		return Null, err
	}
	return Num(float64(v.Len())), nil
}

func fnMvappend(c *evalCtx, g getter, call *callExpr) (Value, error) {
	vs, err := evalArgs(c, g, call)
	if err != nil {
		return Null, err
	}
	var out []string
	for _, v := range vs {
		out = append(out, v.Strings()...)
	}
	return Multi(out), nil
}

func fnMvjoin(c *evalCtx, g getter, call *callExpr) (Value, error) {
	vs, err := evalArgs(c, g, call)
	if err != nil || vs[0].IsNull() {
		return Null, err
	}
	return Str(strings.Join(vs[0].Strings(), vs[1].String())), nil
}

func checkMvfilter(call *callExpr) error {
	if n := len(fieldsOf(call.args[0])); n != 1 {
		return fmt.Errorf("the expression must use exactly one field, it uses %d", n)
	}
	return nil
}

// fnMvfilter keeps the values of the expression's one field for which the
// expression is true.
func fnMvfilter(c *evalCtx, g getter, call *callExpr) (Value, error) {
	field := fieldsOf(call.args[0])[0]
	v, err := g.get(field)
	if err != nil || v.IsNull() {
		return Null, err
	}
	var out []string
	for _, s := range v.Strings() {
		r, err := call.args[0].eval(c, oneField{field, Str(s), g})
		if err != nil {
			return Null, err
		}
		if b, err := boolOf(r, "mvfilter()"); err != nil {
			return Null, err
		} else if b {
			out = append(out, s)
		}
	}
	return Multi(out), nil
}

// oneField overrides one field of a getter.
type oneField struct {
	name string
	v    Value
	g    getter
}

func (o oneField) get(name string) (Value, error) {
	if name == o.name {
		return o.v, nil
	}
	return o.g.get(name)
}

func fnMvdedup(c *evalCtx, g getter, call *callExpr) (Value, error) {
	v, err := evalArg(c, g, call, 0)
	if err != nil || v.IsNull() {
		return Null, err
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range v.Strings() {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return Multi(out), nil
}

func fnMvsort(c *evalCtx, g getter, call *callExpr) (Value, error) {
	v, err := evalArg(c, g, call, 0)
	if err != nil || v.IsNull() {
		return Null, err
	}
	out := append([]string(nil), v.Strings()...)
	sort.Strings(out)
	return Multi(out), nil
}

func fnMvfind(c *evalCtx, g getter, call *callExpr) (Value, error) {
	v, err := evalArg(c, g, call, 0)
	if err != nil || v.IsNull() {
		return Null, err
	}
	re, ok, err := argRegexp(c, g, call, 1)
	if err != nil || !ok {
		return Null, err
	}
	for i, s := range v.Strings() {
		if re.MatchString(s) {
			return Num(float64(i)), nil
		}
	}
	return Null, nil
}

func fnMvzip(c *evalCtx, g getter, call *callExpr) (Value, error) {
	vs, err := evalArgs(c, g, call)
	if err != nil || vs[0].IsNull() || vs[1].IsNull() {
		return Null, err
	}
	delim := ","
	if len(vs) > 2 {
		delim = vs[2].String()
	}
	a, b := vs[0].Strings(), vs[1].Strings()
	n := min(len(a), len(b))
	out := make([]string, n)
	for i := range n {
		out[i] = a[i] + delim + b[i]
	}
	return Multi(out), nil
}

func urldecode(s string) string {
	if d, err := url.QueryUnescape(s); err == nil {
		return d
	}
	return s
}

var (
	likeMu    sync.Mutex
	likeCache = map[string]*regexp.Regexp{}
)

// likeRegexp turns an SQL LIKE pattern (% any run, _ one character) into
// an anchored regular expression. LIKE is case-sensitive, as in Splunk.
func likeRegexp(pat string) *regexp.Regexp {
	likeMu.Lock()
	defer likeMu.Unlock()
	if re, ok := likeCache[pat]; ok {
		return re
	}
	var b strings.Builder
	b.WriteString(`(?s)^`)
	for _, r := range pat {
		switch r {
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	re := regexp.MustCompile(b.String())
	if len(likeCache) > 1000 {
		clear(likeCache)
	}
	likeCache[pat] = re
	return re
}
