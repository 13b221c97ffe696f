package spl

import "fmt"

// searchCmd filters rows with a search expression (the leading implicit
// search, or | search later in the pipeline).
type searchCmd struct{ expr sexpr }

func (p *parser) parseSearchArgs(tm *timeMods) (command, error) {
	e, err := p.parseSearchExpr(tm)
	if err != nil {
		return nil, err
	}
	if t, _ := p.lx.peek(modeSearch); t.k == tRParen {
		return nil, p.errorf(t.pos, "unbalanced parenthesis")
	}
	return &searchCmd{expr: e}, nil
}

func parseSearchCmd(p *parser, _ token) (command, error) { return p.parseSearchArgs(nil) }

func (c *searchCmd) name() string { return "search" }

func (c *searchCmd) start(_ *runCtx, next stage) (stage, error) {
	if _, ok := c.expr.(sAll); ok {
		return next, nil // "search *", as *_filter macros expand to
	}
	return &filterStage{next: next, keep: func(r *row) (bool, error) { return c.expr.match(r) }, cmd: "search"}, nil
}

type filterStage struct {
	next stage
	keep func(r *row) (bool, error)
	cmd  string
}

func (s *filterStage) push(r *row) error {
	ok, err := s.keep(r)
	if err != nil {
		return cmdError(s.cmd, err)
	}
	if ok {
		return s.next.push(r)
	}
	return nil
}

func (s *filterStage) done() error { return s.next.done() }

// whereCmd keeps rows for which an eval expression is true.
type whereCmd struct{ e expr }

func parseWhere(p *parser, name token) (command, error) {
	if p.atEnd() {
		return nil, p.errorf(name.pos, "where needs an expression")
	}
	e, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if err := p.expectEnd("where"); err != nil {
		return nil, err
	}
	return &whereCmd{e: e}, nil
}

func (c *whereCmd) name() string { return "where" }

func (c *whereCmd) start(rc *runCtx, next stage) (stage, error) {
	return &filterStage{next: next, cmd: "where", keep: func(r *row) (bool, error) {
		v, err := c.e.eval(rc.ev, r)
		if err != nil {
			return false, err
		}
		switch v.k {
		case kindBool:
			return v.truth(), nil
		case kindNull:
			return false, nil
		}
		return false, fmt.Errorf("the expression gives %q, not true or false", v.String())
	}}, nil
}

// evalCmd sets fields from expressions, left to right: each assignment
// sees the ones before it.
type evalCmd struct {
	names []string
	exprs []expr
	poss  []int
}

func parseEval(p *parser, name token) (command, error) {
	c := &evalCmd{}
	for {
		t, err := p.lx.next(modeEval)
		if err != nil {
			return nil, err
		}
		if t.k != tWord && t.k != tField && t.k != tString {
			return nil, p.errorf(t.pos, "eval: expected a field name, found %q", t.s)
		}
		eq, err := p.lx.next(modeEval)
		if err != nil {
			return nil, err
		}
		if !eq.is(tOp, "=") {
			return nil, p.errorf(eq.pos, "eval: expected = after %s", t.s)
		}
		e, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		c.names, c.exprs, c.poss = append(c.names, t.s), append(c.exprs, e), append(c.poss, t.pos)
		n, err := p.lx.peek(modeEval)
		if err != nil {
			return nil, err
		}
		if n.k != tComma {
			break
		}
		p.lx.next(modeEval)
	}
	if len(c.names) == 0 {
		return nil, p.errorf(name.pos, "eval needs field=expression")
	}
	if err := p.expectEnd("eval"); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *evalCmd) name() string { return "eval" }

func (c *evalCmd) start(rc *runCtx, next stage) (stage, error) {
	return &evalStage{c: c, rc: rc, next: next}, nil
}

type evalStage struct {
	c    *evalCmd
	rc   *runCtx
	next stage
}

func (s *evalStage) push(r *row) error {
	for i, e := range s.c.exprs {
		v, err := e.eval(s.rc.ev, r)
		if err != nil {
			return cmdError("eval", fmt.Errorf("%s: %w", s.c.names[i], err))
		}
		if v.isBool() {
			return fmt.Errorf("eval: %s: a field cannot hold a boolean (wrap the condition in if())", s.c.names[i])
		}
		r.put(s.c.names[i], v)
	}
	return s.next.push(r)
}

func (s *evalStage) done() error { return s.next.done() }
