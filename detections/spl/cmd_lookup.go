package spl

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// lookupTable is a CSV file loaded for a run, indexed by the columns a
// lookup matches on (built on first use for each set of columns).
type lookupTable struct {
	name    string
	header  []string
	col     map[string]int
	rows    [][]string
	indexes map[string]map[string][]int
}

func (rc *runCtx) lookupTable(name string) (*lookupTable, error) {
	if t, ok := rc.lookups[name]; ok {
		return t, nil
	}
	path, ok := rc.opts.Lookups[name]
	extra, given := rc.opts.Rows[name]
	if !ok && !given {
		return nil, fmt.Errorf("unknown lookup table %q (name it in [search.lookups])", name)
	}
	t := &lookupTable{name: name, col: map[string]int{}, indexes: map[string]map[string][]int{}}
	if ok {
		var err error
		if t, err = loadLookup(name, path); err != nil {
			return nil, err
		}
	}
	if given {
		t.add(extra)
	}
	rc.lookups[name] = t
	return t, nil
}

// Table is a lookup table's rows given in memory: each row holds a value
// for each of Columns, in order.
type Table struct {
	Columns []string
	Rows    [][]string
}

// add appends the rows of x that the table does not have yet: a row is
// left out when one already there has the same values in x's columns (so
// an account the CSV lists is not listed twice, and keeps its other
// columns). Columns the table lacks are added, empty in its own rows.
func (t *lookupTable) add(x Table) {
	cols := make([]int, len(x.Columns))
	for i, c := range x.Columns {
		k, ok := t.col[c]
		if !ok {
			k = len(t.header)
			t.header = append(t.header, c)
			t.col[c] = k
		}
		cols[i] = k
	}
	have := map[string]bool{}
	for _, r := range x.Rows {
		k := strings.Join(r, "\x00")
		if len(r) != len(cols) || have[k] || len(t.match(cols, r)) > 0 {
			continue
		}
		have[k] = true
		row := make([]string, len(t.header))
		for i, c := range cols {
			row[c] = r[i]
		}
		t.rows = append(t.rows, row)
	}
	clear(t.indexes) // they were built over the rows before these
}

func loadLookup(name, path string) (*lookupTable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("lookup %s: %w", name, err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("lookup %s: %s is empty (want a header line)", name, path)
		}
		return nil, fmt.Errorf("lookup %s: %s: %w", name, path, err)
	}
	t := &lookupTable{name: name, header: header, col: map[string]int{}, indexes: map[string]map[string][]int{}}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		header[i] = h
		t.col[h] = i
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("lookup %s: %s: %w", name, path, err)
		}
		t.rows = append(t.rows, rec)
	}
	return t, nil
}

func (t *lookupTable) cell(row []string, col int) string {
	if col < len(row) {
		return row[col]
	}
	return ""
}

// match returns the rows whose columns equal vals (case-sensitive, as
// Splunk's default lookups).
func (t *lookupTable) match(cols []int, vals []string) []int {
	key := fmt.Sprint(cols)
	idx := t.indexes[key]
	if idx == nil {
		idx = map[string][]int{}
		for i, row := range t.rows {
			parts := make([]string, len(cols))
			for k, c := range cols {
				parts[k] = t.cell(row, c)
			}
			k := strings.Join(parts, "\x00")
			idx[k] = append(idx[k], i)
		}
		t.indexes[key] = idx
	}
	return idx[strings.Join(vals, "\x00")]
}

type lookupCmd struct {
	table      string
	in, inAs   []string // lookup column, event field
	out, outAs []string
	outputNew  bool
}

func parseLookup(p *parser, name token) (command, error) {
	t, err := p.nextA()
	if err != nil {
		return nil, err
	}
	if t.k != tWord && t.k != tString {
		return nil, p.errorf(name.pos, "lookup needs a table name")
	}
	if n, _ := p.peekA(); n.is(tOp, "=") {
		return nil, p.errorf(t.pos, "lookup: unsupported option %s=", t.s)
	}
	c := &lookupCmd{table: t.s}
	cols, as, stop, err := p.lookupFields("OUTPUT", "OUTPUTNEW")
	if err != nil {
		return nil, err
	}
	c.in, c.inAs = cols, as
	if len(c.in) == 0 {
		return nil, p.errorf(name.pos, "lookup %s needs the field to match on", c.table)
	}
	if stop.k != tEOF {
		c.outputNew = stop.isKeyword("OUTPUTNEW")
		if c.out, c.outAs, _, err = p.lookupFields(); err != nil {
			return nil, err
		}
		if len(c.out) == 0 {
			return nil, p.errorf(stop.pos, "lookup: %s needs field names", stop.s)
		}
	}
	return c, nil
}

