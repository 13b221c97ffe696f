package spl

import (
	"strings"
)

// sexpr is a node of a search command's boolean expression.
type sexpr interface {
	match(r *row) (bool, error)
}

type sAnd struct{ kids []sexpr }
type sOr struct{ kids []sexpr }
type sNot struct{ kid sexpr }
type sAll struct{} // *

// sTerm is a bare word or quoted phrase matched against _raw.
type sTerm struct{ pat termPattern }

// sCmp is field OP value.
type sCmp struct {
	field string
	op    string // = != < > <= >=
	val   string
	pat   pattern
}

// sIn is field IN (v1, v2, ...).
type sIn struct {
	field string
	pats  []pattern
}

func (s sAnd) match(r *row) (bool, error) {
	for _, k := range s.kids {
		ok, err := k.match(r)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func (s sOr) match(r *row) (bool, error) {
	for _, k := range s.kids {
		ok, err := k.match(r)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

func (s sNot) match(r *row) (bool, error) {
	ok, err := s.kid.match(r)
	return !ok, err
}

func (sAll) match(*row) (bool, error) { return true, nil }

func (s sTerm) match(r *row) (bool, error) {
	if r.ev != nil && !r.hasOverride("_raw") {
		return s.pat.match(bytesString(r.ev.Raw)), nil
	}
	raw, err := r.get("_raw")
	if err != nil {
		return false, err
	}
	return s.pat.match(raw.String()), nil
}

func (s sCmp) match(r *row) (bool, error) {
	v, err := r.get(s.field)
	if err != nil || v.IsNull() {
		return false, err
	}
	found := false
	switch s.op {
	case "=", "!=":
		v.each(func(x Value) bool {
			found = s.pat.match(x.String())
			return found
		})
		if s.op == "!=" {
			return !found, nil
		}
		return found, nil
	}
	lit := Str(s.val)
	v.each(func(x Value) bool {
		c := compareValues(x, lit)
		switch s.op {
		case "<":
			found = c < 0
		case ">":
			found = c > 0
		case "<=":
			found = c <= 0
		case ">=":
			found = c >= 0
		}
		return found
	})
	return found, nil
}

func (s sIn) match(r *row) (bool, error) {
	v, err := r.get(s.field)
	if err != nil || v.IsNull() {
		return false, err
	}
	found := false
	v.each(func(x Value) bool {
		for _, p := range s.pats {
			if p.match(x.String()) {
				found = true
				return true
			}
		}
		return false
	})
	return found, nil
}

// timeMods are the earliest=/latest= modifiers of the first search.
type timeMods struct {
	earliest, latest string
	epos, lpos       int
}

// parseSearchExpr parses a search command's arguments up to the next
// pipe or closing bracket. In search, OR binds tighter than AND (explicit or
// implied by juxtaposition), and NOT tighter than both. Time modifiers are
// collected into tm when tm is not nil (the first search of a query), and
// rejected elsewhere.
func (p *parser) parseSearchExpr(tm *timeMods) (sexpr, error) {
	var kids []sexpr
	for {
		t, err := p.lx.peek(modeSearch)
		if err != nil {
			return nil, err
		}
		if t.k == tEOF || t.k == tPipe || t.k == tRBrack || t.k == tRParen {
			break
		}
		if t.is(tWord, "AND") {
			p.lx.next(modeSearch)
			continue
		}
		// time modifiers are AND-level only
		if tm != nil && t.k == tWord {
			if done, err := p.timeModifier(t, tm); err != nil {
				return nil, err
			} else if done {
				continue
			}
		}
		e, err := p.parseSearchOr()
		if err != nil {
			return nil, err
		}
		kids = append(kids, e)
	}
	switch len(kids) {
	case 0:
		return sAll{}, nil
	case 1:
		return kids[0], nil
	}
	return sAnd{kids}, nil
}

func (p *parser) timeModifier(t token, tm *timeMods) (bool, error) {
	name := strings.ToLower(t.s)
	switch name {
	case "earliest", "latest", "starttime", "endtime", "_index_earliest", "_index_latest", "earliest_time", "latest_time":
	default:
		return false, nil
	}
	save := p.lx.pos
	p.lx.next(modeSearch)
	op, _ := p.lx.next(modeSearch)
	if !op.is(tOp, "=") {
		p.lx.pos = save
		return false, nil
	}
	if name != "earliest" && name != "latest" {
		return false, p.errorf(t.pos, "unsupported time modifier %q (earliest= and latest= are supported)", t.s)
	}
	v, err := p.lx.next(modeSearch)
	if err != nil {
		return false, err
	}
	if v.k != tWord && v.k != tString {
		return false, p.errorf(v.pos, "%s= needs a time", name)
	}
	if name == "earliest" {
		tm.earliest, tm.epos = v.s, v.pos
	} else {
		tm.latest, tm.lpos = v.s, v.pos
	}
	return true, nil
}

func (p *parser) parseSearchOr() (sexpr, error) {
	first, err := p.parseSearchUnary()
	if err != nil {
		return nil, err
	}
	kids := []sexpr{first}
	for {
		t, err := p.lx.peek(modeSearch)
		if err != nil {
			return nil, err
		}
		if !t.is(tWord, "OR") {
			break
		}
		p.lx.next(modeSearch)
		e, err := p.parseSearchUnary()
		if err != nil {
			return nil, err
		}
		kids = append(kids, e)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return sOr{kids}, nil
}

func (p *parser) parseSearchUnary() (sexpr, error) {
	t, err := p.lx.next(modeSearch)
	if err != nil {
		return nil, err
	}
	switch {
	case t.is(tWord, "NOT"):
		e, err := p.parseSearchUnary()
		if err != nil {
			return nil, err
		}
		return sNot{e}, nil
	case t.k == tLParen:
		e, err := p.parseSearchExpr(nil)
		if err != nil {
			return nil, err
		}
		c, err := p.lx.next(modeSearch)
		if err != nil {
			return nil, err
		}
		if c.k != tRParen {
			return nil, p.errorf(t.pos, "unbalanced parenthesis")
		}
		return e, nil
	case t.k == tLBrack:
		return nil, p.errorf(t.pos, "unsupported subsearch in a search expression (subsearches are supported as arguments of append and join)")
	case t.k == tEOF, t.k == tPipe, t.k == tRBrack:
		return nil, p.errorf(t.pos, "search expression ends early")
	case t.k == tRParen:
		return nil, p.errorf(t.pos, "unexpected )")
	case t.is(tWord, "OR") || t.is(tWord, "AND"):
		return nil, p.errorf(t.pos, "%s needs a term on each side", t.s)
	case t.k == tOp:
		return nil, p.errorf(t.pos, "%s needs a field name before it", t.s)
	}
	// t is a word or a quoted string: a term, or the field of a comparison
	nt, err := p.lx.peek(modeSearch)
	if err != nil {
		return nil, err
	}
	if nt.k == tOp {
		p.lx.next(modeSearch)
		v, err := p.lx.next(modeSearch)
		if err != nil {
			return nil, err
		}
		if v.k != tWord && v.k != tString {
			return nil, p.errorf(nt.pos, "%s%s needs a value", t.s, nt.s)
		}
		op := nt.s
		if op == "==" {
			op = "="
		}
		return sCmp{field: t.s, op: op, val: v.s, pat: newPattern(v.s)}, nil
	}
	if nt.k == tLParen && t.k == tWord && strings.EqualFold(t.s, "IN") {
		return nil, p.errorf(t.pos, "IN needs a field name before it")
	}
	if nt.isKeyword("IN") {
		save := p.lx.pos
		p.lx.next(modeSearch)
		if lp, _ := p.lx.peek(modeSearch); lp.k == tLParen {
			p.lx.next(modeSearch)
			pats, err := p.parseInList()
			if err != nil {
				return nil, err
			}
			return sIn{field: t.s, pats: pats}, nil
		}
		p.lx.pos = save
	}
	if t.k == tWord && t.s == "*" {
		return sAll{}, nil
	}
	if t.k == tWord && strings.Contains(t.s, ",") && !t.quote {
		// a comma is part of a term in search; nothing special to do
	}
	return sTerm{pat: newTermPattern(t.s)}, nil
}

// parseInList reads the values of IN ( ... ) after the opening parenthesis.
func (p *parser) parseInList() ([]pattern, error) {
	var pats []pattern
	for {
		t, err := p.lx.next(modeSearch)
		if err != nil {
			return nil, err
		}
		switch t.k {
		case tRParen:
			if len(pats) == 0 {
				return nil, p.errorf(t.pos, "IN () needs at least one value")
			}
			return pats, nil
		case tString:
			pats = append(pats, newPattern(t.s))
		case tWord:
			for _, w := range strings.Split(t.s, ",") {
				if w = strings.TrimSpace(w); w != "" {
					pats = append(pats, newPattern(w))
				}
			}
		default:
			return nil, p.errorf(t.pos, "unexpected %q in IN list", t.s)
		}
	}
}
