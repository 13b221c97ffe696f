package spl

import (
	"sort"
	"strings"
)

// Outputs is what is known, before a query runs, about the fields its
// results can hold. A query that ends in table, fields or stats (followed
// by commands that add or rename fields) has a known set; one that passes
// events through, or adds fields no one can name before the data is seen
// (lookup without OUTPUT, spath without a path), does not.
type Outputs struct {
	// Known says the set is complete: a field outside it is never in a
	// result.
	Known bool
	// By names the command that fixed the set ("table", "stats", ...).
	By     string
	fields []wildcard
}

// Has reports whether field can be in a result; always true when the set
// is not known.
func (o Outputs) Has(field string) bool {
	if !o.Known {
		return true
	}
	for _, w := range o.fields {
		if w.match(field) {
			return true
		}
	}
	return false
}

// Fields lists the known fields (patterns keep their *), sorted.
func (o Outputs) Fields() []string {
	out := make([]string, 0, len(o.fields))
	for _, w := range o.fields {
		out = append(out, w.text)
	}
	sort.Strings(out)
	return out
}

func (o *Outputs) set(by string, names ...string) {
	o.Known, o.By, o.fields = true, by, nil
	o.add(names...)
}

func (o *Outputs) add(names ...string) {
	for _, n := range names {
		if n != "" && !o.Has(n) {
			o.fields = append(o.fields, newWildcard(n))
		}
	}
}

func (o *Outputs) unknown() { *o = Outputs{} }

// Outputs works out the fields the query's results can hold.
func (q *Query) Outputs() Outputs { return outputsOf(q.cmds) }

func outputsOf(cmds []command) Outputs {
	var o Outputs
	for _, c := range cmds {
		switch x := c.(type) {
		case *tableCmd:
			o.set("table")
			for _, w := range x.fields {
				o.fields = append(o.fields, w)
			}
		case *fieldsCmd:
			if !x.remove {
				o.set("fields", "_time", "_raw")
				o.fields = append(o.fields, x.fields...)
			} else if o.Known {
				o.remove(x.fields)
			}
		case *statsCmd:
			var names []string
			for _, a := range x.aggs {
				names = append(names, a.out)
			}
			names = append(names, x.by...)
			if !x.event {
				o.set("stats", names...)
			} else if o.Known {
				o.add(names...)
			}
		case *renameCmd:
			if o.Known && !o.rename(x) {
				o.unknown()
			}
		case *evalCmd:
			if o.Known {
				o.add(x.names...)
			}
		case *lookupCmd:
			if len(x.out) == 0 {
				o.unknown() // every column of the table: not known here
			} else if o.Known {
				o.add(x.outAs...)
			}
		case *rexCmd:
			if o.Known && !x.sed {
				o.add(x.names...)
			}
		case *spathCmd:
			switch {
			case x.output != "":
				o.add(x.output)
			case x.path != "":
				o.add(x.path)
			default:
				o.unknown()
			}
		case *convertCmd:
			if o.Known {
				o.add(x.as...)
			}
		case *binCmd:
			if o.Known {
				o.add(x.as)
			}
		case *fillnullCmd:
			if o.Known {
				o.add(x.fields...)
			}
		case *makeresultsCmd:
			o.set("makeresults", "_time")
		case *appendCmd:
			o.union(outputsOf(x.sub))
		case *joinCmd:
			o.union(outputsOf(x.sub))
		case *searchCmd, *whereCmd, *sortCmd, *dedupCmd, *headCmd, *mvexpandCmd:
			// rows are filtered or reordered; fields are left alone
		default:
			o.unknown() // a command this analysis does not follow
		}
	}
	return o
}

func (o *Outputs) remove(ws []wildcard) {
	kept := o.fields[:0]
	for _, f := range o.fields {
		drop := false
		for _, w := range ws {
			drop = drop || (!f.isWild() && w.match(f.text)) || w.text == f.text
		}
		if !drop {
			kept = append(kept, f)
		}
	}
	o.fields = kept
}

// rename applies a rename to the known set; it returns false for a
// wildcard rename, which this analysis does not follow.
func (o *Outputs) rename(c *renameCmd) bool {
	for i, from := range c.from {
		if from.isWild() {
			return false
		}
		for j, f := range o.fields {
			if f.text == from.text {
				o.fields[j] = c.to[i]
			}
		}
	}
	return true
}

func (o *Outputs) union(sub Outputs) {
	if !o.Known {
		return
	}
	if !sub.Known {
		o.unknown()
		return
	}
	for _, w := range sub.fields {
		if !o.Has(w.text) {
			o.fields = append(o.fields, w)
		}
	}
}

// String lists the known fields for messages, shortened past a dozen.
func (o Outputs) String() string {
	fs := o.Fields()
	if len(fs) > 12 {
		fs = append(fs[:12], "…")
	}
	return strings.Join(fs, ", ")
}
