package spl

import (
	"regexp"
	"strings"
)

// expr is an eval/where expression node.
type expr interface {
	eval(c *evalCtx, g getter) (Value, error)
}

// getter reads a field's value: from a row in the pipeline, or from an
// event's raw fields when computing the input's calculated fields.
type getter interface {
	get(name string) (Value, error)
}

type litExpr struct{ v Value }

type fieldExpr struct {
	name string
	pos  int
}

type negExpr struct {
	x   expr
	pos int
}

type notExpr struct {
	x   expr
	pos int
}

type binExpr struct {
	op   string // lower case for word operators: and, or, xor, like
	a, b expr
	pos  int
}

type callExpr struct {
	name string
	fn   *funcDef
	args []expr
	pos  int
	// re is the compiled pattern when the function's pattern argument is a
	// literal (match, replace, rex-like functions): compiled once, at parse.
	re *regexp.Regexp
	// search is searchmatch's search expression when it is a literal:
	// parsed once, at parse, so that a broken one is a parse error.
	search sexpr
}

// fieldsOf lists the field names an expression reads, for mvfilter (which
// binds its one field to each value in turn) and for calculated fields.
func fieldsOf(e expr) []string {
	var out []string
	var walk func(expr)
	walk = func(e expr) {
		switch x := e.(type) {
		case fieldExpr:
			for _, f := range out {
				if f == x.name {
					return
				}
			}
			out = append(out, x.name)
		case negExpr:
			walk(x.x)
		case notExpr:
			walk(x.x)
		case binExpr:
			walk(x.a)
			walk(x.b)
		case *callExpr:
			for _, a := range x.args {
				walk(a)
			}
		}
	}
	walk(e)
	return out
}

// isWordOp reports whether s (any case) is an expression keyword.
func isWordOp(s string) bool {
	switch strings.ToLower(s) {
	case "and", "or", "xor", "not", "like":
		return true
	}
	return false
}
