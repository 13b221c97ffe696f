package spl

import (
	"fmt"
	"regexp"
	"strings"
)

// rexCmd extracts named groups of a regular expression into fields, or
// (mode=sed) rewrites a field with s/regex/replacement/flags.
type rexCmd struct {
	field    string
	re       *regexp.Regexp
	names    []string
	maxMatch int // 0: all
	sed      bool
	repl     string
	global   bool
}

func parseRex(p *parser, name token) (command, error) {
	c := &rexCmd{field: "_raw", maxMatch: 1}
	var pat token
	for !p.atEnd() {
		if opt, v, ok, err := p.option(); err != nil {
			return nil, err
		} else if ok {
			switch opt {
			case "field":
				c.field = v.s
			case "max_match":
				if c.maxMatch, err = p.intValue(opt, v); err != nil {
					return nil, err
				}
			case "mode":
				if !strings.EqualFold(v.s, "sed") {
					return nil, p.errorf(v.pos, "rex: mode must be sed")
				}
				c.sed = true
			default:
				return nil, p.unsupportedOption("rex", opt, v)
			}
			continue
		}
		t, err := p.nextA()
		if err != nil {
			return nil, err
		}
		if t.k != tString || pat.s != "" {
			return nil, p.errorf(t.pos, "rex: expected the regular expression in quotes, found %q", t.s)
		}
		pat = t
	}
	if pat.s == "" {
		return nil, p.errorf(name.pos, "rex needs a regular expression in quotes")
	}
	if c.sed {
		if err := c.parseSed(pat.s); err != nil {
			return nil, p.errorf(pat.pos, "rex: %v", err)
		}
		return c, nil
	}
	re, err := compileRegexp(pat.s)
	if err != nil {
		return nil, p.errorf(pat.pos, "rex: %v", err)
	}
	c.re = re
	for _, n := range re.SubexpNames() {
		if n != "" {
			c.names = append(c.names, n)
		}
	}
	if len(c.names) == 0 {
		return nil, p.errorf(pat.pos, "rex: the regular expression has no named group (?<name>...)")
	}
	return c, nil
}

// parseSed reads s/regex/replacement/[g|N].
func (c *rexCmd) parseSed(s string) error {
	if len(s) < 2 || s[0] != 's' {
		return fmt.Errorf("sed mode supports s/regex/replacement/flags, not %q", s)
	}
	sep := s[1]
	var parts []string
	cur := strings.Builder{}
	for i := 2; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && s[i+1] == sep {
			cur.WriteByte(sep)
			i++
			continue
		}
		if s[i] == sep {
			parts = append(parts, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(s[i])
	}
	parts = append(parts, cur.String())
	if len(parts) != 3 {
		return fmt.Errorf("bad sed expression %q", s)
	}
	re, err := compileRegexp(parts[0])
	if err != nil {
		return err
	}
	c.re, c.repl, c.global = re, sedReplacement(parts[1]), strings.Contains(parts[2], "g")
	return nil
}

func (c *rexCmd) name() string { return "rex" }

func (c *rexCmd) start(_ *runCtx, next stage) (stage, error) {
	return &mapStage{next: next, cmd: "rex", fn: func(r *row) (*row, error) {
		v, err := r.get(c.field)
		if err != nil || v.IsNull() {
			return r, err
		}
		if c.sed {
			var out []string
			for _, s := range v.Strings() {
				if c.global {
					out = append(out, c.re.ReplaceAllString(s, c.repl))
					continue
				}
				done := false
				out = append(out, c.re.ReplaceAllStringFunc(s, func(m string) string {
					if done {
						return m
					}
					done = true
					return c.re.ReplaceAllString(m, c.repl)
				}))
			}
			r.put(c.field, Multi(out))
			return r, nil
		}
		found := make([][]string, len(c.names))
		for _, s := range v.Strings() {
			n := c.maxMatch
			if n == 0 {
				n = -1
			}
			for _, m := range c.re.FindAllStringSubmatchIndex(s, n) {
				k := 0
				for i, name := range c.re.SubexpNames() {
					if name == "" {
						continue
					}
					if m[2*i] >= 0 {
						found[k] = append(found[k], s[m[2*i]:m[2*i+1]])
					}
					k++
				}
			}
		}
		for k, name := range c.names {
			if len(found[k]) > 0 {
				r.put(name, Multi(found[k]))
			}
		}
		return r, nil
	}}, nil
}

// spathCmd extracts from JSON text: one path into an output field, or
// (no path) every field, named as the JSON extraction names them.
type spathCmd struct {
	input, output, path string
}

func parseSpath(p *parser, name token) (command, error) {
	c := &spathCmd{input: "_raw"}
	for !p.atEnd() {
		if opt, v, ok, err := p.option(); err != nil {
			return nil, err
		} else if ok {
			switch opt {
			case "input":
				c.input = v.s
			case "output":
				c.output = v.s
			case "path":
				c.path = v.s
			default:
				return nil, p.unsupportedOption("spath", opt, v)
			}
			continue
		}
		t, err := p.nextA()
		if err != nil {
			return nil, err
		}
		if t.k != tWord && t.k != tString || c.path != "" {
			return nil, p.errorf(t.pos, "spath: unexpected %q", t.s)
		}
		c.path = t.s
	}
	if c.output != "" && c.path == "" {
		return nil, p.errorf(name.pos, "spath: output= needs path=")
	}
	if c.output == "" {
		c.output = c.path
	}
	return c, nil
}

func (c *spathCmd) name() string { return "spath" }

func (c *spathCmd) start(rc *runCtx, next stage) (stage, error) {
	return &mapStage{next: next, cmd: "spath", fn: func(r *row) (*row, error) {
		var text []byte
		if c.input == "_raw" && r.ev != nil && !r.hasOverride("_raw") {
			text = r.ev.Raw
		} else {
			v, err := r.get(c.input)
			if err != nil || v.IsNull() {
				return r, err
			}
			text = []byte(v.String())
		}
		if c.path == "" {
			fs, err := collectJSON(text, rc.opts.JSON)
			if err != nil {
				return r, nil // not JSON (or nested too deep): nothing to extract
			}
			for _, f := range fs {
				r.put(f.Name, f.Value)
			}
			return r, nil
		}
		v, err := spathValue(text, c.path, rc.opts.JSON)
		if err != nil {
			return r, nil
		}
		r.put(c.output, v)
		return r, nil
	}}, nil
}