// lookupFields reads "a [AS b], c ..." up to a stop keyword, which it
// consumes and returns.
func (p *parser) lookupFields(stop ...string) (cols, as []string, stopTok token, err error) {
	for !p.atEnd() {
		t, err := p.peekA()
		if err != nil {
			return nil, nil, token{}, err
		}
		for _, s := range stop {
			if t.isKeyword(s) {
				p.nextA()
				return cols, as, t, nil
			}
		}
		p.nextA()
		if t.k == tComma {
			continue
		}
		if t.k != tWord && t.k != tString {
			return nil, nil, token{}, p.errorf(t.pos, "lookup: expected a field, found %q", t.s)
		}
		name := t.s
		if n, _ := p.peekA(); n.isKeyword("as") {
			p.nextA()
			a, err := p.fieldName("lookup")
			if err != nil {
				return nil, nil, token{}, err
			}
			cols, as = append(cols, name), append(as, a.s)
			continue
		}
		cols, as = append(cols, name), append(as, name)
	}
	return cols, as, token{k: tEOF}, nil
}

func (c *lookupCmd) name() string { return "lookup" }

func (c *lookupCmd) start(rc *runCtx, next stage) (stage, error) {
	t, err := rc.lookupTable(c.table)
	if err != nil {
		return nil, err
	}
	var cols []int
	for _, in := range c.in {
		i, ok := t.col[in]
		if !ok {
			return nil, fmt.Errorf("lookup %s: no column %q", c.table, in)
		}
		cols = append(cols, i)
	}
	out, outAs := c.out, c.outAs
	if len(out) == 0 { // no OUTPUT: every other column, under its own name
		for _, h := range t.header {
			skip := false
			for _, in := range c.in {
				skip = skip || h == in
			}
			if !skip {
				out, outAs = append(out, h), append(outAs, h)
			}
		}
	}
	var outCols []int
	for _, o := range out {
		i, ok := t.col[o]
		if !ok {
			return nil, fmt.Errorf("lookup %s: no column %q", c.table, o)
		}
		outCols = append(outCols, i)
	}
	return &mapStage{next: next, cmd: "lookup", fn: func(r *row) (*row, error) {
		// every combination of the input fields' values
		combos := [][]string{nil}
		for _, f := range c.inAs {
			v, err := r.get(f)
			if err != nil {
				return nil, err
			}
			if v.IsNull() {
				return r, nil
			}
			var next [][]string
			for _, cmb := range combos {
				for _, s := range v.Strings() {
					next = append(next, append(append([]string(nil), cmb...), s))
				}
			}
			combos = next
		}
		found := make([][]string, len(outCols))
		for _, cmb := range combos {
			for _, ri := range t.match(cols, cmb) {
				for k, oc := range outCols {
					if s := t.cell(t.rows[ri], oc); s != "" {
						found[k] = append(found[k], s)
					}
				}
			}
		}
		for k, name := range outAs {
			if c.outputNew {
				if v, err := r.get(name); err != nil {
					return nil, err
				} else if !v.IsNull() {
					continue
				}
			}
			r.put(name, Multi(found[k]))
		}
		return r, nil
	}}, nil
}

// inputlookupCmd starts a search with the rows of a lookup table.
type inputlookupCmd struct{ table string }

func parseInputlookup(p *parser, name token) (command, error) {
	t, err := p.nextA()
	if err != nil {
		return nil, err
	}
	if t.k != tWord && t.k != tString {
		return nil, p.errorf(name.pos, "inputlookup needs a table name")
	}
	if n, _ := p.peekA(); n.is(tOp, "=") {
		return nil, p.errorf(t.pos, "inputlookup: unsupported option %s=", t.s)
	}
	if err := p.expectEnd("inputlookup"); err != nil {
		return nil, err
	}
	return &inputlookupCmd{table: t.s}, nil
}

func (c *inputlookupCmd) name() string { return "inputlookup" }

func (c *inputlookupCmd) start(_ *runCtx, next stage) (stage, error) { return next, nil }

func (c *inputlookupCmd) generate(rc *runCtx, next stage) error {
	t, err := rc.lookupTable(c.table)
	if err != nil {
		return err
	}
	for _, rec := range t.rows {
		r := &row{set: map[string]Value{}}
		for i, h := range t.header {
			if s := t.cell(rec, i); s != "" {
				r.set[h] = Str(s)
			}
		}
		if err := next.push(r); err != nil {
			if errors.Is(err, errStop) {
				return nil
			}
			return err
		}
	}
	return nil
}
