package spl

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// mvexpandCmd turns a row with a multivalue field into one row per value.
type mvexpandCmd struct {
	field string
	limit int
}

func parseMvexpand(p *parser, name token) (command, error) {
	c := &mvexpandCmd{}
	for !p.atEnd() {
		if opt, v, ok, err := p.option(); err != nil {
			return nil, err
		} else if ok {
			if opt != "limit" {
				return nil, p.unsupportedOption("mvexpand", opt, v)
			}
			if c.limit, err = p.intValue(opt, v); err != nil {
				return nil, err
			}
			continue
		}
		t, err := p.fieldName("mvexpand")
		if err != nil {
			return nil, err
		}
		if c.field != "" {
			return nil, p.errorf(t.pos, "mvexpand takes one field")
		}
		c.field = t.s
	}
	if c.field == "" {
		return nil, p.errorf(name.pos, "mvexpand needs a field")
	}
	return c, nil
}

func (c *mvexpandCmd) name() string { return "mvexpand" }

func (c *mvexpandCmd) start(_ *runCtx, next stage) (stage, error) {
	return &funcStage{next: next, fn: func(r *row, next stage) error {
		v, err := r.get(c.field)
		if err != nil {
			return cmdError("mvexpand", err)
		}
		if !v.IsMulti() {
			return next.push(r)
		}
		for i, s := range v.mv {
			if c.limit > 0 && i >= c.limit {
				break
			}
			x := r.clone()
			x.put(c.field, Str(s))
			if err := next.push(x); err != nil {
				return err
			}
		}
		return nil
	}}, nil
}

// funcStage runs fn for each row; fn pushes what it wants.
type funcStage struct {
	next stage
	fn   func(r *row, next stage) error
}

func (s *funcStage) push(r *row) error { return s.fn(r, s.next) }
func (s *funcStage) done() error       { return s.next.done() }

// binCmd puts numbers or times into buckets of a fixed span.
type binCmd struct {
	field, as string
	span      float64 // seconds for _time, units otherwise
	months    int     // span in months (1mon, 1q, 1y)
	timeSpan  bool
}

func parseBin(p *parser, name token) (command, error) {
	cmd := strings.ToLower(name.s)
	c := &binCmd{}
	var spanTok token
	for !p.atEnd() {
		if opt, v, ok, err := p.option(); err != nil {
			return nil, err
		} else if ok {
			if opt != "span" {
				return nil, p.unsupportedOption(cmd, opt, v)
			}
			spanTok = v
			continue
		}
		t, err := p.nextA()
		if err != nil {
			return nil, err
		}
		if t.isKeyword("as") {
			n, err := p.fieldName(cmd)
			if err != nil {
				return nil, err
			}
			c.as = n.s
			continue
		}
		if t.k != tWord && t.k != tString || c.field != "" {
			return nil, p.errorf(t.pos, "%s: unexpected %q", cmd, t.s)
		}
		c.field = t.s
	}
	if c.field == "" {
		return nil, p.errorf(name.pos, "%s needs a field", cmd)
	}
	if spanTok.s == "" {
		return nil, p.errorf(name.pos, "%s needs span= (automatic bins are not supported)", cmd)
	}
	if err := c.parseSpan(spanTok.s); err != nil {
		return nil, p.errorf(spanTok.pos, "%s: %v", cmd, err)
	}
	if c.as == "" {
		c.as = c.field
	}
	return c, nil
}

func (c *binCmd) parseSpan(s string) error {
	i := 0
	for i < len(s) && (isDigit(s[i]) || s[i] == '.') {
		i++
	}
	n := 1.0
	if i > 0 {
		var err error
		if n, err = strconv.ParseFloat(s[:i], 64); err != nil || n <= 0 {
			return fmt.Errorf("bad span %q", s)
		}
	}
	unit := s[i:]
	if unit == "" {
		c.span = n
		c.timeSpan = c.field == "_time"
		return nil
	}
	c.timeSpan = true
	switch unitName(strings.ToLower(unit)) {
	case "s":
		c.span = n
	case "m":
		c.span = n * 60
	case "h":
		c.span = n * 3600
	case "d":
		c.span = n * 86400
	case "w":
		c.span = n * 7 * 86400
	case "mon":
		c.months = int(n)
	case "q":
		c.months = 3 * int(n)
	case "y":
		c.months = 12 * int(n)
	default:
		return fmt.Errorf("bad span unit in %q", s)
	}
	return nil
}

func (c *binCmd) name() string { return "bin" }

func (c *binCmd) start(rc *runCtx, next stage) (stage, error) {
	loc := rc.opts.Location
	return &mapStage{next: next, cmd: "bin", fn: func(r *row) (*row, error) {
		v, err := r.get(c.field)
		if err != nil {
			return nil, err
		}
		x, ok := v.Number()
		if !ok {
			r.put(c.as, v)
			return r, nil
		}
		r.put(c.as, c.bucket(x, loc))
		return r, nil
	}}, nil
}

func (c *binCmd) bucket(x float64, loc *time.Location) Value {
	if c.months > 0 {
		t := epochTime(x, loc)
		m := (t.Year()*12 + int(t.Month()) - 1) / c.months * c.months
		return Num(float64(time.Date(m/12, time.Month(m%12+1), 1, 0, 0, 0, 0, loc).Unix()))
	}
	if c.timeSpan {
		// align to the time zone's midnight for spans of a day or more
		_, off := epochTime(x, loc).Zone()
		o := 0.0
		if c.span >= 86400 {
			o = float64(off)
		}
		return Num(math.Floor((x+o)/c.span)*c.span - o)
	}
	lo := math.Floor(x/c.span) * c.span
	return Str(formatNumber(lo) + "-" + formatNumber(lo+c.span))
}

