package spl

import (
	"errors"
	"strings"
)

// collectStage gathers a subsearch's rows.
type collectStage struct{ rows []*row }

func (c *collectStage) push(r *row) error {
	r.retain()
	c.rows = append(c.rows, r)
	return nil
}

func (c *collectStage) done() error { return nil }

// runSub runs a subsearch over the same source and returns its rows.
func runSub(rc *runCtx, cmds []command) ([]*row, error) {
	f := &Filter{}
	if s, ok := cmds[0].(*searchCmd); ok {
		f.expr = s.expr
	}
	c := &collectStage{}
	if err := runPipeline(rc, cmds, f, c); err != nil {
		return nil, err
	}
	return c.rows, nil
}

// appendCmd adds a subsearch's results after the main results.
type appendCmd struct{ sub []command }

func parseAppend(p *parser, name token) (command, error) {
	if t, _ := p.peekA(); t.k == tWord {
		if _, v, ok, _ := p.option(); ok {
			return nil, p.errorf(v.pos, "append: unsupported option %s=", t.s)
		}
	}
	sub, err := p.subsearch("append")
	if err != nil {
		return nil, err
	}
	return &appendCmd{sub: sub}, p.expectEnd("append")
}

func (c *appendCmd) name() string { return "append" }

func (c *appendCmd) start(rc *runCtx, next stage) (stage, error) {
	return &appendStage{c: c, rc: rc, next: next}, nil
}

type appendStage struct {
	c       *appendCmd
	rc      *runCtx
	next    stage
	stopped bool
}

func (s *appendStage) push(r *row) error {
	err := s.next.push(r)
	if errors.Is(err, errStop) {
		s.stopped = true
	}
	return err
}

func (s *appendStage) done() error {
	if s.stopped {
		return s.next.done()
	}
	rows, err := runSub(s.rc, s.c.sub)
	if err != nil {
		return cmdError("append", err)
	}
	return pushAll(s.next, rows)
}

// joinCmd merges into each row the fields of the subsearch row that has
// the same values for the join fields.
type joinCmd struct {
	fields    []string
	typ       string // inner, left (outer)
	max       int    // matches per row, 0: all
	overwrite bool
	sub       []command
}

func parseJoin(p *parser, name token) (command, error) {
	c := &joinCmd{typ: "inner", max: 1, overwrite: true}
	for !p.atEnd() {
		t, _ := p.peekA()
		if t.k == tLBrack {
			break
		}
		if opt, v, ok, err := p.option(); err != nil {
			return nil, err
		} else if ok {
			switch opt {
			case "type":
				switch strings.ToLower(v.s) {
				case "inner":
					c.typ = "inner"
				case "left", "outer":
					c.typ = "left"
				default:
					return nil, p.errorf(v.pos, "join: type must be inner, left or outer")
				}
			case "max":
				if c.max, err = p.intValue(opt, v); err != nil {
					return nil, err
				}
			case "overwrite":
				if c.overwrite, err = p.boolValue(opt, v); err != nil {
					return nil, err
				}
			default:
				return nil, p.unsupportedOption("join", opt, v)
			}
			continue
		}
		p.nextA()
		if t.k == tComma {
			continue
		}
		if t.k != tWord && t.k != tString {
			return nil, p.errorf(t.pos, "join: expected a field, found %q", t.s)
		}
		c.fields = append(c.fields, t.s)
	}
	if len(c.fields) == 0 {
		return nil, p.errorf(name.pos, "join needs the fields to join on")
	}
	sub, err := p.subsearch("join")
	if err != nil {
		return nil, err
	}
	c.sub = sub
	return c, p.expectEnd("join")
}

func (c *joinCmd) name() string { return "join" }

func (c *joinCmd) start(rc *runCtx, next stage) (stage, error) {
	return &joinStage{c: c, rc: rc, next: next}, nil
}

type joinStage struct {
	c     *joinCmd
	rc    *runCtx
	next  stage
	index map[string][]*row
}

func (s *joinStage) key(r *row) (string, bool, error) {
	var b strings.Builder
	for _, f := range s.c.fields {
		v, err := r.get(f)
		if err != nil || v.IsNull() {
			return "", false, err
		}
		b.WriteString(strings.Join(v.Strings(), "\n"))
		b.WriteByte(0)
	}
	return b.String(), true, nil
}

func (s *joinStage) push(r *row) error {
	if s.index == nil {
		// the subsearch runs once, on the first row: a join with no main
		// rows never needs it
		rows, err := runSub(s.rc, s.c.sub)
		if err != nil {
			return cmdError("join", err)
		}
		s.index = map[string][]*row{}
		for _, sr := range rows {
			k, ok, err := s.key(sr)
			if err != nil {
				return cmdError("join", err)
			}
			if ok {
				s.index[k] = append(s.index[k], sr)
			}
		}
	}
	k, ok, err := s.key(r)
	if err != nil {
		return cmdError("join", err)
	}
	var matches []*row
	if ok {
		matches = s.index[k]
	}
	if len(matches) == 0 {
		if s.c.typ == "left" {
			return s.next.push(r)
		}
		return nil
	}
	if s.c.max > 0 && len(matches) > s.c.max {
		matches = matches[:s.c.max]
	}
	for _, m := range matches {
		out := r.clone()
		err := m.each(func(n string, v Value) {
			if !s.c.overwrite {
				if cur, _ := out.get(n); !cur.IsNull() {
					return
				}
			}
			out.put(n, v)
		})
		if err != nil {
			return cmdError("join", err)
		}
		if err := s.next.push(out); err != nil {
			return err
		}
	}
	return nil
}

func (s *joinStage) done() error { return s.next.done() }

// makeresultsCmd makes count empty rows stamped with the search's now.
type makeresultsCmd struct{ count int }

func parseMakeresults(p *parser, _ token) (command, error) {
	c := &makeresultsCmd{count: 1}
	for !p.atEnd() {
		opt, v, ok, err := p.option()
		if err != nil {
			return nil, err
		}
		if !ok {
			t, _ := p.peekA()
			return nil, p.errorf(t.pos, "makeresults: unexpected %q", t.s)
		}
		if opt != "count" {
			return nil, p.unsupportedOption("makeresults", opt, v)
		}
		if c.count, err = p.intValue(opt, v); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *makeresultsCmd) name() string { return "makeresults" }

func (c *makeresultsCmd) start(_ *runCtx, next stage) (stage, error) { return next, nil }

func (c *makeresultsCmd) generate(rc *runCtx, next stage) error {
	for range c.count {
		r := &row{set: map[string]Value{"_time": Num(float64(rc.opts.Now.Unix()))}}
		if err := next.push(r); err != nil {
			if errors.Is(err, errStop) {
				return nil
			}
			return err
		}
	}
	return nil
}
