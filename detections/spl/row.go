package spl

import (
	"sort"
	"strings"
)

// row is one result flowing through the pipeline: an event (read lazily)
// plus the fields commands set or removed on top of it.
type row struct {
	ev   *Event
	set  map[string]Value // overrides; a Null value removes the field
	kept bool             // ev is the row's own copy
}

func (r *row) get(name string) (Value, error) {
	if r.set != nil {
		if v, ok := r.set[name]; ok {
			return v, nil
		}
	}
	if r.ev != nil {
		return r.ev.field(name)
	}
	return Null, nil
}

func (r *row) hasOverride(name string) bool {
	_, ok := r.set[name]
	return ok
}

func (r *row) put(name string, v Value) {
	if r.set == nil {
		r.set = make(map[string]Value, 4)
	}
	r.set[name] = v
}

// each calls fn for every non-null field, the event's first.
func (r *row) each(fn func(name string, v Value)) error {
	if r.ev != nil {
		fs, err := r.ev.allFields()
		if err != nil {
			return err
		}
		for _, f := range fs {
			if _, ok := r.set[f.Name]; !ok {
				fn(f.Name, f.Value)
			}
		}
	}
	if len(r.set) > 0 {
		names := make([]string, 0, len(r.set))
		for n := range r.set {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if v := r.set[n]; !v.IsNull() {
				fn(n, v)
			}
		}
	}
	return nil
}

// names lists the row's fields.
func (r *row) names() ([]string, error) {
	var out []string
	err := r.each(func(n string, _ Value) { out = append(out, n) })
	return out, err
}

// retain makes the row safe to keep past the Source's callback.
func (r *row) retain() {
	if r.ev != nil && !r.kept {
		r.ev = r.ev.retained()
		r.kept = true
	}
}

func (r *row) clone() *row {
	c := &row{ev: r.ev}
	if r.set != nil {
		c.set = make(map[string]Value, len(r.set))
		for k, v := range r.set {
			c.set[k] = v
		}
	}
	return c
}

// Row is one search result.
type Row struct{ r *row }

// Get returns one field's value.
func (r Row) Get(name string) (Value, error) { return r.r.get(name) }

// Fields returns every non-null field of the result.
func (r Row) Fields() ([]Field, error) {
	var out []Field
	err := r.r.each(func(n string, v Value) { out = append(out, Field{n, v}) })
	return out, err
}

// wildcard is a field name pattern with * (case-sensitive, as field names).
type wildcard struct {
	text  string
	parts []string
}

func newWildcard(s string) wildcard {
	return wildcard{text: s, parts: strings.Split(s, "*")}
}

func (w wildcard) isWild() bool { return len(w.parts) > 1 }

// capture matches name and returns what each * matched.
func (w wildcard) capture(name string) ([]string, bool) {
	if !w.isWild() {
		return nil, name == w.text
	}
	first, last := w.parts[0], w.parts[len(w.parts)-1]
	if !strings.HasPrefix(name, first) {
		return nil, false
	}
	rest := name[len(first):]
	var caps []string
	for _, mid := range w.parts[1 : len(w.parts)-1] {
		i := strings.Index(rest, mid)
		if i < 0 {
			return nil, false
		}
		caps = append(caps, rest[:i])
		rest = rest[i+len(mid):]
	}
	if !strings.HasSuffix(rest, last) || len(rest) < len(last) {
		return nil, false
	}
	caps = append(caps, rest[:len(rest)-len(last)])
	return caps, true
}

func (w wildcard) match(name string) bool {
	_, ok := w.capture(name)
	return ok
}

// fill substitutes captures into a wildcard target (rename a* as b*).
func (w wildcard) fill(caps []string) string {
	if !w.isWild() {
		return w.text
	}
	var b strings.Builder
	for i, p := range w.parts {
		b.WriteString(p)
		if i < len(w.parts)-1 && i < len(caps) {
			b.WriteString(caps[i])
		}
	}
	return b.String()
}
