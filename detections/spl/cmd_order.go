package spl

import (
	"errors"
	"sort"
	"strconv"
	"strings"
)

// errStop tells the stages upstream of head that no more rows are wanted,
// so that a search over many files ends as soon as head is satisfied.
var errStop = errors.New("no more rows wanted")

// pushAll sends rows on, stopping quietly when downstream has had enough.
func pushAll(next stage, rows []*row) error {
	for _, r := range rows {
		if err := next.push(r); err != nil {
			if errors.Is(err, errStop) {
				break
			}
			return err
		}
	}
	return next.done()
}

type sortKey struct {
	field string
	desc  bool
	how   string // auto, num, str, ip
}

type sortCmd struct {
	keys  []sortKey
	limit int
}

// sortDefaultLimit is Splunk's default: sort returns at most 10000 rows
// unless given a count (0 for all).
const sortDefaultLimit = 10000

func parseSort(p *parser, name token) (command, error) {
	c := &sortCmd{limit: sortDefaultLimit}
	if t, _ := p.peekA(); t.k == tWord {
		if n, err := strconv.Atoi(t.s); err == nil && n >= 0 {
			p.nextA()
			c.limit = n
		}
	}
	pendingDesc := false
	for !p.atEnd() {
		if opt, v, ok, err := p.option(); err != nil {
			return nil, err
		} else if ok {
			if opt != "limit" {
				return nil, p.unsupportedOption("sort", opt, v)
			}
			n, err := p.intValue(opt, v)
			if err != nil {
				return nil, err
			}
			c.limit = n
			continue
		}
		t, err := p.nextA()
		if err != nil {
			return nil, err
		}
		switch {
		case t.k == tComma:
			continue
		case t.k == tWord && (t.s == "-" || t.s == "+"):
			pendingDesc = t.s == "-"
			continue
		case t.isKeyword("desc") || t.isKeyword("d"):
			// a trailing desc reverses the whole order
			for i := range c.keys {
				c.keys[i].desc = !c.keys[i].desc
			}
			continue
		case t.k != tWord && t.k != tString:
			return nil, p.errorf(t.pos, "sort: expected a field, found %q", t.s)
		}
		k := sortKey{field: t.s, desc: pendingDesc, how: "auto"}
		pendingDesc = false
		if !t.quote && (strings.HasPrefix(k.field, "-") || strings.HasPrefix(k.field, "+")) {
			k.desc = k.field[0] == '-'
			k.field = k.field[1:]
		}
		fn := strings.ToLower(k.field)
		if lp, _ := p.peekA(); lp.k == tLParen && (fn == "num" || fn == "str" || fn == "ip" || fn == "auto") {
			p.nextA()
			f, err := p.fieldName("sort")
			if err != nil {
				return nil, err
			}
			if rp, _ := p.nextA(); rp.k != tRParen {
				return nil, p.errorf(rp.pos, "sort: expected )")
			}
			k.how, k.field = fn, f.s
		} else if lp.k == tLParen {
			return nil, p.errorf(t.pos, "sort: unsupported function %q (num, str, ip, auto)", t.s)
		}
		c.keys = append(c.keys, k)
	}
	if len(c.keys) == 0 {
		return nil, p.errorf(name.pos, "sort needs a field")
	}
	return c, nil
}

func (c *sortCmd) name() string { return "sort" }

func (c *sortCmd) start(_ *runCtx, next stage) (stage, error) {
	return &sortStage{c: c, next: next}, nil
}

type sortStage struct {
	c    *sortCmd
	next stage
	rows []*row
	vals [][]Value
}

func (s *sortStage) push(r *row) error {
	vals := make([]Value, len(s.c.keys))
	for i, k := range s.c.keys {
		v, err := r.get(k.field)
		if err != nil {
			return cmdError("sort", err)
		}
		vals[i] = v
	}
	r.retain()
	s.rows = append(s.rows, r)
	s.vals = append(s.vals, vals)
	return nil
}

func compareHow(a, b Value, how string) int {
	switch {
	case a.IsNull() && b.IsNull():
		return 0
	case a.IsNull():
		return 1 // missing values last
	case b.IsNull():
		return -1
	}
	switch how {
	case "str":
		return strings.Compare(a.String(), b.String())
	case "num":
		x, xok := a.Number()
		y, yok := b.Number()
		switch {
		case xok && yok:
			return compareFloat(x, y)
		case xok:
			return -1
		case yok:
			return 1
		}
		return strings.Compare(a.String(), b.String())
	case "ip":
		return strings.Compare(ipKey(a.String()), ipKey(b.String()))
	}
	return sortCompare(a, b)
}

func compareFloat(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// ipKey makes dotted IPv4 addresses sort numerically as strings.
func ipKey(s string) string {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return s
	}
	var b strings.Builder
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return s
		}
		b.WriteString(strconv.Itoa(1000 + n))
	}
	return b.String()
}

