package spl

import (
	"math"
	"strconv"
	"strings"
)

type kind uint8

const (
	kindNull kind = iota
	kindString
	kindNumber
	kindBool
	kindMulti
)

// Value is one SPL value: null, a string, a number, a boolean (which only
// lives inside expressions: Splunk refuses to store one in a field) or a
// multivalue, an ordered list of strings. Field values extracted from
// events are strings; a string that reads as a number compares and adds as
// a number, as in Splunk.
type Value struct {
	k  kind
	s  string
	n  float64
	mv []string
}

// Null is the absent value.
var Null = Value{}

// Str returns a string value.
func Str(s string) Value { return Value{k: kindString, s: s} }

// Num returns a number value.
func Num(f float64) Value { return Value{k: kindNumber, n: f} }

// Bool returns a boolean value.
func Bool(b bool) Value {
	if b {
		return Value{k: kindBool, n: 1}
	}
	return Value{k: kindBool}
}

// Multi returns a multivalue; one value is a plain string and none is null,
// so that a field never holds an empty list.
func Multi(vals []string) Value {
	switch len(vals) {
	case 0:
		return Null
	case 1:
		return Str(vals[0])
	}
	return Value{k: kindMulti, mv: vals}
}

// IsNull reports whether v is the absent value.
func (v Value) IsNull() bool { return v.k == kindNull }

// IsMulti reports whether v holds more than one value.
func (v Value) IsMulti() bool { return v.k == kindMulti }

func (v Value) isBool() bool { return v.k == kindBool }

func (v Value) truth() bool { return v.k == kindBool && v.n != 0 }

// Strings returns the values as strings: none for null, one for a single
// value, all of them for a multivalue.
func (v Value) Strings() []string {
	switch v.k {
	case kindNull:
		return nil
	case kindMulti:
		return v.mv
	}
	return []string{v.String()}
}

// Len is the number of values: 0 for null.
func (v Value) Len() int {
	switch v.k {
	case kindNull:
		return 0
	case kindMulti:
		return len(v.mv)
	}
	return 1
}

// At returns the i-th value as a single value.
func (v Value) At(i int) Value {
	if v.k == kindMulti {
		return Str(v.mv[i])
	}
	return v
}

// String renders v as Splunk shows it: numbers without a trailing ".0",
// booleans as true/false, a multivalue as its first value.
func (v Value) String() string {
	switch v.k {
	case kindString:
		return v.s
	case kindNumber:
		return formatNumber(v.n)
	case kindBool:
		if v.n != 0 {
			return "true"
		}
		return "false"
	case kindMulti:
		return v.mv[0]
	}
	return ""
}

// Number returns v as a number when it is one or is a string that reads
// as one (only single values).
func (v Value) Number() (float64, bool) {
	switch v.k {
	case kindNumber:
		return v.n, true
	case kindString:
		return parseNumber(v.s)
	}
	return 0, false
}

func parseNumber(s string) (float64, bool) {
	if s == "" || len(s) > 64 {
		return 0, false
	}
	c := s[0]
	if !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.') {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, true
		}
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// formatNumber renders a number as Splunk does: integers without a decimal
// point, other numbers with the digits they need.
func formatNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e18 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// each calls fn for every single value in v (nothing for null).
func (v Value) each(fn func(Value) bool) {
	switch v.k {
	case kindNull:
	case kindMulti:
		for _, s := range v.mv {
			if fn(Str(s)) {
				return
			}
		}
	default:
		fn(v)
	}
}

// compareValues orders two single values: numerically when both read as
// numbers, else as byte strings (Splunk's lexicographic order: upper case
// before lower case).
func compareValues(a, b Value) int {
	an, aok := a.Number()
	bn, bok := b.Number()
	if aok && bok {
		switch {
		case an < bn:
			return -1
		case an > bn:
			return 1
		}
		return 0
	}
	return strings.Compare(a.String(), b.String())
}

// sortCompare orders values for sort and min/max: numbers before strings,
// numbers numerically, strings byte-wise.
func sortCompare(a, b Value) int {
	an, aok := a.Number()
	bn, bok := b.Number()
	switch {
	case aok && bok:
		switch {
		case an < bn:
			return -1
		case an > bn:
			return 1
		}
		return 0
	case aok:
		return -1
	case bok:
		return 1
	}
	return strings.Compare(a.String(), b.String())
}
