package spl

import (
	"fmt"
	"math"
	"strings"
)

// ---- evaluation ----

func (e litExpr) eval(*evalCtx, getter) (Value, error) { return e.v, nil }

func (e fieldExpr) eval(_ *evalCtx, g getter) (Value, error) { return g.get(e.name) }

func (e negExpr) eval(c *evalCtx, g getter) (Value, error) {
	v, err := e.x.eval(c, g)
	if err != nil {
		return Null, err
	}
	if n, ok := v.Number(); ok {
		return Num(-n), nil
	}
	return Null, nil
}

func (e notExpr) eval(c *evalCtx, g getter) (Value, error) {
	v, err := e.x.eval(c, g)
	if err != nil {
		return Null, err
	}
	b, err := boolOf(v, "NOT")
	if err != nil {
		return Null, err
	}
	return Bool(!b), nil
}

// boolOf reads a boolean operand. Null counts as false (a comparison with
// a missing field); any other non-boolean is a type error, as in Splunk.
func boolOf(v Value, op string) (bool, error) {
	switch v.k {
	case kindBool:
		return v.truth(), nil
	case kindNull:
		return false, nil
	}
	return false, fmt.Errorf("%s takes boolean operands, not %q", op, v.String())
}

func (e binExpr) eval(c *evalCtx, g getter) (Value, error) {
	a, err := e.a.eval(c, g)
	if err != nil {
		return Null, err
	}
	switch e.op {
	case "and", "or":
		ab, err := boolOf(a, strings.ToUpper(e.op))
		if err != nil {
			return Null, err
		}
		if e.op == "and" && !ab {
			return Bool(false), nil
		}
		if e.op == "or" && ab {
			return Bool(true), nil
		}
		b, err := e.b.eval(c, g)
		if err != nil {
			return Null, err
		}
		bb, err := boolOf(b, strings.ToUpper(e.op))
		return Bool(bb), err
	}
	b, err := e.b.eval(c, g)
	if err != nil {
		return Null, err
	}
	switch e.op {
	case "xor":
		ab, err := boolOf(a, "XOR")
		if err != nil {
			return Null, err
		}
		bb, err := boolOf(b, "XOR")
		return Bool(ab != bb), err
	case "=", "!=", "<", ">", "<=", ">=":
		return compareOp(e.op, a, b), nil
	case "like":
		return likeOp(a, b), nil
	case ".":
		if a.IsNull() || b.IsNull() {
			return Null, nil
		}
		return Str(a.String() + b.String()), nil
	}
	return arith(e.op, a, b), nil
}

// compareOp compares two values; a multivalue side matches when any of
// its values does. Both numeric: numbers; otherwise case-sensitive strings.
func compareOp(op string, a, b Value) Value {
	if a.IsNull() || b.IsNull() {
		return Null
	}
	found := false
	a.each(func(x Value) bool {
		b.each(func(y Value) bool {
			c := compareValues(x, y)
			switch op {
			case "=":
				found = c == 0
			case "!=":
				found = c != 0
			case "<":
				found = c < 0
			case ">":
				found = c > 0
			case "<=":
				found = c <= 0
			case ">=":
				found = c >= 0
			}
			return found
		})
		return found
	})
	return Bool(found)
}

func likeOp(a, b Value) Value {
	if a.IsNull() || b.IsNull() {
		return Null
	}
	re := likeRegexp(b.String())
	found := false
	a.each(func(x Value) bool {
		found = re.MatchString(x.String())
		return found
	})
	return Bool(found)
}

func arith(op string, a, b Value) Value {
	if a.IsNull() || b.IsNull() {
		return Null
	}
	x, xok := a.Number()
	y, yok := b.Number()
	if !xok || !yok {
		if op == "+" {
			// + joins strings when either side is not a number
			return Str(a.String() + b.String())
		}
		return Null
	}
	switch op {
	case "+":
		return Num(x + y)
	case "-":
		return Num(x - y)
	case "*":
		return Num(x * y)
	case "/":
		if y == 0 {
			return Null
		}
		return Num(x / y)
	case "%":
		if y == 0 {
			return Null
		}
		return Num(math.Mod(x, y))
	}
	return Null
}

func (e *callExpr) eval(c *evalCtx, g getter) (Value, error) {
	v, err := e.fn.fn(c, g, e)
	if err != nil {
		if strings.HasPrefix(err.Error(), e.name+"()") {
			return Null, err
		}
		return Null, fmt.Errorf("%s(): %w", e.name, err)
	}
	return v, nil
}
