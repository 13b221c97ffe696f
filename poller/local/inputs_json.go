package local

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// jsonRecords splits a stream of JSON into records without decoding them:
// the objects of a CloudTrail file's {"Records":[...]} array, the objects
// of a top-level array, or objects one after another (newline-delimited
// JSON). It checks the structure as it goes (brackets, strings, the bytes
// allowed between tokens), so a file that is not JSON fails with its line
// and column instead of being skipped. Decoding the fields of a record is
// left to the engine, which does it only for the fields a query reads.
type jsonRecords struct {
	r   io.Reader
	lim Limits
	// arrays holds, for each bracket open in the current record, the
	// elements seen so far when it is an array (commas), -1 for an object.
	arrays []int
	buf    []byte
	pos    int   // next byte to look at
	end    int   // bytes of buf holding data
	base   int64 // stream offset of buf[0]
	line   int   // newlines before buf[0]
	eof    bool
	err    error // read error, reported once the buffer is drained

	mode    int // modeTop, modeArray (top-level [...]), modeRecords ({"Records":[...]})
	needSep bool
	started bool
}

const (
	modeTop = iota
	modeArray
	modeRecords
)

// syntaxError is a JSON structure error with its place in the stream.
type syntaxError struct {
	Line, Column int
	Offset       int64
	Msg          string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("line %d, column %d (byte %d): %s", e.Line, e.Column, e.Offset, e.Msg)
}

// byte classes outside strings
const (
	clsOK = iota
	clsComma
	clsSpace
	clsQuote
	clsOpen
	clsClose
	clsBad
)

var jsonClass [256]uint8

func init() {
	for i := range jsonClass {
		jsonClass[i] = clsBad
	}
	for _, c := range []byte("0123456789+-.eE:abcdfghijklmnopqrstuvwxyzABCDFGHIJKLMNOPQRSTUVWXYZ") {
		jsonClass[c] = clsOK
	}
	jsonClass[','] = clsComma
	for _, c := range []byte(" \t\r\n") {
		jsonClass[c] = clsSpace
	}
	jsonClass['"'] = clsQuote
	jsonClass['{'], jsonClass['['] = clsOpen, clsOpen
	jsonClass['}'], jsonClass[']'] = clsClose, clsClose
}

func newJSONRecords(r io.Reader, lim Limits) *jsonRecords {
	return &jsonRecords{r: r, lim: lim.orDefault(), buf: make([]byte, 256<<10)}
}

func (j *jsonRecords) errorAt(i int, format string, args ...any) error {
	line, col, _ := j.position(j.base + int64(i))
	return &syntaxError{Line: line, Column: col, Offset: j.base + int64(i), Msg: fmt.Sprintf(format, args...)}
}

// position returns the line and column of a stream offset inside the
// buffered data (the record last returned, say).
func (j *jsonRecords) position(off int64) (line, col int, ok bool) {
	i := int(off - j.base)
	if i < 0 || i > j.end {
		return 0, 0, false
	}
	line = j.line + bytes.Count(j.buf[:i], []byte{'\n'}) + 1
	col = i + 1
	if k := bytes.LastIndexByte(j.buf[:i], '\n'); k >= 0 {
		col = i - k
	}
	return line, col, true
}

// fill makes room by dropping bytes before keep and reads more. It
// returns false at the end of the stream.
func (j *jsonRecords) fill(keep int) (bool, error) {
	if j.eof {
		return false, j.err
	}
	if keep > 0 {
		j.line += bytes.Count(j.buf[:keep], []byte{'\n'})
		n := copy(j.buf, j.buf[keep:j.end])
		j.base += int64(keep)
		j.pos -= keep
		j.end = n
	}
	if j.end == len(j.buf) {
		nb := make([]byte, 2*len(j.buf))
		copy(nb, j.buf[:j.end])
		j.buf = nb
	}
	n, err := j.r.Read(j.buf[j.end:])
	j.end += n
	if err != nil {
		j.eof = true
		if !errors.Is(err, io.EOF) {
			j.err = &readError{err}
		}
		if n == 0 {
			return false, j.err
		}
	}
	return true, nil
}

// skipSpace moves pos to the next non-space byte, reading as needed; it
// returns false at the end of the stream.
func (j *jsonRecords) skipSpace() (bool, error) {
	for {
		for j.pos < j.end {
			if jsonClass[j.buf[j.pos]] != clsSpace {
				return true, nil
			}
			j.pos++
		}
		ok, err := j.fill(j.pos)
		if !ok {
			return false, err
		}
	}
}

