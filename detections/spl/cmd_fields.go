package spl

import (
	"strings"
)

// tableCmd keeps only the listed fields (wildcards allowed), in order.
type tableCmd struct{ fields []wildcard }

func parseTable(p *parser, name token) (command, error) {
	fs, err := p.fieldList()
	if err != nil {
		return nil, err
	}
	if len(fs) == 0 {
		return nil, p.errorf(name.pos, "table needs field names")
	}
	c := &tableCmd{}
	for _, f := range fs {
		c.fields = append(c.fields, newWildcard(f.s))
	}
	return c, nil
}

func (c *tableCmd) name() string { return "table" }

func (c *tableCmd) start(_ *runCtx, next stage) (stage, error) {
	return &mapStage{next: next, cmd: "table", fn: func(r *row) (*row, error) {
		return keepFields(r, c.fields, false)
	}}, nil
}

// keepFields builds a row with only the matching fields (and, for the
// fields command, the internal _time and _raw).
func keepFields(r *row, keep []wildcard, internal bool) (*row, error) {
	out := &row{set: map[string]Value{}}
	wild := false
	for _, w := range keep {
		if w.isWild() {
			wild = true
			continue
		}
		v, err := r.get(w.text)
		if err != nil {
			return nil, err
		}
		if !v.IsNull() {
			out.set[w.text] = v
		}
	}
	if wild || internal {
		err := r.each(func(n string, v Value) {
			if internal && (n == "_time" || n == "_raw") {
				out.set[n] = v
				return
			}
			for _, w := range keep {
				if w.isWild() && w.match(n) {
					out.set[n] = v
					return
				}
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// mapStage rewrites each row.
type mapStage struct {
	next stage
	cmd  string
	fn   func(r *row) (*row, error)
}

func (s *mapStage) push(r *row) error {
	out, err := s.fn(r)
	if err != nil {
		return cmdError(s.cmd, err)
	}
	if out == nil {
		return nil
	}
	return s.next.push(out)
}

func (s *mapStage) done() error { return s.next.done() }

// fieldsCmd keeps (fields [+] a b) or removes (fields - a b) fields.
type fieldsCmd struct {
	remove bool
	fields []wildcard
}

func parseFields(p *parser, name token) (command, error) {
	c := &fieldsCmd{}
	if t, _ := p.peekA(); t.k == tWord && (t.s == "-" || t.s == "+") {
		p.nextA()
		c.remove = t.s == "-"
	}
	fs, err := p.fieldList()
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		s := f.s
		// "fields -a" is "fields - a"
		if len(c.fields) == 0 && !f.quote && len(s) > 1 && (s[0] == '-' || s[0] == '+') && !c.remove {
			c.remove = s[0] == '-'
			s = s[1:]
		}
		c.fields = append(c.fields, newWildcard(s))
	}
	if len(c.fields) == 0 {
		return nil, p.errorf(name.pos, "fields needs field names")
	}
	return c, nil
}

func (c *fieldsCmd) name() string { return "fields" }

func (c *fieldsCmd) start(_ *runCtx, next stage) (stage, error) {
	return &mapStage{next: next, cmd: "fields", fn: func(r *row) (*row, error) {
		if !c.remove {
			return keepFields(r, c.fields, true)
		}
		wild := false
		for _, w := range c.fields {
			if w.isWild() {
				wild = true
			} else {
				r.put(w.text, Null)
			}
		}
		if wild {
			names, err := r.names()
			if err != nil {
				return nil, err
			}
			for _, n := range names {
				for _, w := range c.fields {
					if w.isWild() && w.match(n) {
						r.put(n, Null)
					}
				}
			}
		}
		return r, nil
	}}, nil
}

// renameCmd renames fields; a * in both names carries what it matched
// (rename requestParameters.* as *).
type renameCmd struct {
	from, to []wildcard
}

func parseRename(p *parser, name token) (command, error) {
	c := &renameCmd{}
	for !p.atEnd() {
		t, err := p.nextA()
		if err != nil {
			return nil, err
		}
		if t.k == tComma {
			continue
		}
		if t.k != tWord && t.k != tString {
			return nil, p.errorf(t.pos, "rename: expected a field name, found %q", t.s)
		}
		as, err := p.nextA()
		if err != nil {
			return nil, err
		}
		if !as.isKeyword("as") {
			return nil, p.errorf(as.pos, "rename: expected AS after %s", t.s)
		}
		to, err := p.fieldName("rename")
		if err != nil {
			return nil, err
		}
		if strings.Count(t.s, "*") != strings.Count(to.s, "*") {
			return nil, p.errorf(to.pos, "rename: %s and %s must have the same number of wildcards", t.s, to.s)
		}
		c.from = append(c.from, newWildcard(t.s))
		c.to = append(c.to, newWildcard(to.s))
	}
	if len(c.from) == 0 {
		return nil, p.errorf(name.pos, "rename needs old AS new")
	}
	return c, nil
}

func (c *renameCmd) name() string { return "rename" }

func (c *renameCmd) start(_ *runCtx, next stage) (stage, error) {
	return &mapStage{next: next, cmd: "rename", fn: func(r *row) (*row, error) {
		for i, from := range c.from {
			if !from.isWild() {
				v, err := r.get(from.text)
				if err != nil {
					return nil, err
				}
				if v.IsNull() || from.text == c.to[i].text {
					continue
				}
				r.put(from.text, Null)
				r.put(c.to[i].text, v)
				continue
			}
			var moves []Field
			err := r.each(func(n string, v Value) {
				if caps, ok := from.capture(n); ok {
					moves = append(moves, Field{n, v})
					moves[len(moves)-1].Name = n + "\x00" + c.to[i].fill(caps)
				}
			})
			if err != nil {
				return nil, err
			}
			for _, m := range moves {
				old, _, _ := strings.Cut(m.Name, "\x00")
				r.put(old, Null)
			}
			for _, m := range moves {
				_, nu, _ := strings.Cut(m.Name, "\x00")
				r.put(nu, m.Value)
			}
		}
		return r, nil
	}}, nil
}
