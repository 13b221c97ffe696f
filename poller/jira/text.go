package jira

import (
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Jira's field limits, counted in Java chars (UTF-16 code units).
const (
	maxSummary     = 255
	maxLabel       = 255
	maxDescription = 32767
)

// ellipsis marks a string patrol shortened.
const ellipsis = "…"

// jiraLen is the length Jira measures: Java strings count UTF-16 units, so
// a character outside the BMP (an emoji) counts twice.
func jiraLen(s string) int {
	n := 0
	for _, r := range s { // invalid bytes range as U+FFFD: one unit
		n += utf16.RuneLen(r)
	}
	return n
}

// truncate cuts s on a rune boundary so that it, plus the ellipsis when cut,
// fits in max UTF-16 units.
func truncate(s string, max int) string {
	if jiraLen(s) <= max {
		return s
	}
	budget := max - jiraLen(ellipsis)
	var b strings.Builder
	n := 0
	for _, r := range s {
		l := utf16.RuneLen(r)
		if n+l > budget {
			break
		}
		n += l
		b.WriteRune(r)
	}
	return b.String() + ellipsis
}

func isSpaceOrControl(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }

// cleanControls drops control characters other than newline and tab, and
// turns CR and CRLF into LF: Jira rejects some controls, and a stray CR can
// restart a wiki line.
func cleanControls(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return -1
		}
		return r
	}, s)
}

// Summary makes s a valid Jira summary: one line (Jira rejects newlines),
// no control characters, whitespace runs collapsed, at most 255 chars.
func Summary(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Join(strings.FieldsFunc(s, isSpaceOrControl), " ")
	if s == "" {
		s = "(no summary)"
	}
	return truncate(s, maxSummary)
}

// Label makes s a valid Jira label: no whitespace (Jira rejects it), no
// control characters, at most 255 chars. It returns "" when nothing is left.
func Label(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Join(strings.FieldsFunc(s, isSpaceOrControl), "-")
	if jiraLen(s) > maxLabel {
		// No ellipsis: a label is an identifier, and "…" would make it
		// look like something it is not.
		var b strings.Builder
		n := 0
		for _, r := range s {
			if n+utf16.RuneLen(r) > maxLabel {
				break
			}
			n += utf16.RuneLen(r)
			b.WriteRune(r)
		}
		s = b.String()
	}
	return s
}

// labels sanitises and de-duplicates labels, keeping their order.
func labels(in ...string) []string {
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, l := range in {
		l = Label(l)
		if l == "" || seen[l] {
			continue
		}
		seen[l] = true
		out = append(out, l)
	}
	return out
}

// jqlString quotes s as a JQL string literal. Only config values and
// patrol-made labels are ever quoted; event data never reaches JQL.
func jqlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
