package spl

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// JSON events are extracted the way Splunk's KV_MODE=json does: nested
// keys joined with ".", array levels marked "{}" (resources{}.ARN), every
// array leaf a value of a multivalue field, null as the string "null".
// Extraction works on the raw bytes on demand: a detection that reads five
// fields of an event scans for those five and decodes nothing else.

var errJSONEnd = errors.New("unexpected end of JSON")

// JSONLimits bound what extracting the fields of one JSON text may cost,
// whoever wrote it: a record of a crafted log file, or JSON inside a field
// that spath reads.
type JSONLimits struct {
	// MaxDepth: a value nested deeper than this is not extracted (an
	// error for the record; spath extracts nothing).
	MaxDepth int
	// MaxValues: a field keeps at most this many values; the rest are
	// dropped.
	MaxValues int
}

// DefaultJSONLimits apply where no limits are given.
var DefaultJSONLimits = JSONLimits{MaxDepth: 100, MaxValues: 10000}

func (l JSONLimits) orDefault() JSONLimits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultJSONLimits.MaxDepth
	}
	if l.MaxValues <= 0 {
		l.MaxValues = DefaultJSONLimits.MaxValues
	}
	return l
}

type jsonError struct {
	off int
	msg string
}

func (e *jsonError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d of the event: %s", e.off, e.msg)
}

// EventOffset is where in the event's raw text the JSON is broken, so that
// an input that knows where the event sits in its file can name the line
// and column.
func (e *jsonError) EventOffset() int { return e.off }

// Reason says what is wrong, without the place.
func (e *jsonError) Reason() string { return "invalid JSON: " + e.msg }

