package spl

import (
	"fmt"
	"strings"
)

// Error is a problem with a query found before it runs: a syntax error, an
// unsupported command, function or option. It names where in the query the
// problem is, so that a detection's author can find it.
type Error struct {
	Msg    string
	Offset int // byte offset in the query
	Line   int // 1-based
	Column int // 1-based, in bytes
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s at offset %d (line %d, column %d)", e.Msg, e.Offset, e.Line, e.Column)
}

// errorAt builds an Error for the byte offset off in src.
func errorAt(src string, off int, format string, args ...any) *Error {
	if off < 0 {
		off = 0
	}
	if off > len(src) {
		off = len(src)
	}
	line := 1 + strings.Count(src[:off], "\n")
	col := off + 1
	if i := strings.LastIndexByte(src[:off], '\n'); i >= 0 {
		col = off - i
	}
	return &Error{Msg: fmt.Sprintf(format, args...), Offset: off, Line: line, Column: col}
}