func (s *sortStage) done() error {
	idx := make([]int, len(s.rows))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool {
		a, b := s.vals[idx[i]], s.vals[idx[j]]
		for k, key := range s.c.keys {
			c := compareHow(a[k], b[k], key.how)
			if c != 0 {
				if key.desc {
					return c > 0
				}
				return c < 0
			}
		}
		return false
	})
	if s.c.limit > 0 && len(idx) > s.c.limit {
		idx = idx[:s.c.limit]
	}
	out := make([]*row, len(idx))
	for i, k := range idx {
		out[i] = s.rows[k]
	}
	return pushAll(s.next, out)
}

// dedupCmd keeps the first count rows of each combination of values.
type dedupCmd struct {
	fields      []string
	count       int
	keepEmpty   bool
	consecutive bool
}

func parseDedup(p *parser, name token) (command, error) {
	c := &dedupCmd{count: 1}
	if t, _ := p.peekA(); t.k == tWord {
		if n, err := strconv.Atoi(t.s); err == nil && n > 0 {
			p.nextA()
			c.count = n
		}
	}
	for !p.atEnd() {
		if opt, v, ok, err := p.option(); err != nil {
			return nil, err
		} else if ok {
			var err error
			switch opt {
			case "keepempty":
				c.keepEmpty, err = p.boolValue(opt, v)
			case "consecutive":
				c.consecutive, err = p.boolValue(opt, v)
			default:
				err = p.unsupportedOption("dedup", opt, v)
			}
			if err != nil {
				return nil, err
			}
			continue
		}
		t, err := p.nextA()
		if err != nil {
			return nil, err
		}
		switch {
		case t.k == tComma:
			continue
		case t.isKeyword("sortby"):
			return nil, p.errorf(t.pos, "dedup: unsupported sortby (sort before dedup instead)")
		case t.k != tWord && t.k != tString:
			return nil, p.errorf(t.pos, "dedup: expected a field, found %q", t.s)
		}
		c.fields = append(c.fields, t.s)
	}
	if len(c.fields) == 0 {
		return nil, p.errorf(name.pos, "dedup needs a field")
	}
	return c, nil
}

func (c *dedupCmd) name() string { return "dedup" }

func (c *dedupCmd) start(_ *runCtx, next stage) (stage, error) {
	seen := map[string]int{}
	last := ""
	var b strings.Builder
	return &mapStage{next: next, cmd: "dedup", fn: func(r *row) (*row, error) {
		b.Reset()
		for _, f := range c.fields {
			v, err := r.get(f)
			if err != nil {
				return nil, err
			}
			if v.IsNull() {
				if c.keepEmpty {
					return r, nil
				}
				return nil, nil
			}
			b.WriteString(strings.Join(v.Strings(), "\n"))
			b.WriteByte(0)
		}
		key := b.String()
		if c.consecutive {
			if key == last {
				return nil, nil
			}
			last = key
			return r, nil
		}
		if seen[key] >= c.count {
			return nil, nil
		}
		seen[key]++
		return r, nil
	}}, nil
}

// headCmd passes the first n rows (head) or the last n in reverse order
// (tail, as Splunk returns them).
type headCmd struct {
	tail bool
	n    int
}

func parseHead(p *parser, name token) (command, error) {
	c := &headCmd{tail: strings.EqualFold(name.s, "tail"), n: 10}
	cmd := strings.ToLower(name.s)
	for !p.atEnd() {
		if opt, v, ok, err := p.option(); err != nil {
			return nil, err
		} else if ok {
			if opt != "limit" {
				return nil, p.unsupportedOption(cmd, opt, v)
			}
			n, err := p.intValue(opt, v)
			if err != nil {
				return nil, err
			}
			c.n = n
			continue
		}
		t, _ := p.nextA()
		n, err := strconv.Atoi(t.s)
		if err != nil || n < 0 {
			return nil, p.errorf(t.pos, "%s: expected a count, found %q", cmd, t.s)
		}
		c.n = n
	}
	return c, nil
}

func (c *headCmd) name() string {
	if c.tail {
		return "tail"
	}
	return "head"
}

func (c *headCmd) start(_ *runCtx, next stage) (stage, error) {
	if c.tail {
		return &tailStage{n: c.n, next: next}, nil
	}
	return &headStage{n: c.n, next: next}, nil
}

type headStage struct {
	n, seen int
	next    stage
}

func (s *headStage) push(r *row) error {
	if s.seen >= s.n {
		return errStop
	}
	s.seen++
	if err := s.next.push(r); err != nil {
		return err
	}
	if s.seen >= s.n {
		return errStop
	}
	return nil
}

func (s *headStage) done() error { return s.next.done() }

type tailStage struct {
	n    int
	rows []*row
	next stage
}

func (s *tailStage) push(r *row) error {
	if s.n == 0 {
		return nil
	}
	r.retain()
	if len(s.rows) == s.n {
		copy(s.rows, s.rows[1:])
		s.rows = s.rows[:s.n-1]
	}
	s.rows = append(s.rows, r)
	return nil
}

func (s *tailStage) done() error {
	out := make([]*row, 0, len(s.rows))
	for i := len(s.rows) - 1; i >= 0; i-- {
		out = append(out, s.rows[i])
	}
	return pushAll(s.next, out)
}
