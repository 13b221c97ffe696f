package spl

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Meta describes where events come from. One Meta is shared by all events
// of an input file, so conditions on index, sourcetype, source and host are
// decided once per file.
type Meta struct {
	Index, Sourcetype, Source, Host string
	// Props are the search-time calculated fields of the sourcetype (what
	// a Splunk add-on's props.conf adds); nil for none.
	Props *Props
	// Limits bound field extraction from the events' JSON; zero values
	// mean DefaultJSONLimits.
	Limits JSONLimits
}

// Field is a named value.
type Field struct {
	Name  string
	Value Value
}

// Event is one input record as a Source hands it to the engine. Raw is
// only valid during the call that hands it over: the engine copies what it
// keeps.
type Event struct {
	Raw  []byte
	Time float64 // _time, epoch seconds
	Meta *Meta
	// JSON says Raw is a JSON object whose fields are extracted on demand.
	JSON bool
	// Fields are the fields of a text record that the input split itself.
	Fields []Field
	// Offset is where the record starts in its source (for errors).
	Offset int64

	cache    []Field // fields looked up so far, including misses
	flat     []Field // the record's own fields, once fully extracted
	flatDone bool
	all      []Field // every field, for output and wildcards
	allDone  bool
}

// defaultFields are the fields every event has besides its own.
var defaultFields = []string{"_raw", "_time", "index", "sourcetype", "source", "host"}

// dateFields are the date_* fields Splunk derives from each event's
// timestamp (in UTC here, as CloudTrail writes it).
var dateFields = []string{"date_hour", "date_mday", "date_minute", "date_month", "date_second", "date_wday", "date_year", "date_zone"}

func (e *Event) errorf(err error) error {
	src := ""
	if e.Meta != nil {
		src = e.Meta.Source
	}
	return fmt.Errorf("%s: record at offset %d: %w", src, e.Offset, err)
}

// field returns one field: the default fields, then calculated fields,
// then the record's own.
func (e *Event) field(name string) (Value, error) {
	switch name {
	case "_raw":
		return Str(string(e.Raw)), nil
	case "_time":
		return Num(e.Time), nil
	case "index":
		return e.meta(func(m *Meta) string { return m.Index }), nil
	case "sourcetype":
		return e.meta(func(m *Meta) string { return m.Sourcetype }), nil
	case "source":
		return e.meta(func(m *Meta) string { return m.Source }), nil
	case "host":
		return e.meta(func(m *Meta) string { return m.Host }), nil
	}
	if strings.HasPrefix(name, "date_") {
		if v, ok := e.dateField(name); ok {
			return v, nil
		}
	}
	if e.Meta != nil && e.Meta.Props != nil {
		if x, ok := e.Meta.Props.exprs[name]; ok {
			v, err := x.e.eval(propsCtx, rawView{e})
			if err != nil {
				return Null, e.errorf(fmt.Errorf("calculated field %s: %w", name, err))
			}
			return v, nil
		}
	}
	return e.rawField(name)
}

func (e *Event) limits() JSONLimits {
	if e.Meta == nil {
		return DefaultJSONLimits
	}
	return e.Meta.Limits
}

func (e *Event) meta(f func(*Meta) string) Value {
	if e.Meta == nil {
		return Null
	}
	if s := f(e.Meta); s != "" {
		return Str(s)
	}
	return Null
}

// propsCtx evaluates calculated fields; they must not depend on the
// clock. It is shared by concurrent runs, so it has no regexp cache.
var propsCtx = &evalCtx{now: time.Unix(0, 0), loc: time.UTC}

// rawView reads an event's own fields and default fields, not its
// calculated ones: a calculated field sees the record as written (so that
// errorCode = coalesce(errorCode, "success") reads the raw errorCode).
type rawView struct{ e *Event }

func (r rawView) get(name string) (Value, error) {
	switch name {
	case "_raw", "_time", "index", "sourcetype", "source", "host":
		return r.e.field(name)
	}
	return r.e.rawField(name)
}

func (e *Event) rawField(name string) (Value, error) {
	for _, f := range e.cache {
		if f.Name == name {
			return f.Value, nil
		}
	}
	var v Value
	switch {
	case e.flatDone:
		v = findField(e.flat, name)
	case e.JSON:
		var err error
		if v, err = jsonField(e.Raw, name, e.limits()); err != nil {
			return Null, e.errorf(err)
		}
	default:
		v = findField(e.Fields, name)
	}
	e.cache = append(e.cache, Field{name, v})
	return v, nil
}

func findField(fs []Field, name string) Value {
	for _, f := range fs {
		if f.Name == name {
			return f.Value
		}
	}
	return Null
}

