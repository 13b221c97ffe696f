package spl

import (
	"sort"
	"strings"
)

// aggSpec is one "fn(field) [as name]" of stats or eventstats.
type aggSpec struct {
	fn    string
	field string // "" for count without a field
	wild  wildcard
	out   string // output name (may hold * when field does)
	as    bool   // renamed with as
	make  func() agg
}

type statsCmd struct {
	event bool // eventstats: annotate rows instead of replacing them
	aggs  []aggSpec
	by    []string
}

func parseStats(p *parser, name token) (command, error) {
	cmd := strings.ToLower(name.s)
	c := &statsCmd{event: cmd == "eventstats"}
	for !p.atEnd() {
		t, err := p.nextA()
		if err != nil {
			return nil, err
		}
		if t.k == tComma {
			continue
		}
		if t.isKeyword("by") {
			by, err := p.fieldList()
			if err != nil {
				return nil, err
			}
			if len(by) == 0 {
				return nil, p.errorf(t.pos, "%s: by needs field names", cmd)
			}
			c.by = tokenNames(by)
			break
		}
		if t.k != tWord {
			return nil, p.errorf(t.pos, "%s: expected a function, found %q", cmd, t.s)
		}
		if n, v, ok, err := p.optionAfter(t); err != nil {
			return nil, err
		} else if ok {
			return nil, p.unsupportedOption(cmd, n, v)
		}
		fn := strings.ToLower(t.s)
		mk, ok := aggFuncs[fn]
		if !ok {
			return nil, p.errorf(t.pos, "%s: unsupported function %q", cmd, t.s)
		}
		spec := aggSpec{fn: fn, make: mk, out: t.s}
		if lp, _ := p.peekA(); lp.k == tLParen {
			p.nextA()
			f, err := p.nextA()
			if err != nil {
				return nil, err
			}
			if f.isKeyword("eval") {
				return nil, p.errorf(f.pos, "%s: unsupported eval() inside %s() (compute the field with eval first)", cmd, t.s)
			}
			if f.k != tWord && f.k != tString {
				return nil, p.errorf(f.pos, "%s: %s() needs a field name", cmd, t.s)
			}
			rp, err := p.nextA()
			if err != nil {
				return nil, err
			}
			if rp.k != tRParen {
				return nil, p.errorf(rp.pos, "%s: expected ) after %s(%s", cmd, t.s, f.s)
			}
			spec.field, spec.wild = f.s, newWildcard(f.s)
			spec.out = t.s + "(" + f.s + ")"
		} else if fn != "count" && fn != "c" {
			return nil, p.errorf(t.pos, "%s: %s needs a field, as in %s(field)", cmd, t.s, t.s)
		}
		if as, _ := p.peekA(); as.isKeyword("as") {
			p.nextA()
			n, err := p.fieldName(cmd)
			if err != nil {
				return nil, err
			}
			spec.out, spec.as = n.s, true
		}
		if spec.wild.isWild() && spec.as && !strings.Contains(spec.out, "*") {
			return nil, p.errorf(t.pos, "%s: %s(%s) can only be renamed to a name with a wildcard", cmd, t.s, spec.field)
		}
		c.aggs = append(c.aggs, spec)
	}
	if len(c.aggs) == 0 {
		return nil, p.errorf(name.pos, "%s needs at least one function, such as count", cmd)
	}
	return c, nil
}

// optionAfter checks whether word t starts "name=value" (a stats option).
func (p *parser) optionAfter(t token) (string, token, bool, error) {
	if n, _ := p.peekA(); !n.is(tOp, "=") {
		return "", token{}, false, nil
	}
	p.nextA()
	v, err := p.nextA()
	return strings.ToLower(t.s), v, true, err
}

func (c *statsCmd) name() string {
	if c.event {
		return "eventstats"
	}
	return "stats"
}

func (c *statsCmd) start(rc *runCtx, next stage) (stage, error) {
	return &statsStage{c: c, next: next, groups: map[string]*group{}}, nil
}

type group struct {
	by    []Value
	aggs  []agg
	wild  []map[string]agg // per wildcard spec: output name → agg
	order [][]string       // per wildcard spec: output names in first-seen order
	rows  []*row           // eventstats: the rows to annotate
}

type statsStage struct {
	c      *statsCmd
	next   stage
	groups map[string]*group
	order  []*group
	all    []*row // eventstats rows in arrival order
	key    strings.Builder
}

