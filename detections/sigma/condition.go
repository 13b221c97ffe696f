package sigma

import (
	"path"
	"strings"
	"unicode"
)

// The condition grammar (Sigma rules specification, "Condition"), least
// to most binding: or, and, not, "1 of"/"all of", parentheses.
//
//	expr   = and { "or" and }
//	and    = unary { "and" unary }
//	unary  = "not" unary | "1 of" target | "any of" target | "all of" target | "(" expr ")" | ident
//	target = "them" | pattern      (pattern: an identifier with * wildcards)

// expr is a node of the boolean expression a rule's condition expands to.
type expr interface{}

type andExpr struct{ kids []expr }
type orExpr struct{ kids []expr }
type notExpr struct{ kid expr }

type condParser struct {
	toks     []string
	pos      int
	searches map[string]*Search
	order    []string
	line     int
}

// parseCondition parses one condition and expands search identifiers into
// their selections (see expandSearch).
func parseCondition(src string, line int, r *Rule) (expr, error) {
	if strings.Contains(src, "|") {
		return nil, unsupported(line, "the condition aggregates (%q): legacy aggregations and correlations are not supported; write a patrol detection with stats instead", strings.TrimSpace(src[strings.Index(src, "|"):]))
	}
	p := &condParser{toks: tokenize(src), searches: map[string]*Search{}, line: line}
	for _, s := range r.Searches {
		p.searches[s.Name] = s
		p.order = append(p.order, s.Name)
	}
	if len(p.toks) == 0 {
		return nil, unsupported(line, "the condition is empty")
	}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, unsupported(line, "condition %q: unexpected %q", src, p.toks[p.pos])
	}
	return e, nil
}

func tokenize(s string) []string {
	var out []string
	cur := strings.Builder{}
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for _, c := range s {
		switch {
		case c == '(' || c == ')':
			flush()
			out = append(out, string(c))
		case unicode.IsSpace(c):
			flush()
		default:
			cur.WriteRune(c)
		}
	}
	flush()
	return out
}

func (p *condParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *condParser) keyword(kw string) bool {
	if strings.EqualFold(p.peek(), kw) {
		p.pos++
		return true
	}
	return false
}

func (p *condParser) or() (expr, error) {
	first, err := p.and()
	if err != nil {
		return nil, err
	}
	kids := []expr{first}
	for p.keyword("or") {
		e, err := p.and()
		if err != nil {
			return nil, err
		}
		kids = append(kids, e)
	}
	return flatten(orExpr{kids}), nil
}

func (p *condParser) and() (expr, error) {
	first, err := p.unary()
	if err != nil {
		return nil, err
	}
	kids := []expr{first}
	for p.keyword("and") {
		e, err := p.unary()
		if err != nil {
			return nil, err
		}
		kids = append(kids, e)
	}
	return flatten(andExpr{kids}), nil
}

func (p *condParser) unary() (expr, error) {
	t := p.peek()
	switch {
	case t == "":
		return nil, unsupported(p.line, "the condition ends early")
	case strings.EqualFold(t, "not"):
		p.pos++
		e, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notExpr{e}, nil
	case t == "(":
		p.pos++
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, unsupported(p.line, "the condition has an unbalanced parenthesis")
		}
		p.pos++
		return e, nil
	case t == ")":
		return nil, unsupported(p.line, "the condition has an unexpected )")
	case strings.EqualFold(t, "near"):
		return nil, unsupported(p.line, "the condition uses near (a temporal correlation), which is not supported: write a detection for each part, then a patrol detection with [sequence] over them (README.md, \"Sequences\")")
	case strings.EqualFold(t, "and") || strings.EqualFold(t, "or"):
		return nil, unsupported(p.line, "%q needs a term on each side", t)
	}
	p.pos++
	if q := strings.ToLower(t); (q == "1" || q == "any" || q == "all") && strings.EqualFold(p.peek(), "of") {
		p.pos++
		return p.of(q == "all", p.peek())
	}
	s := p.searches[t]
	if s == nil {
		return nil, unsupported(p.line, "the condition names %q, which is not a search identifier of the detection", t)
	}
	return expandSearch(s)
}

// of expands "1 of X" (OR) or "all of X" (AND) over the identifiers that
// match X, or over every identifier not starting with _ for "them".
func (p *condParser) of(all bool, target string) (expr, error) {
	if target == "" || target == "(" || target == ")" {
		return nil, unsupported(p.line, "\"of\" needs a search identifier pattern or them")
	}
	p.pos++
	var kids []expr
	for _, name := range p.order {
		var ok bool
		if target == "them" {
			ok = !strings.HasPrefix(name, "_")
		} else {
			ok, _ = path.Match(target, name)
		}
		if !ok {
			continue
		}
		e, err := expandSearch(p.searches[name])
		if err != nil {
			return nil, err
		}
		kids = append(kids, e)
	}
	if len(kids) == 0 {
		return nil, unsupported(p.line, "%q matches no search identifier", target)
	}
	if all {
		return flatten(andExpr{kids}), nil
	}
	return flatten(orExpr{kids}), nil
}

// flatten merges nested ANDs into an AND and ORs into an OR, and returns a
// lone child on its own.
func flatten(e expr) expr {
	switch x := e.(type) {
	case andExpr:
		var kids []expr
		for _, k := range x.kids {
			if a, ok := k.(andExpr); ok {
				kids = append(kids, a.kids...)
			} else {
				kids = append(kids, k)
			}
		}
		if len(kids) == 1 {
			return kids[0]
		}
		return andExpr{kids}
	case orExpr:
		var kids []expr
		for _, k := range x.kids {
			if o, ok := k.(orExpr); ok {
				kids = append(kids, o.kids...)
			} else {
				kids = append(kids, k)
			}
		}
		if len(kids) == 1 {
			return kids[0]
		}
		return orExpr{kids}
	}
	return e
}
