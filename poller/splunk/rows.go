package splunk

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/patrolsec/patrol/poller"
)

// rowParser turns one result object, as json.Decoder has already read and
// validated it, into a poller.Result. Splunk result rows have one shape:
// field names to a string, or to an array of strings for a multivalue
// field. Parsing that shape directly costs a single pass with no reflection,
// where encoding/json would scan each value several times; it is the bulk
// of a search's CPU. Field names repeat on every row, so they are interned.
type rowParser struct {
	names map[string]string
	b     []byte
	i     int
}

func newRowParser() *rowParser { return &rowParser{names: map[string]string{}} }

var errRow = errors.New("result is not an object of strings")

// parse reads one object. A value that is a string becomes one value; an
// array of strings several (null elements dropped); null leaves the field
// out, as Splunk does for absent fields; a number or boolean (which Splunk
// does not send) keeps its JSON text. Nested objects are an error.
func (p *rowParser) parse(b []byte) (poller.Result, error) {
	p.b, p.i = b, 0
	if !p.eat('{') {
		return nil, errRow
	}
	hint := min(len(p.names), 64)
	res := make(poller.Result, hint)
	// One backing array holds the row's single values; each field gets a
	// one-element slice of it (capacity 1, so an append by the caller
	// copies rather than overwriting a neighbour).
	single := make([]string, 0, max(hint, 8))
	if p.eat('}') {
		return res, nil
	}
	for {
		kb, escaped, err := p.rawString()
		if err != nil {
			return nil, err
		}
		name := p.name(kb, escaped)
		if !p.eat(':') {
			return nil, errRow
		}
		switch p.peek() {
		case '"':
			v, err := p.str()
			if err != nil {
				return nil, err
			}
			if len(single) == cap(single) {
				single = make([]string, 0, cap(single))
			}
			single = append(single, v)
			n := len(single)
			res[name] = single[n-1 : n : n]
		case '[':
			p.i++
			var vs []string
			for !p.eat(']') {
				if len(vs) > 0 && !p.eat(',') {
					return nil, errRow
				}
				switch p.peek() {
				case '"':
					v, err := p.str()
					if err != nil {
						return nil, err
					}
					vs = append(vs, v)
				case '[', '{':
					return nil, fmt.Errorf("field %q: nested value in a multivalue field", name)
				default:
					if lit := p.literal(); lit != "null" {
						vs = append(vs, lit)
					}
				}
			}
			if len(vs) > 0 {
				res[name] = vs
			} else {
				delete(res, name) // a repeated name: the last one wins, as in encoding/json
			}
		case '{':
			return nil, fmt.Errorf("field %q: object where a string was expected", name)
		default:
			if lit := p.literal(); lit != "null" {
				res[name] = []string{lit}
			} else {
				delete(res, name)
			}
		}
		if p.eat(',') {
			continue
		}
		if p.eat('}') {
			return res, nil
		}
		return nil, errRow
	}
}

func (p *rowParser) skipSpace() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *rowParser) peek() byte {
	p.skipSpace()
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *rowParser) eat(c byte) bool {
	if p.peek() == c {
		p.i++
		return true
	}
	return false
}

// literal reads a number, true, false or null.
func (p *rowParser) literal() string {
	p.skipSpace()
	start := p.i
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return string(p.b[start:p.i])
		}
		p.i++
	}
	return string(p.b[start:p.i])
}

// rawString returns the bytes between the quotes of the next string and
// whether they hold escapes.
func (p *rowParser) rawString() ([]byte, bool, error) {
	if !p.eat('"') {
		return nil, false, errRow
	}
	start, escaped := p.i, false
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case '\\':
			escaped = true
			p.i += 2
			continue
		case '"':
			s := p.b[start:p.i]
			p.i++
			return s, escaped, nil
		}
		p.i++
	}
	return nil, false, errRow
}

func (p *rowParser) str() (string, error) {
	raw, escaped, err := p.rawString()
	if err != nil {
		return "", err
	}
	if !escaped {
		return validUTF8(raw), nil
	}
	return unescape(raw)
}

// name interns a field name: the lookup with a []byte key does not
// allocate, so only a row's first sighting of a name costs a string.
func (p *rowParser) name(raw []byte, escaped bool) string {
	if n, ok := p.names[string(raw)]; ok {
		return n
	}
	n := validUTF8(raw)
	if escaped {
		if u, err := unescape(raw); err == nil {
			n = u
		}
	}
	if len(p.names) < 4096 { // bound it: a hostile row could invent names
		p.names[string(raw)] = n
	}
	return n
}

// validUTF8 makes a string, replacing each invalid byte with U+FFFD as
// encoding/json does.
func validUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		sb.WriteRune(r) // RuneError for an invalid byte, with n == 1
		b = b[n:]
	}
	return sb.String()
}

// unescape decodes the body of a JSON string holding escapes. Escapes
// produce whole, valid UTF-8 sequences, so checking the result once at the
// end replaces invalid bytes just as checking each raw run would.
func unescape(b []byte) (string, error) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		if c != '\\' {
			j := i + 1
			for j < len(b) && b[j] != '\\' {
				j++
			}
			out = append(out, b[i:j]...)
			i = j
			continue
		}
		if i+1 >= len(b) {
			return "", errRow
		}
		switch e := b[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, n := hexRune(b[i:])
			if n == 0 {
				return "", errRow
			}
			if utf16.IsSurrogate(r) {
				r2, n2 := hexRune(b[i+n:])
				if dec := utf16.DecodeRune(r, r2); n2 > 0 && dec != utf8.RuneError {
					r, n = dec, n+n2
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
			i += n
			continue
		default:
			return "", errRow
		}
		i += 2
	}
	return validUTF8(out), nil
}

// hexRune reads a \uXXXX escape at the start of b; n is 0 if there is none.
func hexRune(b []byte) (rune, int) {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return 0, 0
	}
	v, err := strconv.ParseUint(string(b[2:6]), 16, 16)
	if err != nil {
		return 0, 0
	}
	return rune(v), 6
}
