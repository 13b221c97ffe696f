package detections

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Problem is one thing wrong with an input file, located by file, line and key.
type Problem struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (p *Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Key != "" {
		b.WriteString(p.Key + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems returns every *Problem inside err (an errors.Join tree).
func Problems(err error) []*Problem {
	var out []*Problem
	var walk func(error)
	walk = func(e error) {
		var p *Problem
		if errors.As(e, &p) && p == e {
			out = append(out, p)
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		if e != nil {
			out = append(out, &Problem{Msg: e.Error()})
		}
	}
	walk(err)
	return out
}

// Reporter collects problems for one file.
type Reporter struct {
	File  string
	Lines KeyLines
	Src   string // the file's text, for positions inside values; may be ""
	list  []error
}

// Add records a problem at key (its line looked up).
func (r *Reporter) Add(key, format string, args ...any) {
	r.list = append(r.list, &Problem{File: r.File, Line: r.Lines.Line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

// AddAt records a problem at an explicit line.
func (r *Reporter) AddAt(line int, key, msg string) {
	r.list = append(r.list, &Problem{File: r.File, Line: line, Key: key, Msg: msg})
}

// Err returns the problems, sorted by line, joined; nil when there are none.
func (r *Reporter) Err() error {
	sort.SliceStable(r.list, func(i, j int) bool {
		return r.list[i].(*Problem).Line < r.list[j].(*Problem).Line
	})
	return errors.Join(r.list...)
}

// typeErrorRE reads the decoder's error for a value of the wrong type.
var typeErrorRE = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

// DecodeStrict decodes src into v, rejecting unknown keys. A TOML syntax
// error or an unknown key is added to r with its line; it reports whether
// decoding produced a usable value.
func DecodeStrict(r *Reporter, src string, v any) bool {
	md, err := toml.Decode(src, v)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			r.AddAt(perr.Position.Line, "", "TOML syntax: "+perr.Message)
			return false
		}
		// A value of the wrong type: the decoder names the line and key
		// only in its text.
		if m := typeErrorRE.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			r.AddAt(line, m[2], m[3])
			return false
		}
		r.AddAt(0, "", err.Error())
		return false
	}
	for _, k := range md.Undecoded() {
		key := k.String()
		r.Add(key, "unknown key (check the spelling; see the README for the keys)")
	}
	return true
}
