package spl

import (
	"strings"
	"time"
)

// Filter tells a Source what a query can match, so that it can skip work:
// whole files whose index/sourcetype/source/host rule them out, and
// records whose raw text lacks a word the search requires (as Splunk's
// index does with its terms). Both tests are necessary conditions only;
// the engine evaluates the full search on whatever passes.
type Filter struct {
	expr sexpr
	// Earliest and Latest are the query's own earliest=/latest= bounds on
	// _time (zero: none): earliest inclusive, latest exclusive, as in
	// Splunk. They narrow the caller's window, never widen it.
	Earliest, Latest time.Time
}

// RawFilter is a Filter specialised to one source.
type RawFilter struct{ c cond }

type condOp uint8

const (
	cTrue condOp = iota
	cFalse
	cTerm
	cAnd
	cOr
)

type cond struct {
	op   condOp
	term string // lower case
	kids []cond
}

// ForSource specialises the filter to events described by m.
func (f *Filter) ForSource(m *Meta) RawFilter {
	if f == nil || f.expr == nil {
		return RawFilter{}
	}
	return RawFilter{buildCond(f.expr, m)}
}

// Never reports that no event of the source can match.
func (r RawFilter) Never() bool { return r.c.op == cFalse }

// Match reports whether an event with this raw text may match.
func (r RawFilter) Match(raw []byte) bool { return r.c.eval(bytesString(raw)) }

func (c cond) eval(raw string) bool {
	switch c.op {
	case cTrue:
		return true
	case cFalse:
		return false
	case cTerm:
		return indexFold(raw, c.term) >= 0
	case cAnd:
		for _, k := range c.kids {
			if !k.eval(raw) {
				return false
			}
		}
		return true
	}
	for _, k := range c.kids {
		if k.eval(raw) {
			return true
		}
	}
	return false
}

func constCond(b bool) cond {
	if b {
		return cond{op: cTrue}
	}
	return cond{op: cFalse}
}

func buildCond(e sexpr, m *Meta) cond {
	switch x := e.(type) {
	case sAll:
		return cond{op: cTrue}
	case sAnd:
		out := cond{op: cAnd}
		for _, k := range x.kids {
			c := buildCond(k, m)
			switch c.op {
			case cFalse:
				return c
			case cTrue:
				continue
			}
			out.kids = append(out.kids, c)
		}
		if len(out.kids) == 0 {
			return cond{op: cTrue}
		}
		return out
	case sOr:
		out := cond{op: cOr}
		for _, k := range x.kids {
			c := buildCond(k, m)
			switch c.op {
			case cTrue:
				return c
			case cFalse:
				continue
			}
			out.kids = append(out.kids, c)
		}
		if len(out.kids) == 0 {
			return cond{op: cFalse}
		}
		return out
	case sNot:
		c := buildCond(x.kid, m)
		switch c.op {
		case cTrue:
			// NOT of something that may or may not hold: no constraint, unless
			// it held for a constant reason (checked below)
			if isConst(x.kid, m) {
				return cond{op: cFalse}
			}
		case cFalse:
			return cond{op: cTrue}
		}
		return cond{op: cTrue}
	case sTerm:
		var best string
		for _, p := range x.pat.parts {
			if s := longestSafe(p); len(s) > len(best) {
				best = s
			}
		}
		return termCond(best)
	case sCmp:
		field, kind := resolveField(x.field, m, 0)
		switch kind {
		case fieldMeta:
			return constCond(x.matchValue(metaValue(field, m)))
		case fieldRaw:
			if x.op != "=" || x.pat.matchAll() {
				return cond{op: cTrue}
			}
			var best string
			for _, p := range x.pat.parts {
				if s := longestSafe(p); len(s) > len(best) {
					best = s
				}
			}
			return termCond(best)
		}
		return cond{op: cTrue}
	case sIn:
		field, kind := resolveField(x.field, m, 0)
		switch kind {
		case fieldMeta:
			v := metaValue(field, m)
			for _, p := range x.pats {
				if !v.IsNull() && p.match(v.String()) {
					return cond{op: cTrue}
				}
			}
			return cond{op: cFalse}
		case fieldRaw:
			out := cond{op: cOr}
			for _, p := range x.pats {
				var best string
				for _, part := range p.parts {
					if s := longestSafe(part); len(s) > len(best) {
						best = s
					}
				}
				c := termCond(best)
				if c.op == cTrue {
					return c
				}
				out.kids = append(out.kids, c)
			}
			return out
		}
	}
	return cond{op: cTrue}
}

// isConst reports whether e's truth depends only on the source (all its
// comparisons are on index/sourcetype/source/host): then NOT e folds too.
func isConst(e sexpr, m *Meta) bool {
	switch x := e.(type) {
	case sAnd:
		for _, k := range x.kids {
			if !isConst(k, m) {
				return false
			}
		}
		return true
	case sOr:
		for _, k := range x.kids {
			if !isConst(k, m) {
				return false
			}
		}
		return true
	case sNot:
		return isConst(x.kid, m)
	case sCmp:
		_, k := resolveField(x.field, m, 0)
		return k == fieldMeta
	case sIn:
		_, k := resolveField(x.field, m, 0)
		return k == fieldMeta
	}
	return false
}

func termCond(t string) cond {
	if len(t) < 2 {
		return cond{op: cTrue}
	}
	return cond{op: cTerm, term: t}
}

type fieldKind uint8

const (
	fieldRaw      fieldKind = iota // a value found verbatim in the raw text
	fieldMeta                      // constant for the source
	fieldComputed                  // derived (time, calculated fields)
)

// resolveField says where a field's value comes from for events of m,
// following calculated fields that are plain aliases.
func resolveField(name string, m *Meta, depth int) (string, fieldKind) {
	switch name {
	case "index", "sourcetype", "source", "host":
		return name, fieldMeta
	case "_raw":
		return name, fieldRaw
	case "_time":
		return name, fieldComputed
	}
	if strings.HasPrefix(name, "date_") {
		for _, d := range dateFields {
			if d == name {
				return name, fieldComputed
			}
		}
	}
	if m != nil && m.Props != nil {
		if x, ok := m.Props.exprs[name]; ok {
			if target, ok := x.Alias(); ok && depth < 8 && target != name {
				return resolveField(target, m, depth+1)
			}
			return name, fieldComputed
		}
	}
	return name, fieldRaw
}

func metaValue(field string, m *Meta) Value {
	e := Event{Meta: m}
	v, _ := e.field(field)
	return v
}

// matchValue applies the comparison to a known value.
func (s sCmp) matchValue(v Value) bool {
	ok, _ := s.match(&row{set: map[string]Value{s.field: v}})
	return ok
}

// longestSafe returns the longest run of s that any JSON encoder writes
// verbatim (printable ASCII other than quotes, backslash, slash and the
// HTML characters some encoders escape).
func longestSafe(s string) string {
	best, start := "", 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || !safeByte(s[i]) {
			if i-start > len(best) {
				best = s[start:i]
			}
			start = i + 1
		}
	}
	return best
}

func safeByte(c byte) bool {
	if c < 0x20 || c > 0x7e {
		return false
	}
	switch c {
	case '"', '\\', '/', '<', '>', '&', '\'':
		return false
	}
	return true
}
