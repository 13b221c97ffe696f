package detections

import (
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// How the guard finds the commands of a search.
//
// Splunk splits a search into commands at every pipe that is not inside a
// double-quoted string, and the first word after the pipe names the
// command. Only double quotes delimit strings there: a single quote is an
// ordinary character in a search term (user=don't, O'Brien) and quotes a
// field name only inside an eval or where expression, which does not hide a
// pipe from the split. Backticks are ordinary characters too: patrol has
// expanded its own macros before the guard runs, and the arguments of a
// macro Splunk expands later end up in the search, pipes and all.
//
// Inside double quotes a backslash escapes the next character (\" and \\).
// Outside them Splunk also reads a backslash as an escape (\| and \" are
// literal characters), while patrol's own engine reads it as an ordinary
// character. Splunk drops ```comments```, perhaps before it pairs quotes, so
// a quote inside one would shift which pipes are quoted. The guard reads
// the search every one of these ways and refuses it if any reading finds a
// forbidden command or a double quote that never closes.

// reading is one way of reading a search.
type reading struct {
	escapeOutside bool // a backslash outside quotes escapes the next character (Splunk)
	dropComments  bool // ```comments``` are removed before anything else
}

var readings = []reading{{true, false}, {false, false}, {true, true}, {false, true}}

// scan returns the commands found by every reading, in the order they are
// written, and a *QuoteError if a reading finds a quote that never closes.
func scan(spl string) ([]CommandUse, error) {
	var all []CommandUse
	var qerr error
	seen := map[CommandUse]bool{}
	for _, rd := range readings {
		var uses []CommandUse
		s := spl
		if rd.dropComments {
			s = blankComments(s)
		}
		if err := rd.scan(s, 0, false, false, &uses); err != nil && qerr == nil {
			qerr = err
		}
		for _, u := range uses {
			if !seen[u] {
				seen[u] = true
				all = append(all, u)
			}
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Offset < all[j].Offset })
	return all, qerr
}

// scan appends the commands of s to out. base is the offset of s in the
// whole search; inMap marks the search string of a map command; first says
// that the first word of s names a command, as in a subsearch or map's
// string (the main search starts with an implied search command).
func (rd reading) scan(s string, base int, inMap, first bool, out *[]CommandUse) error {
	atStart := first
	mapAt := 0 // offset of the map command whose arguments are read
	// cmds[d] is the command whose arguments are read at subsearch depth d.
	cmds := []string{""}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"':
			end, ok := closeQuote(s, i)
			if !ok {
				return &QuoteError{Offset: base + i}
			}
			body := unescape(s[i+1 : end-1])
			switch {
			case atStart: // | "delete" names a command all the same
				cmds[len(cmds)-1] = add(out, body, base+i+1, inMap)
				atStart = false
			case cmds[len(cmds)-1] == "map":
				// Any quoted argument of map may be the search it runs.
				if err := rd.scan(body, base+i+1, true, true, out); err != nil {
					return err
				}
				if placeholder.MatchString(body) {
					add(out, "map", mapAt, inMap)
				}
			}
			i = end
		case c == '|':
			atStart = true
			cmds[len(cmds)-1] = ""
			i++
		case c == '[':
			// A subsearch is a search of its own, and Splunk may read its
			// first word as a command ([inputlookup x.csv]).
			cmds = append(cmds, "")
			atStart = true
			i++
		case c == ']':
			if len(cmds) > 1 {
				cmds = cmds[:len(cmds)-1]
			}
			atStart = false
			i++
		default:
			if r, n := utf8.DecodeRuneInString(s[i:]); unicode.IsSpace(r) {
				i += n
				continue
			}
			j := rd.wordEnd(s, i)
			switch {
			case atStart:
				if cmds[len(cmds)-1] = add(out, s[i:j], base+i, inMap); cmds[len(cmds)-1] == "map" {
					mapAt = base + i
					*out = (*out)[:len(*out)-1] // map counts only for what it runs (below)
				}
				atStart = false
			case cmds[len(cmds)-1] == "map" && mapRunsUnseen(s[i:j]):
				add(out, "map", mapAt, inMap)
			}
			i = j
		}
	}
	return nil
}

// placeholder is a $field$ token, which map fills from result values.
var placeholder = regexp.MustCompile(`\$[^$\s"]+\$`)

// mapRunsUnseen reports whether an unquoted argument of map makes it run
// a search the guard cannot read: a placeholder, savedsearch=NAME, or a
// bare saved search name (map NAME). search=, maxsearches=N and their
// parts written apart are map's own options.
func mapRunsUnseen(word string) bool {
	w := strings.ToLower(word)
	switch {
	case placeholder.MatchString(w), strings.HasPrefix(w, "savedsearch"), strings.HasPrefix(w, "savedsplsearch"):
		return true
	case strings.Contains(w, "="), w == "search", w == "maxsearches":
		return false
	}
	return strings.Trim(w, "0123456789") != ""
}

// wordEnd returns the offset after the word starting at s[i]: it ends at
// white space, a pipe, a bracket or a double quote not escaped.
func (rd reading) wordEnd(s string, i int) int {
	for i < len(s) {
		c := s[i]
		switch c {
		case '|', '[', ']', '"':
			return i
		case '\\':
			if rd.escapeOutside {
				i += 2
				continue
			}
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if unicode.IsSpace(r) {
			return i
		}
		i += n
	}
	return len(s)
}

// add appends the command named by word to out and returns its name. The
// name is the word lowercased, without backslashes, cut at the first
// character that cannot be part of a command name: "Delete", "de\lete"
// and "delete," all name delete.
func add(out *[]CommandUse, word string, off int, inMap bool) string {
	w := strings.ToLower(strings.ReplaceAll(word, `\`, ""))
	name := w
	for k := 0; k < len(w); k++ {
		if c := w[k]; !(c == '_' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			if k > 0 {
				name = w[:k]
			}
			break
		}
	}
	*out = append(*out, CommandUse{Name: name, Offset: off, InMap: inMap})
	return name
}

// blankComments replaces every ```comment``` of s (one left open runs to
// the end) with spaces, so that offsets stay those of s.
func blankComments(s string) string {
	b := []byte(s)
	for i := 0; ; {
		start := strings.Index(s[i:], "```")
		if start < 0 {
			return string(b)
		}
		start += i
		end := len(s)
		if k := strings.Index(s[start+3:], "```"); k >= 0 {
			end = start + 3 + k + 3
		}
		for j := start; j < end; j++ {
			b[j] = ' '
		}
		i = end
	}
}

// closeQuote returns the offset after the double-quoted string starting at
// s[i], where a backslash escapes the next byte; ok is false when the
// string never closes.
func closeQuote(s string, i int) (end int, ok bool) {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return len(s), false
}

// unescape removes the backslash of each \x in a quoted string, as Splunk
// does for \" and \\ (for any other x it keeps x alone, which can only
// show the guard more pipes, never fewer).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