func skipWS(d []byte, i int) int {
	for i < len(d) {
		switch d[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanString returns the offset after the string starting at d[i] (a
// quote) and whether it holds escapes.
func scanString(d []byte, i int) (int, bool, error) {
	j := i + 1
	for {
		k := bytes.IndexByte(d[j:], '"')
		if k < 0 {
			return 0, false, &jsonError{i, "unterminated string"}
		}
		q := j + k
		n := 0
		for p := q - 1; p > i && d[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1, bytes.IndexByte(d[i+1:q], '\\') >= 0, nil
		}
		j = q + 1
	}
}

// skipValue returns the offset after the JSON value starting at d[i].
func skipValue(d []byte, i int) (int, error) {
	i = skipWS(d, i)
	if i >= len(d) {
		return 0, errJSONEnd
	}
	switch d[i] {
	case '"':
		end, _, err := scanString(d, i)
		return end, err
	case '{', '[':
		depth := 0
		for j := i; j < len(d); j++ {
			switch d[j] {
			case '"':
				end, _, err := scanString(d, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, &jsonError{i, "unterminated object or array"}
	}
	j := i
	for j < len(d) {
		switch d[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			if j == i {
				return 0, &jsonError{i, fmt.Sprintf("unexpected %q", d[j])}
			}
			return j, nil
		}
		j++
	}
	return j, nil
}

// unquote decodes a JSON string literal (with its quotes).
func unquote(lit []byte, esc bool) string {
	body := lit[1 : len(lit)-1]
	if !esc {
		return string(body)
	}
	var b strings.Builder
	b.Grow(len(body))
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' || i+1 >= len(body) {
			b.WriteByte(c)
			continue
		}
		i++
		switch body[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			r, n := decodeU(body[i+1:])
			if n == 0 {
				b.WriteString(`\u`)
				continue
			}
			b.WriteRune(r)
			i += n
		default:
			b.WriteByte(body[i])
		}
	}
	return b.String()
}

// decodeU decodes the hex digits after \u (and a following low surrogate).
func decodeU(d []byte) (rune, int) {
	if len(d) < 4 {
		return 0, 0
	}
	v, err := strconv.ParseUint(string(d[:4]), 16, 32)
	if err != nil {
		return 0, 0
	}
	r := rune(v)
	if utf16.IsSurrogate(r) && len(d) >= 10 && d[4] == '\\' && d[5] == 'u' {
		if v2, err := strconv.ParseUint(string(d[6:10]), 16, 32); err == nil {
			if p := utf16.DecodeRune(r, rune(v2)); p != utf8.RuneError {
				return p, 10
			}
		}
	}
	return r, 4
}

// scalar renders the scalar value in d[i:end] as Splunk extracts it; ok is
// false for objects and arrays.
func scalar(d []byte, i, end int) (string, bool) {
	switch d[i] {
	case '{', '[':
		return "", false
	case '"':
		return unquote(d[i:end], bytes.IndexByte(d[i+1:end-1], '\\') >= 0), true
	}
	return string(d[i:end]), true
}

// eachMember calls fn for every key of the object at d[i] with the offset
// of its value; fn returns the offset after the value (or -1 to let
// eachMember skip it) and whether to stop.
func eachMember(d []byte, i int, fn func(key []byte, esc bool, v int) (int, bool, error)) error {
	i = skipWS(d, i)
	if i >= len(d) || d[i] != '{' {
		return &jsonError{i, "want an object"}
	}
	i = skipWS(d, i+1)
	if i < len(d) && d[i] == '}' {
		return nil
	}
	for {
		if i >= len(d) || d[i] != '"' {
			return &jsonError{i, "want a key"}
		}
		kend, esc, err := scanString(d, i)
		if err != nil {
			return err
		}
		key := d[i+1 : kend-1]
		j := skipWS(d, kend)
		if j >= len(d) || d[j] != ':' {
			return &jsonError{j, "want ':'"}
		}
		v := skipWS(d, j+1)
		end, stop, err := fn(key, esc, v)
		if err != nil || stop {
			return err
		}
		if end < 0 {
			if end, err = skipValue(d, v); err != nil {
				return err
			}
		}
		i = skipWS(d, end)
		if i >= len(d) {
			return errJSONEnd
		}
		if d[i] == '}' {
			return nil
		}
		if d[i] != ',' {
			return &jsonError{i, fmt.Sprintf("unexpected %q after a value", d[i])}
		}
		i = skipWS(d, i+1)
	}
}

// eachElement calls fn for the offset of every element of the array at d[i].
func eachElement(d []byte, i int, fn func(v int) error) error {
	i = skipWS(d, i+1)
	if i < len(d) && d[i] == ']' {
		return nil
	}
	for {
		if err := fn(i); err != nil {
			return err
		}
		end, err := skipValue(d, i)
		if err != nil {
			return err
		}
		i = skipWS(d, end)
		if i >= len(d) {
			return errJSONEnd
		}
		if d[i] == ']' {
			return nil
		}
		if d[i] != ',' {
			return &jsonError{i, fmt.Sprintf("unexpected %q in an array", d[i])}
		}
		i = skipWS(d, i+1)
	}
}

func keyString(key []byte, esc bool) string {
	if !esc {
		return bytesString(key)
	}
	q := make([]byte, 0, len(key)+2)
	q = append(append(append(q, '"'), key...), '"')
	return unquote(q, true)
}

// jsonField returns the values of one flattened field name of the JSON
// object d, at most lim.MaxValues of them. Keys may themselves hold dots,
// so every key that is a prefix of the name at a "." or "{}" boundary is
// followed. The recursion follows the name, not the data, so it is as deep
// as the name.
func jsonField(d []byte, name string, lim JSONLimits) (Value, error) {
	var out []string
	if err := descend(d, 0, "."+name, &out, lim.orDefault().MaxValues); err != nil {
		return Null, err
	}
	return Multi(out), nil
}

func descend(d []byte, i int, rest string, out *[]string, max int) error {
	i = skipWS(d, i)
	if i >= len(d) {
		return errJSONEnd
	}
	switch {
	case rest == "":
		end, err := skipValue(d, i)
		if err != nil {
			return err
		}
		if s, ok := scalar(d, i, end); ok && len(*out) < max {
			*out = append(*out, s)
		}
		return nil
	case rest[0] == '.' && d[i] == '{':
		path := rest[1:]
		return eachMember(d, i, func(key []byte, esc bool, v int) (int, bool, error) {
			k := keyString(key, esc)
			if len(path) < len(k) || path[:len(k)] != k {
				return -1, false, nil
			}
			r := path[len(k):]
			if r != "" && r[0] != '.' && !strings.HasPrefix(r, "{}") {
				return -1, false, nil
			}
			return -1, false, descend(d, v, r, out, max)
		})
	case strings.HasPrefix(rest, "{}") && d[i] == '[':
		return eachElement(d, i, func(v int) error { return descend(d, v, rest[2:], out, max) })
	}
	return nil
}

// collectJSON returns every leaf of the JSON value d as fields named as
// Splunk names them, in document order, each with at most lim.MaxValues
// values; a value nested deeper than lim.MaxDepth is an error.
func collectJSON(d []byte, lim JSONLimits) ([]Field, error) {
	lim = lim.orDefault()
	var names []string
	vals := map[string][]string{}
	err := flatten(d, skipWS(d, 0), "", 0, lim.MaxDepth, func(name, val string) {
		vs, seen := vals[name]
		if !seen {
			names = append(names, name)
		}
		if len(vs) < lim.MaxValues {
			vals[name] = append(vs, val)
		}
	})
	if err != nil {
		return nil, err
	}
	fs := make([]Field, len(names))
	for i, n := range names {
		fs[i] = Field{n, Multi(vals[n])}
	}
	return fs, nil
}

func flatten(d []byte, i int, prefix string, depth, maxDepth int, emit func(name, val string)) error {
	if i >= len(d) {
		return errJSONEnd
	}
	switch d[i] {
	case '{', '[':
		if depth >= maxDepth {
			return &jsonError{i, fmt.Sprintf("nested deeper than %d levels", maxDepth)}
		}
	}
	switch d[i] {
	case '{':
		return eachMember(d, i, func(key []byte, esc bool, v int) (int, bool, error) {
			name := keyString(key, esc)
			if prefix != "" {
				name = prefix + "." + name
			} else {
				name = strings.Clone(name)
			}
			return -1, false, flatten(d, v, name, depth+1, maxDepth, emit)
		})
	case '[':
		return eachElement(d, i, func(v int) error { return flatten(d, v, prefix+"{}", depth+1, maxDepth, emit) })
	}
	end, err := skipValue(d, i)
	if err != nil {
		return err
	}
	s, _ := scalar(d, i, end)
	if prefix == "" {
		return nil
	}
	emit(prefix, s)
	return nil
}

// spathValue extracts an spath path (a.b{}.c, a{1}) from JSON text: leaves
// as values, objects and arrays as their JSON text, at most lim.MaxValues.
func spathValue(d []byte, path string, lim JSONLimits) (Value, error) {
	lim = lim.orDefault()
	start := skipWS(d, 0)
	if start >= len(d) || d[start] != '{' && d[start] != '[' {
		return Null, &jsonError{start, "not a JSON object or array"}
	}
	nodes := []int{start}
	for _, seg := range splitSpath(path) {
		var next []int
		for _, n := range nodes {
			switch {
			case seg.key != "":
				if d[n] != '{' {
					continue
				}
				err := eachMember(d, n, func(key []byte, esc bool, v int) (int, bool, error) {
					if keyString(key, esc) == seg.key {
						next = append(next, v)
					}
					return -1, false, nil
				})
				if err != nil {
					return Null, err
				}
			case d[n] == '[':
				k := 0
				err := eachElement(d, n, func(v int) error {
					k++
					if seg.index == 0 || seg.index == k {
						next = append(next, v)
					}
					return nil
				})
				if err != nil {
					return Null, err
				}
			}
		}
		nodes = next
	}
	var out []string
	if len(nodes) > lim.MaxValues {
		nodes = nodes[:lim.MaxValues]
	}
	for _, n := range nodes {
		end, err := skipValue(d, n)
		if err != nil {
			return Null, err
		}
		if s, ok := scalar(d, n, end); ok {
			out = append(out, s)
		} else {
			out = append(out, string(d[n:end]))
		}
	}
	return Multi(out), nil
}

type spathSeg struct {
	key   string // a key, or "" for an array step
	index int    // array step: 0 for all elements ({}), else 1-based {N}
}

func splitSpath(path string) []spathSeg {
	var segs []spathSeg
	for _, part := range strings.Split(path, ".") {
		key := part
		if b := strings.IndexByte(part, '{'); b >= 0 {
			key = part[:b]
		}
		if key != "" {
			segs = append(segs, spathSeg{key: key})
		}
		rest := part[len(key):]
		for strings.HasPrefix(rest, "{") {
			e := strings.IndexByte(rest, '}')
			if e < 0 {
				break
			}
			n, _ := strconv.Atoi(rest[1:e])
			segs = append(segs, spathSeg{index: n})
			rest = rest[e+1:]
		}
	}
	return segs
}

// JSONField returns one field of a JSON object, named as Splunk's JSON
// extraction names it (userIdentity.arn, resources{}.ARN).
func JSONField(d []byte, name string) (Value, error) { return jsonField(d, name, DefaultJSONLimits) }
