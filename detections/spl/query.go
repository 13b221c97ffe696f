// Package spl is an engine for the subset of Splunk's Search Processing
// Language that cloud detections use: search, where, eval, stats,
// eventstats, table, fields, rename, sort, dedup, head, tail, fillnull,
// bin, convert, spath, mvexpand, rex, lookup, append and join. It runs a
// query over events handed to it by a Source and streams the results.
// Anything outside the subset is rejected when the query is parsed, with
// the command or function named and its position, never answered with an
// empty result.
//
// The package is a leaf: inputs (files of CloudTrail JSON, flow logs) and
// the mapping of results to patrol's types live with the caller.
package spl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Query is a parsed search, safe for concurrent runs.
type Query struct {
	src  string
	cmds []command
	tm   timeMods
	// filter is the leading search command's expression, which a Source
	// may use to skip files and records cheaply.
	filter sexpr
}

// Parse checks a query's syntax and that every command, option and
// function is supported, without running it. Macros must already be
// expanded.
func Parse(query string) (*Query, error) {
	p := newParser(query)
	q := &Query{src: query}
	cmds, err := p.parsePipeline(false, &q.tm)
	if err != nil {
		return nil, err
	}
	q.cmds = cmds
	if s, ok := cmds[0].(*searchCmd); ok {
		q.filter = s.expr
	}
	return q, nil
}

// String returns the query text.
func (q *Query) String() string { return q.src }

// Lookups lists the lookup table names the query uses, so that a caller
// can check them against its configuration before running it.
func (q *Query) Lookups() []string {
	var out []string
	var walk func([]command)
	walk = func(cmds []command) {
		for _, c := range cmds {
			switch x := c.(type) {
			case *lookupCmd:
				out = append(out, x.table)
			case *inputlookupCmd:
				out = append(out, x.table)
			case *appendCmd:
				walk(x.sub)
			case *joinCmd:
				walk(x.sub)
			}
		}
	}
	walk(q.cmds)
	return out
}

// Source produces the events a query reads. Scan calls fn for every event,
// in order; it may skip events that cannot pass f (f.Skip and f.Match are
// cheap necessary conditions, and the engine checks the full search
// expression itself), and must apply the time bounds f carries. f is never
// nil. Event.Raw need only be valid during fn.
type Source interface {
	Scan(ctx context.Context, f *Filter, fn func(*Event) error) error
}

// Options are the run-time settings of a query.
type Options struct {
	// Now is the search's "now" (now(), relative earliest/latest); zero
	// means the wall clock when the run starts.
	Now time.Time
	// Location is the time zone of strftime, convert ctime, bin day
	// boundaries and absolute times in the query; nil means UTC.
	Location *time.Location
	// Lookups maps lookup table names to CSV files.
	Lookups map[string]string
	// Rows are lookup rows given in memory, by table name: they join the
	// CSV file of the same name in Lookups, or make the whole table when
	// there is none (see Table).
	Rows map[string]Table
	// JSON bounds spath's extraction from field values (zero values:
	// DefaultJSONLimits); events' own JSON is bounded by their Meta.
	JSON JSONLimits
}

type runCtx struct {
	ctx     context.Context
	src     Source
	opts    Options
	ev      *evalCtx
	lookups map[string]*lookupTable
}

// Run runs the query over src and calls emit for every result, in order.
// Filtering commands stream; transforming ones (stats, sort) hold only
// what they need. An error from emit stops the run and is returned.
func (q *Query) Run(ctx context.Context, src Source, opts Options, emit func(Row) error) error {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	rc := &runCtx{ctx: ctx, src: src, opts: opts, ev: newEvalCtx(opts.Now, opts.Location), lookups: map[string]*lookupTable{}}
	f, err := q.newFilter(opts)
	if err != nil {
		return err
	}
	return runPipeline(rc, q.cmds, f, emitStage{emit})
}

// runPipeline wires cmds in front of last and feeds the first command.
func runPipeline(rc *runCtx, cmds []command, f *Filter, last stage) error {
	next := last
	for i := len(cmds) - 1; i >= 0; i-- {
		s, err := cmds[i].start(rc, next)
		if err != nil {
			return err
		}
		next = s
	}
	if g, ok := cmds[0].(generator); ok {
		if err := g.generate(rc, next); err != nil && !errors.Is(err, errStop) {
			return err
		}
		return next.done()
	}
	n := 0
	err := rc.src.Scan(rc.ctx, f, func(e *Event) error {
		if n++; n%1024 == 0 {
			if err := rc.ctx.Err(); err != nil {
				return err
			}
		}
		return next.push(&row{ev: e})
	})
	if err != nil && !errors.Is(err, errStop) {
		return err
	}
	return next.done()
}

// generator is a command that makes rows instead of reading events.
type generator interface {
	generate(rc *runCtx, next stage) error
}

type emitStage struct{ emit func(Row) error }

func (e emitStage) push(r *row) error { return e.emit(Row{r}) }
func (e emitStage) done() error       { return nil }

// newFilter builds the Source filter of a run: the leading search's
// expression and the inline earliest/latest bounds.
func (q *Query) newFilter(opts Options) (*Filter, error) {
	f := &Filter{expr: q.filter}
	if q.tm.earliest != "" {
		t, err := ParseTimeModifier(q.tm.earliest, opts.Now, opts.Location)
		if err != nil {
			return nil, errorAt(q.src, q.tm.epos, "earliest: %v", err)
		}
		f.Earliest = t
	}
	if q.tm.latest != "" {
		t, err := ParseTimeModifier(q.tm.latest, opts.Now, opts.Location)
		if err != nil {
			return nil, errorAt(q.src, q.tm.lpos, "latest: %v", err)
		}
		f.Latest = t
	}
	return f, nil
}

// RunString parses and runs a query in one step.
func RunString(ctx context.Context, query string, src Source, opts Options, emit func(Row) error) error {
	q, err := Parse(query)
	if err != nil {
		return err
	}
	return q.Run(ctx, src, opts, emit)
}

// Validate is Parse for callers that only want the verdict, such as a
// detection linter.
func Validate(query string) error {
	_, err := Parse(query)
	return err
}

func cmdError(cmd string, err error) error {
	if err == nil {
		return nil
	}
	if strings.HasPrefix(err.Error(), cmd+":") {
		return err
	}
	return fmt.Errorf("%s: %w", cmd, err)
}
