package spl

import (
	"strings"
)

// SPL is not one language but several sharing a pipe: the search command
// has its own words (aws-cli*, *.amazonaws.com are single terms), eval and
// where have arithmetic (a-b subtracts), and the other commands take
// options and field lists. The lexer therefore scans one token at a time
// in the mode the parser asks for, always over the original query so that
// every token knows its offset.

type mode uint8

const (
	modeSearch mode = iota // search terms and field=value comparisons
	modeEval               // eval/where expressions
	modeArgs               // command options and field lists
)

type tokKind uint8

const (
	tEOF    tokKind = iota
	tWord           // bare word (search term, field name, option name)
	tString         // "double quoted", unescaped
	tField          // 'single quoted' field name (eval)
	tNumber         // eval number literal
	tOp             // = == != < > <= >= + - * / % .
	tLParen         // (
	tRParen         // )
	tLBrack         // [
	tRBrack         // ]
	tComma          // ,
	tPipe           // |
)

type token struct {
	k     tokKind
	s     string // word text, unescaped string, operator
	pos   int    // offset of the first byte
	end   int    // offset after the last byte
	quote bool   // the word came from a quoted string
}

func (t token) is(k tokKind, s string) bool { return t.k == k && t.s == s }

// isKeyword reports whether t is the bare word kw, ignoring case.
func (t token) isKeyword(kw string) bool { return t.k == tWord && strings.EqualFold(t.s, kw) }

type lexer struct {
	src string
	pos int
}

func (l *lexer) skipSpace() {
	for l.pos < len(l.src) {
		switch l.src[l.pos] {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			l.pos++
		default:
			return
		}
	}
}

func (l *lexer) peek(m mode) (token, error) {
	save := l.pos
	t, err := l.next(m)
	l.pos = save
	return t, err
}

func (l *lexer) errorf(off int, format string, args ...any) *Error {
	return errorAt(l.src, off, format, args...)
}

// next scans one token in mode m.
func (l *lexer) next(m mode) (token, error) {
	l.skipSpace()
	start := l.pos
	if l.pos >= len(l.src) {
		return token{k: tEOF, pos: start, end: start}, nil
	}
	c := l.src[l.pos]
	one := func(k tokKind) (token, error) {
		l.pos++
		return token{k: k, s: string(c), pos: start, end: l.pos}, nil
	}
	switch c {
	case '|':
		return one(tPipe)
	case '(':
		return one(tLParen)
	case ')':
		return one(tRParen)
	case '[':
		return one(tLBrack)
	case ']':
		return one(tRBrack)
	case '"':
		s, err := l.quoted('"')
		if err != nil {
			return token{}, err
		}
		return token{k: tString, s: s, pos: start, end: l.pos, quote: true}, nil
	case '`':
		return token{}, l.errorf(start, "unexpanded macro (a backtick)")
	}
	if c == ',' && m != modeSearch {
		return one(tComma)
	}
	if op := l.operator(m); op != "" {
		l.pos += len(op)
		return token{k: tOp, s: op, pos: start, end: l.pos}, nil
	}
	if m == modeEval {
		if c == '\'' {
			s, err := l.quoted('\'')
			if err != nil {
				return token{}, err
			}
			return token{k: tField, s: s, pos: start, end: l.pos, quote: true}, nil
		}
		if isDigit(c) || c == '.' && l.pos+1 < len(l.src) && isDigit(l.src[l.pos+1]) {
			return l.number(), nil
		}
		if isIdentStart(c) {
			return l.ident(), nil
		}
		return token{}, l.errorf(start, "unexpected character %q", c)
	}
	return l.word(m), nil
}

// operator returns the operator at the current position, if any.
func (l *lexer) operator(m mode) string {
	rest := l.src[l.pos:]
	for _, op := range []string{"==", "!=", "<=", ">=", "=", "<", ">"} {
		if strings.HasPrefix(rest, op) {
			return op
		}
	}
	if m == modeEval {
		switch rest[0] {
		case '+', '-', '*', '/', '%', '.':
			return rest[:1]
		}
	}
	return ""
}

// quoted scans a quoted string. \" and \\ are unescaped; any other
// backslash stays, so regular expressions keep their \d and \.
func (l *lexer) quoted(q byte) (string, error) {
	start := l.pos
	l.pos++
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == q:
			l.pos++
			return b.String(), nil
		case c == '\\' && l.pos+1 < len(l.src) && (l.src[l.pos+1] == q || l.src[l.pos+1] == '\\'):
			b.WriteByte(l.src[l.pos+1])
			l.pos += 2
		default:
			b.WriteByte(c)
			l.pos++
		}
	}
	return "", l.errorf(start, "unterminated quoted string")
}

func (l *lexer) number() token {
	start := l.pos
	for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
		l.pos++
	}
	if l.pos < len(l.src) && l.src[l.pos] == '.' && l.pos+1 < len(l.src) && isDigit(l.src[l.pos+1]) {
		l.pos++
		for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
			l.pos++
		}
	}
	if l.pos < len(l.src) && (l.src[l.pos] == 'e' || l.src[l.pos] == 'E') {
		j := l.pos + 1
		if j < len(l.src) && (l.src[j] == '+' || l.src[j] == '-') {
			j++
		}
		if j < len(l.src) && isDigit(l.src[j]) {
			for j < len(l.src) && isDigit(l.src[j]) {
				j++
			}
			l.pos = j
		}
	}
	return token{k: tNumber, s: l.src[start:l.pos], pos: start, end: l.pos}
}

// ident scans an eval field name or function name. Dots join name parts
// (userIdentity.userName) when a name character follows; otherwise a dot
// is the concatenation operator. {} marks an array level as in field names.
func (l *lexer) ident() token {
	start := l.pos
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case isIdentChar(c):
			l.pos++
		case c == '.' && l.pos+1 < len(l.src) && (isIdentChar(l.src[l.pos+1]) || l.src[l.pos+1] == '{'):
			l.pos++
		case c == '{' && strings.HasPrefix(l.src[l.pos:], "{}"):
			l.pos += 2
		case c == ':' && strings.HasPrefix(l.src[l.pos:], "::") && l.pos+2 < len(l.src) && isIdentChar(l.src[l.pos+2]):
			l.pos += 2 // tag::action
		default:
			return token{k: tWord, s: l.src[start:l.pos], pos: start, end: l.pos}
		}
	}
	return token{k: tWord, s: l.src[start:l.pos], pos: start, end: l.pos}
}

// word scans a bare word in search or argument mode: everything up to
// space, a parenthesis, bracket, quote, pipe or comparison operator (and, in
// argument mode, a comma).
func (l *lexer) word(m mode) token {
	start := l.pos
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch c {
		case ' ', '\t', '\n', '\r', '\f', '\v', '(', ')', '[', ']', '"', '|', '=', '<', '>':
			return token{k: tWord, s: l.src[start:l.pos], pos: start, end: l.pos}
		case '!':
			if l.pos+1 < len(l.src) && l.src[l.pos+1] == '=' {
				return token{k: tWord, s: l.src[start:l.pos], pos: start, end: l.pos}
			}
		case ',':
			if m != modeSearch {
				return token{k: tWord, s: l.src[start:l.pos], pos: start, end: l.pos}
			}
		}
		l.pos++
	}
	return token{k: tWord, s: l.src[start:l.pos], pos: start, end: l.pos}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}
func isIdentChar(c byte) bool { return isIdentStart(c) || isDigit(c) }