func (e *Event) dateField(name string) (Value, bool) {
	t := epochTime(e.Time, time.UTC)
	switch name {
	case "date_hour":
		return Num(float64(t.Hour())), true
	case "date_mday":
		return Num(float64(t.Day())), true
	case "date_minute":
		return Num(float64(t.Minute())), true
	case "date_month":
		return Str(strings.ToLower(t.Month().String())), true
	case "date_second":
		return Num(float64(t.Second())), true
	case "date_wday":
		return Str(strings.ToLower(t.Weekday().String())), true
	case "date_year":
		return Num(float64(t.Year())), true
	case "date_zone":
		return Str("0"), true
	}
	return Null, false
}

// allFields extracts every field of the event (for wildcards, fillnull and
// output), in a stable order: the record's own fields as written, then the
// calculated and default fields by name.
func (e *Event) allFields() ([]Field, error) {
	if e.allDone {
		return e.all, nil
	}
	var fs []Field
	if e.JSON {
		var err error
		if fs, err = collectJSON(e.Raw, e.limits()); err != nil {
			return nil, e.errorf(err)
		}
	} else {
		fs = append(fs, e.Fields...)
	}
	e.flat, e.flatDone = fs, true
	extra := map[string]Value{}
	for _, n := range append(append([]string(nil), defaultFields...), dateFields...) {
		v, err := e.field(n)
		if err != nil {
			return nil, err
		}
		extra[n] = v
	}
	if e.Meta != nil && e.Meta.Props != nil {
		for _, n := range e.Meta.Props.names {
			v, err := e.field(n)
			if err != nil {
				return nil, err
			}
			extra[n] = v
		}
	}
	names := make([]string, 0, len(extra))
	for n := range extra {
		names = append(names, n)
	}
	sort.Strings(names)
	out := fs[:0:0]
	for _, f := range fs {
		if _, ok := extra[f.Name]; !ok {
			out = append(out, f)
		}
	}
	for _, n := range names {
		if v := extra[n]; !v.IsNull() {
			out = append(out, Field{n, v})
		}
	}
	e.all, e.allDone = out, true
	return out, nil
}

// retained returns a copy of the event that is safe to keep after the
// Source's call returns (a Source may reuse its buffers and its Events).
func (e *Event) retained() *Event {
	c := *e
	c.Raw = append([]byte(nil), e.Raw...)
	c.Fields = append([]Field(nil), e.Fields...)
	c.cache = append([]Field(nil), e.cache...)
	c.flat = append([]Field(nil), e.flat...)
	c.all = append([]Field(nil), e.all...)
	return &c
}

// Props are an input's search-time calculated fields, one "name = eval
// expression" per line, like the EVAL- and FIELDALIAS- lines of a Splunk
// add-on's props.conf. They override a field of the same name in the
// record and read only the record's own fields.
type Props struct {
	names []string
	exprs map[string]Expr
}

// ParseProps reads calculated field definitions. Blank lines and lines
// starting with # are ignored.
func ParseProps(text string) (*Props, error) {
	p := &Props{exprs: map[string]Expr{}}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, def, ok := strings.Cut(line, "=")
		name, def = strings.TrimSpace(name), strings.TrimSpace(def)
		if !ok || name == "" || def == "" {
			return nil, fmt.Errorf("line %d: want name = expression", n+1)
		}
		x, err := ParseExpr(def)
		if err != nil {
			return nil, fmt.Errorf("line %d: %s: %w", n+1, name, err)
		}
		if _, dup := p.exprs[name]; dup {
			return nil, fmt.Errorf("line %d: %s is defined twice", n+1, name)
		}
		p.names = append(p.names, name)
		p.exprs[name] = x
	}
	return p, nil
}

// Names lists the calculated fields in definition order.
func (p *Props) Names() []string { return append([]string(nil), p.names...) }

// Expr returns the definition of a calculated field.
func (p *Props) Expr(name string) (Expr, bool) {
	x, ok := p.exprs[name]
	return x, ok
}

// FormatTime renders epoch seconds as Splunk renders _time in results:
// ISO-8601 with milliseconds and a numeric offset.
func FormatTime(sec float64, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	return epochTime(sec, loc).Format("2006-01-02T15:04:05.000-07:00")
}

// ParseTime reads the timestamps inputs carry: RFC 3339 / ISO-8601 (with
// or without fraction and zone; no zone means UTC) or epoch seconds.
func ParseTime(s string) (float64, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return timeEpoch(t), true
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return timeEpoch(t), true
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f, true
	}
	return 0, false
}
