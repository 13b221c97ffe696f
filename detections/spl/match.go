package spl

import (
	"strings"
	"unsafe"
)

// pattern is a search value with * wildcards, matched against a whole
// field value ignoring case, as the search command does. Case is folded
// for ASCII letters only, the same folding the raw-text prefilter uses, so
// the two can never disagree.
type pattern struct {
	text  string   // as written
	parts []string // lower-cased literal runs between the stars
	wild  bool
}

func newPattern(s string) pattern {
	p := pattern{text: s}
	if !strings.Contains(s, "*") {
		p.parts = []string{lowerASCII(s)}
		return p
	}
	p.wild = true
	p.parts = strings.Split(lowerASCII(s), "*")
	return p
}

// matchAll reports whether the pattern is a lone star (any value).
func (p pattern) matchAll() bool {
	if !p.wild {
		return false
	}
	for _, s := range p.parts {
		if s != "" {
			return false
		}
	}
	return true
}

func (p pattern) match(s string) bool {
	if !p.wild {
		return len(s) == len(p.parts[0]) && equalFoldLower(s, p.parts[0])
	}
	parts := p.parts
	first, last := parts[0], parts[len(parts)-1]
	if len(s) < len(first) || !equalFoldLower(s[:len(first)], first) {
		return false
	}
	s = s[len(first):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := indexFold(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return len(s) >= len(last) && equalFoldLower(s[len(s)-len(last):], last)
}

// lowerASCII lowers ASCII letters only: search terms are compared with
// ASCII folding, and this keeps byte lengths unchanged.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func lowerByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// indexFold returns the first index of needle (lower case) in s, ignoring
// ASCII case, or -1. It scans for the needle's rarest byte with
// IndexByte in both cases, which keeps the common "not there" answer at
// memory speed.
func indexFold(s, needle string) int {
	n := len(needle)
	switch {
	case n == 0:
		return 0
	case n > len(s):
		return -1
	}
	k := rarestByte(needle)
	lo := needle[k]
	up := lo
	if lo >= 'a' && lo <= 'z' {
		up = lo - 'a' + 'A'
	}
	// positions of the next lower/upper occurrence of the anchor byte
	nextLo, nextUp := -2, -2
	from := k
	for from < len(s)-(n-1-k) {
		if nextLo < from && nextLo != -1 {
			nextLo = indexByteFrom(s, lo, from)
		}
		if up == lo {
			nextUp = -1
		} else if nextUp < from && nextUp != -1 {
			nextUp = indexByteFrom(s, up, from)
		}
		i := nextLo
		if i < 0 || nextUp >= 0 && nextUp < i {
			i = nextUp
		}
		if i < 0 {
			return -1
		}
		start := i - k
		if start+n <= len(s) && equalFoldLower(s[start:start+n], needle) {
			return start
		}
		from = i + 1
	}
	return -1
}

func indexByteFrom(s string, c byte, from int) int {
	if from >= len(s) {
		return -1
	}
	i := strings.IndexByte(s[from:], c)
	if i < 0 {
		return -1
	}
	return from + i
}

// equalFoldLower compares s with lower, a lower-cased string of the same
// length, ignoring ASCII case.
func equalFoldLower(s, lower string) bool {
	for i := 0; i < len(lower); i++ {
		if lowerByte(s[i]) != lower[i] {
			return false
		}
	}
	return true
}

// byteRank orders bytes by how common they are in CloudTrail-style JSON:
// lower is rarer. Letters common in English and JSON punctuation rank high.
func byteRank(c byte) int {
	switch {
	case c == '"' || c == ':' || c == ',' || c == ' ':
		return 100
	case strings.IndexByte("etaoinsrlcd", c) >= 0:
		return 80 + strings.IndexByte("dclrsnioate", c)
	case strings.IndexByte("umhpgfyw.", c) >= 0:
		return 60
	case c >= '0' && c <= '9':
		return 50
	case c >= 'a' && c <= 'z':
		return 30
	}
	return 10
}

func rarestByte(needle string) int {
	best, rank := 0, 1000
	for i := 0; i < len(needle); i++ {
		if r := byteRank(needle[i]); r < rank {
			best, rank = i, r
		}
	}
	return best
}

// bytesString views b as a string without copying; the caller must not
// keep the string past b's lifetime or modify b while it is used.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// isBreaker reports whether c separates terms in raw text. Splunk splits
// raw events at major and minor breakers (space, punctuation, _ . - / : =
// @ and so on); letters, digits and non-ASCII bytes form terms.
func isBreaker(c byte) bool {
	return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80)
}

// termPattern is a bare search term: it matches raw text at term
// boundaries, ignoring case, with * wildcards inside.
type termPattern struct {
	text  string
	parts []string
	all   bool
}

func newTermPattern(s string) termPattern {
	t := termPattern{text: s, parts: strings.Split(lowerASCII(s), "*")}
	t.all = true
	for _, p := range t.parts {
		if p != "" {
			t.all = false
		}
	}
	return t
}

func (t termPattern) match(raw string) bool {
	if t.all {
		return true
	}
	parts := t.parts
	openStart, openEnd := parts[0] == "", parts[len(parts)-1] == ""
	// drop empty runs from leading/trailing stars
	for len(parts) > 0 && parts[0] == "" {
		parts = parts[1:]
	}
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	first := parts[0]
	off := 0
	for {
		i := indexFold(raw[off:], first)
		if i < 0 {
			return false
		}
		start := off + i
		off = start + 1
		if !openStart && start > 0 && !isBreaker(raw[start-1]) && !isBreaker(first[0]) {
			continue
		}
		if t.matchRest(raw, start+len(first), parts[1:], openEnd) {
			return true
		}
	}
}

func (t termPattern) matchRest(raw string, pos int, parts []string, openEnd bool) bool {
	if len(parts) == 0 {
		return openEnd || pos == len(raw) || isBreaker(raw[pos]) || isBreaker(raw[pos-1])
	}
	for j, p := range parts {
		last := j == len(parts)-1
		if !last {
			i := indexFold(raw[pos:], p)
			if i < 0 {
				return false
			}
			pos += i + len(p)
			continue
		}
		for {
			i := indexFold(raw[pos:], p)
			if i < 0 {
				return false
			}
			end := pos + i + len(p)
			if openEnd || end == len(raw) || isBreaker(raw[end]) || isBreaker(p[len(p)-1]) {
				return true
			}
			pos += i + 1
		}
	}
	return false
}