// convertCmd converts field values: ctime (epoch to text), mktime (text
// to epoch), num, auto, dur2sec, none.
type convertCmd struct {
	format string
	fns    []string
	fields []string
	as     []string
}

func parseConvert(p *parser, name token) (command, error) {
	c := &convertCmd{format: "%m/%d/%Y %H:%M:%S"}
	for !p.atEnd() {
		if opt, v, ok, err := p.option(); err != nil {
			return nil, err
		} else if ok {
			if opt != "timeformat" {
				return nil, p.unsupportedOption("convert", opt, v)
			}
			c.format = v.s
			continue
		}
		t, err := p.nextA()
		if err != nil {
			return nil, err
		}
		if t.k == tComma {
			continue
		}
		fn := strings.ToLower(t.s)
		switch fn {
		case "ctime", "mktime", "num", "auto", "dur2sec", "none":
		default:
			return nil, p.errorf(t.pos, "convert: unsupported function %q (ctime, mktime, num, auto, dur2sec, none)", t.s)
		}
		if lp, _ := p.nextA(); lp.k != tLParen {
			return nil, p.errorf(lp.pos, "convert: expected ( after %s", t.s)
		}
		f, err := p.fieldName("convert")
		if err != nil {
			return nil, err
		}
		if strings.Contains(f.s, "*") {
			return nil, p.errorf(f.pos, "convert: unsupported wildcard field %q", f.s)
		}
		if rp, _ := p.nextA(); rp.k != tRParen {
			return nil, p.errorf(rp.pos, "convert: expected ) after %s", f.s)
		}
		as := f.s
		if n, _ := p.peekA(); n.isKeyword("as") {
			p.nextA()
			a, err := p.fieldName("convert")
			if err != nil {
				return nil, err
			}
			as = a.s
		}
		c.fns, c.fields, c.as = append(c.fns, fn), append(c.fields, f.s), append(c.as, as)
	}
	if len(c.fns) == 0 {
		return nil, p.errorf(name.pos, "convert needs a function such as ctime(field)")
	}
	return c, nil
}

func (c *convertCmd) name() string { return "convert" }

func (c *convertCmd) start(rc *runCtx, next stage) (stage, error) {
	loc := rc.opts.Location
	return &mapStage{next: next, cmd: "convert", fn: func(r *row) (*row, error) {
		for i, fn := range c.fns {
			v, err := r.get(c.fields[i])
			if err != nil {
				return nil, err
			}
			if v.IsNull() {
				continue
			}
			var out []string
			for _, s := range v.Strings() {
				out = append(out, c.convert(fn, s, loc))
			}
			r.put(c.as[i], Multi(out))
		}
		return r, nil
	}}, nil
}

func (c *convertCmd) convert(fn, s string, loc *time.Location) string {
	switch fn {
	case "ctime":
		if n, ok := parseNumber(s); ok {
			return strftime(epochTime(n, loc), c.format)
		}
	case "mktime":
		if t, ok := strptime(s, c.format, loc); ok {
			return formatNumber(timeEpoch(t))
		}
	case "num", "auto":
		if n, ok := parseNumber(strings.TrimSpace(s)); ok {
			return formatNumber(n)
		}
	case "dur2sec":
		parts := strings.Split(s, ":")
		total := 0.0
		for _, p := range parts {
			n, err := strconv.ParseFloat(p, 64)
			if err != nil {
				return s
			}
			total = total*60 + n
		}
		return formatNumber(total)
	}
	return s
}

// fillnullCmd gives null fields a value ("0" by default). Without a field
// list it fills every field that any result has, so it holds the results
// until the end, as Splunk's does.
type fillnullCmd struct {
	value  string
	fields []string
}

func parseFillnull(p *parser, name token) (command, error) {
	c := &fillnullCmd{value: "0"}
	for !p.atEnd() {
		if opt, v, ok, err := p.option(); err != nil {
			return nil, err
		} else if ok {
			if opt != "value" {
				return nil, p.unsupportedOption("fillnull", opt, v)
			}
			c.value = v.s
			continue
		}
		t, err := p.nextA()
		if err != nil {
			return nil, err
		}
		if t.k == tComma {
			continue
		}
		if t.k != tWord && t.k != tString {
			return nil, p.errorf(t.pos, "fillnull: expected a field, found %q", t.s)
		}
		c.fields = append(c.fields, t.s)
	}
	return c, nil
}

func (c *fillnullCmd) name() string { return "fillnull" }

func (c *fillnullCmd) start(_ *runCtx, next stage) (stage, error) {
	if len(c.fields) > 0 {
		return &mapStage{next: next, cmd: "fillnull", fn: func(r *row) (*row, error) {
			for _, f := range c.fields {
				v, err := r.get(f)
				if err != nil {
					return nil, err
				}
				if v.IsNull() {
					r.put(f, Str(c.value))
				}
			}
			return r, nil
		}}, nil
	}
	return &fillAllStage{value: Str(c.value), next: next, seen: map[string]bool{}}, nil
}

type fillAllStage struct {
	value Value
	next  stage
	rows  []*row
	names []string
	seen  map[string]bool
}

func (s *fillAllStage) push(r *row) error {
	err := r.each(func(n string, _ Value) {
		if !s.seen[n] {
			s.seen[n] = true
			s.names = append(s.names, n)
		}
	})
	if err != nil {
		return cmdError("fillnull", err)
	}
	r.retain()
	s.rows = append(s.rows, r)
	return nil
}

func (s *fillAllStage) done() error {
	for _, r := range s.rows {
		for _, n := range s.names {
			v, err := r.get(n)
			if err != nil {
				return cmdError("fillnull", err)
			}
			if v.IsNull() {
				r.put(n, s.value)
			}
		}
	}
	return pushAll(s.next, s.rows)
}