// next returns the next record (valid until the following call) and its
// offset in the stream, or io.EOF.
func (j *jsonRecords) next() ([]byte, int64, error) {
	if !j.started {
		j.started = true
		if ok, err := j.skipSpace(); !ok {
			return nil, 0, eofOr(err)
		}
		if j.end-j.pos >= 3 && bytes.Equal(j.buf[j.pos:j.pos+3], []byte("\xef\xbb\xbf")) {
			j.pos += 3 // a byte order mark
		}
	}
	for {
		ok, err := j.skipSpace()
		if err != nil {
			return nil, 0, err
		}
		if !ok {
			if j.mode != modeTop {
				return nil, 0, j.errorAt(j.end, "unexpected end of file inside an array")
			}
			return nil, 0, io.EOF
		}
		c := j.buf[j.pos]
		switch j.mode {
		case modeTop:
			switch c {
			case '[':
				j.pos++
				j.mode, j.needSep = modeArray, false
				continue
			case '{':
				if w, err := j.recordsWrapper(); err != nil {
					return nil, 0, err
				} else if w {
					continue
				}
				return j.object()
			}
			return nil, 0, j.errorAt(j.pos, "expected a JSON object or array, found %q", c)
		default:
			switch {
			case c == ']':
				j.pos++
				if j.mode == modeRecords {
					if ok, err := j.skipSpace(); !ok || j.buf[j.pos] != '}' {
						if err != nil {
							return nil, 0, err
						}
						return nil, 0, j.errorAt(j.pos, "expected } after the Records array")
					}
					j.pos++
				}
				j.mode = modeTop
				continue
			case c == ',' && j.needSep:
				j.pos++
				j.needSep = false
				continue
			case c == '{' && !j.needSep:
				j.needSep = true
				return j.object()
			}
			return nil, 0, j.errorAt(j.pos, "expected a record (a JSON object), found %q", c)
		}
	}
}

func eofOr(err error) error {
	if err != nil {
		return err
	}
	return io.EOF
}

// recordsWrapper checks whether the object at pos opens {"Records": [ and,
// if so, moves past the bracket.
func (j *jsonRecords) recordsWrapper() (bool, error) {
	const prefix = `"Records"`
	i := j.pos + 1
	for {
		// make sure enough bytes are buffered to decide
		for i < j.end && jsonClass[j.buf[i]] == clsSpace {
			i++
		}
		if j.end-i >= len(prefix)+64 || j.eof {
			break
		}
		start := j.pos
		ok, err := j.fill(start)
		i -= start
		if err != nil {
			return false, err
		}
		if !ok {
			break
		}
	}
	if !bytes.HasPrefix(j.buf[i:j.end], []byte(prefix)) {
		return false, nil
	}
	i += len(prefix)
	for i < j.end && jsonClass[j.buf[i]] == clsSpace {
		i++
	}
	if i >= j.end || j.buf[i] != ':' {
		return false, nil
	}
	i++
	for i < j.end && jsonClass[j.buf[i]] == clsSpace {
		i++
	}
	if i >= j.end || j.buf[i] != '[' {
		return false, nil
	}
	j.pos = i + 1
	j.mode, j.needSep = modeRecords, false
	return true, nil
}

// object scans the object starting at pos and returns it. A record over
// one of the limits is scanned to its end without being kept, and comes
// back as a *skipError.
func (j *jsonRecords) object() ([]byte, int64, error) {
	start := j.pos
	depth := 0
	inStr := false
	i := start
	j.arrays = j.arrays[:0]
	for {
		for i < j.end {
			if inStr {
				q := bytes.IndexByte(j.buf[i:j.end], '"')
				if q < 0 {
					i = j.end
					break
				}
				i += q
				n := 0
				for k := i - 1; k > start && j.buf[k] == '\\'; k-- {
					n++
				}
				i++
				if n%2 == 0 {
					inStr = false
				}
				continue
			}
			c := j.buf[i]
			switch jsonClass[c] {
			case clsOK, clsSpace:
			case clsComma:
				if n := len(j.arrays) - 1; n >= 0 && j.arrays[n] >= 0 {
					if j.arrays[n]++; j.arrays[n] >= j.lim.MaxValues {
						return j.skip(start, i+1, depth, false, SkipValues,
							fmt.Sprintf("an array has more than %d elements (search.local.max_values)", j.lim.MaxValues))
					}
				}
			case clsQuote:
				inStr = true
			case clsOpen:
				depth++
				if depth > j.lim.MaxDepth {
					return j.skip(start, i+1, depth, false, SkipDepth,
						fmt.Sprintf("nested deeper than %d levels (search.local.max_depth)", j.lim.MaxDepth))
				}
				if c == '[' {
					j.arrays = append(j.arrays, 0)
				} else {
					j.arrays = append(j.arrays, -1)
				}
			case clsClose:
				depth--
				if len(j.arrays) > 0 {
					j.arrays = j.arrays[:len(j.arrays)-1]
				}
				if depth == 0 {
					j.pos = i + 1
					if j.pos-start > j.lim.MaxRecordBytes {
						return nil, 0, j.tooBig(j.base + int64(start))
					}
					return j.buf[start:j.pos], j.base + int64(start), nil
				}
				if depth < 0 {
					return nil, 0, j.errorAt(i, "unbalanced %q", c)
				}
			default:
				return nil, 0, j.errorAt(i, "invalid character %q", c)
			}
			i++
		}
		if i-start > j.lim.MaxRecordBytes {
			// Keep nothing more of it: a record as long as the file (a
			// gzip bomb) must not be held in memory.
			return j.skip(start, i, depth, inStr, SkipRecordSize, "")
		}
		j.pos = i
		ok, err := j.fill(start)
		if err != nil {
			return nil, 0, err
		}
		i = j.pos
		start = 0
		if !ok {
			what := "an object"
			if inStr {
				what = "a string"
			}
			return nil, 0, j.errorAt(j.end, "unexpected end of file inside %s", what)
		}
	}
}

// readError is a failure to read the stream (a broken gzip file, an I/O
// error), as opposed to a stream that is not JSON.
type readError struct{ err error }

func (e *readError) Error() string { return "read: " + e.err.Error() }
func (e *readError) Unwrap() error { return e.err }