func (s *statsStage) newGroup(by []Value) *group {
	g := &group{by: by, aggs: make([]agg, len(s.c.aggs))}
	for i, a := range s.c.aggs {
		if a.wild.isWild() {
			if g.wild == nil {
				g.wild = make([]map[string]agg, len(s.c.aggs))
				g.order = make([][]string, len(s.c.aggs))
			}
			g.wild[i] = map[string]agg{}
			continue
		}
		g.aggs[i] = a.make()
	}
	return g
}

func (s *statsStage) push(r *row) error {
	// group keys: one per combination of by-field values
	combos := [][]Value{nil}
	for _, f := range s.c.by {
		v, err := r.get(f)
		if err != nil {
			return cmdError(s.c.name(), err)
		}
		if v.IsNull() {
			combos = nil
			break
		}
		if !v.IsMulti() {
			for i := range combos {
				combos[i] = append(combos[i], v)
			}
			continue
		}
		var next [][]Value
		for _, cmb := range combos {
			for _, x := range v.mv {
				next = append(next, append(append([]Value(nil), cmb...), Str(x)))
			}
		}
		combos = next
	}
	if s.c.event {
		r.retain()
		s.all = append(s.all, r)
	}
	if combos == nil {
		return nil
	}
	t := 0.0
	for _, cmb := range combos {
		s.key.Reset()
		for _, v := range cmb {
			s.key.WriteString(v.String())
			s.key.WriteByte(0)
		}
		g := s.groups[s.key.String()]
		if g == nil {
			g = s.newGroup(cmb)
			s.groups[s.key.String()] = g
			s.order = append(s.order, g)
		}
		if s.c.event {
			g.rows = append(g.rows, r)
		}
		if len(g.wild) == 0 && len(s.c.aggs) == 1 && s.c.aggs[0].field == "" {
			g.aggs[0].add(Null, 0) // plain count: nothing to read
			continue
		}
		if tv, err := r.get("_time"); err == nil {
			t, _ = tv.Number()
		}
		for i, a := range s.c.aggs {
			if err := s.feed(g, i, a, r, t); err != nil {
				return cmdError(s.c.name(), err)
			}
		}
	}
	return nil
}

func (s *statsStage) feed(g *group, i int, a aggSpec, r *row, t float64) error {
	if a.field == "" {
		g.aggs[i].add(Null, t)
		return nil
	}
	if !a.wild.isWild() {
		v, err := r.get(a.field)
		if err != nil {
			return err
		}
		v.each(func(x Value) bool { g.aggs[i].add(x, t); return false })
		return nil
	}
	return r.each(func(name string, v Value) {
		caps, ok := a.wild.capture(name)
		if !ok {
			return
		}
		out := strings.TrimSuffix(a.out, a.field+")") + name + ")"
		if a.as {
			out = newWildcard(a.out).fill(caps)
		}
		ag := g.wild[i][out]
		if ag == nil {
			ag = a.make()
			g.wild[i][out] = ag
			g.order[i] = append(g.order[i], out)
		}
		v.each(func(x Value) bool { ag.add(x, t); return false })
	})
}

func (s *statsStage) results(g *group, r *row) {
	for i, a := range s.c.aggs {
		if a.wild.isWild() {
			for _, out := range g.order[i] {
				r.put(out, g.wild[i][out].result())
			}
			continue
		}
		r.put(a.out, g.aggs[i].result())
	}
}

func (s *statsStage) done() error {
	if s.c.event {
		for _, g := range s.order {
			for _, r := range g.rows {
				s.results(g, r)
			}
		}
		return pushAll(s.next, s.all)
	}
	if len(s.c.by) == 0 && len(s.order) == 0 {
		// stats without by always answers, with zero counts
		s.order = append(s.order, s.newGroup(nil))
	}
	// Splunk returns stats groups ordered by their by-field values
	sort.SliceStable(s.order, func(i, j int) bool {
		a, b := s.order[i].by, s.order[j].by
		for k := range a {
			if c := sortCompare(a[k], b[k]); c != 0 {
				return c < 0
			}
		}
		return false
	})
	rows := make([]*row, len(s.order))
	for i, g := range s.order {
		r := &row{set: make(map[string]Value, len(s.c.by)+len(s.c.aggs))}
		for k, f := range s.c.by {
			r.put(f, g.by[k])
		}
		s.results(g, r)
		rows[i] = r
	}
	return pushAll(s.next, rows)
}
