package spl

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Expression grammar (eval, where, calculated fields), lowest precedence
// first — the usual order, unlike the search command:
//
//	or     := and { (OR | XOR) and }
//	and    := not { AND not }
//	not    := NOT not | cmp
//	cmp    := add [ (= | == | != | < | > | <= | >= | LIKE) add ]
//	add    := mul { (+ | - | .) mul }
//	mul    := unary { (* | / | %) unary }
//	unary  := - unary | primary
//	primary:= number | "string" | 'field' | field | func(args) | ( or )
//
// Word operators are accepted in any case (where a and b).

func (p *parser) parseExpr() (expr, error) { return p.parseOr() }

func (p *parser) peekE() (token, error) { return p.lx.peek(modeEval) }
func (p *parser) nextE() (token, error) { return p.lx.next(modeEval) }

func (p *parser) parseOr() (expr, error) {
	a, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for {
		t, err := p.peekE()
		if err != nil {
			return nil, err
		}
		if !t.isKeyword("or") && !t.isKeyword("xor") {
			return a, nil
		}
		p.nextE()
		b, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		a = binExpr{op: strings.ToLower(t.s), a: a, b: b, pos: t.pos}
	}
}

func (p *parser) parseAnd() (expr, error) {
	a, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	for {
		t, err := p.peekE()
		if err != nil {
			return nil, err
		}
		if !t.isKeyword("and") {
			return a, nil
		}
		p.nextE()
		b, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		a = binExpr{op: "and", a: a, b: b, pos: t.pos}
	}
}

func (p *parser) parseNot() (expr, error) {
	t, err := p.peekE()
	if err != nil {
		return nil, err
	}
	if t.isKeyword("not") {
		p.nextE()
		x, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return notExpr{x: x, pos: t.pos}, nil
	}
	return p.parseCmp()
}

func (p *parser) parseCmp() (expr, error) {
	a, err := p.parseAdd()
	if err != nil {
		return nil, err
	}
	t, err := p.peekE()
	if err != nil {
		return nil, err
	}
	op := ""
	switch {
	case t.k == tOp && (t.s == "=" || t.s == "==" || t.s == "!=" || t.s == "<" || t.s == ">" || t.s == "<=" || t.s == ">="):
		op = t.s
		if op == "==" {
			op = "="
		}
	case t.isKeyword("like"):
		op = "like"
	default:
		return a, nil
	}
	p.nextE()
	b, err := p.parseAdd()
	if err != nil {
		return nil, err
	}
	return binExpr{op: op, a: a, b: b, pos: t.pos}, nil
}

func (p *parser) parseAdd() (expr, error) { return p.parseLeft(p.parseMul, "+", "-", ".") }

func (p *parser) parseMul() (expr, error) { return p.parseLeft(p.parseUnary, "*", "/", "%") }

// parseLeft parses a left-associative chain of operands joined by ops.
func (p *parser) parseLeft(operand func() (expr, error), ops ...string) (expr, error) {
	a, err := operand()
	if err != nil {
		return nil, err
	}
	for {
		t, err := p.peekE()
		if err != nil {
			return nil, err
		}
		if t.k != tOp || !slices.Contains(ops, t.s) {
			return a, nil
		}
		p.nextE()
		b, err := operand()
		if err != nil {
			return nil, err
		}
		a = binExpr{op: t.s, a: a, b: b, pos: t.pos}
	}
}

func (p *parser) parseUnary() (expr, error) {
	t, err := p.peekE()
	if err != nil {
		return nil, err
	}
	if t.is(tOp, "-") {
		p.nextE()
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		if l, ok := x.(litExpr); ok && l.v.k == kindNumber {
			return litExpr{Num(-l.v.n)}, nil
		}
		return negExpr{x: x, pos: t.pos}, nil
	}
	if t.is(tOp, "+") {
		p.nextE()
		return p.parseUnary()
	}
	return p.parsePrimary()
}

func (p *parser) parsePrimary() (expr, error) {
	t, err := p.nextE()
	if err != nil {
		return nil, err
	}
	switch t.k {
	case tNumber:
		f, err := strconv.ParseFloat(t.s, 64)
		if err != nil {
			return nil, p.errorf(t.pos, "bad number %q", t.s)
		}
		return litExpr{Num(f)}, nil
	case tString:
		return litExpr{Str(t.s)}, nil
	case tField:
		return fieldExpr{name: t.s, pos: t.pos}, nil
	case tLParen:
		x, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		c, err := p.nextE()
		if err != nil {
			return nil, err
		}
		if c.k != tRParen {
			return nil, p.errorf(t.pos, "unbalanced parenthesis")
		}
		return x, nil
	case tWord:
		if n, _ := p.peekE(); n.k == tLParen && !t.isKeyword("not") {
			return p.parseCall(t) // like(x, y) is a function too
		}
		if isWordOp(t.s) {
			return nil, p.errorf(t.pos, "%s needs an operand before it", strings.ToUpper(t.s))
		}
		return fieldExpr{name: t.s, pos: t.pos}, nil
	case tEOF, tPipe, tRBrack:
		return nil, p.errorf(t.pos, "expression ends early")
	}
	return nil, p.errorf(t.pos, "unexpected %q in expression", t.s)
}

func (p *parser) parseCall(name token) (expr, error) {
	p.nextE() // (
	fname := strings.ToLower(name.s)
	fn, ok := functions[fname]
	if !ok {
		return nil, p.errorf(name.pos, "unsupported function %q", name.s)
	}
	call := &callExpr{name: fname, fn: fn, pos: name.pos}
	if t, _ := p.peekE(); t.k == tRParen {
		p.nextE()
	} else {
		for {
			a, err := p.parseOr()
			if err != nil {
				return nil, err
			}
			call.args = append(call.args, a)
			t, err := p.nextE()
			if err != nil {
				return nil, err
			}
			if t.k == tRParen {
				break
			}
			if t.k != tComma {
				return nil, p.errorf(t.pos, "%s(): expected , or ) but found %q", fname, t.s)
			}
		}
	}
	if len(call.args) < fn.min || fn.max >= 0 && len(call.args) > fn.max {
		want := fmt.Sprintf("%d", fn.min)
		switch {
		case fn.max < 0:
			want = fmt.Sprintf("at least %d", fn.min)
		case fn.max != fn.min:
			want = fmt.Sprintf("%d to %d", fn.min, fn.max)
		}
		return nil, p.errorf(name.pos, "%s() takes %s arguments, got %d", fname, want, len(call.args))
	}
	if fn.check != nil {
		if err := fn.check(call); err != nil {
			return nil, p.errorf(name.pos, "%s(): %v", fname, err)
		}
	}
	return call, nil
}

// ParseExpr parses one eval expression, for callers that compute fields
// outside a query (an input's calculated fields).
func ParseExpr(s string) (Expr, error) {
	p := newParser(s)
	e, err := p.parseExpr()
	if err != nil {
		return Expr{}, err
	}
	if t, _ := p.lx.peek(modeEval); t.k != tEOF {
		return Expr{}, p.errorf(t.pos, "unexpected %q after expression", t.s)
	}
	return Expr{e: e, src: s}, nil
}

// Expr is a parsed eval expression.
type Expr struct {
	e   expr
	src string
}

// Fields lists the fields the expression reads.
func (x Expr) Fields() []string { return fieldsOf(x.e) }

// Alias returns the field the expression copies when it is a bare field
// reference, like a props.conf FIELDALIAS.
func (x Expr) Alias() (string, bool) {
	f, ok := x.e.(fieldExpr)
	return f.name, ok
}
