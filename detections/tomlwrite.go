package detections

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Writing TOML for detection files and silences: patrol suggests
// exceptions and appends silences as text, so people's comments and layout
// stay as they wrote them.

// InlineMatch renders a match table's body as TOML: "field" = "value" or
// "field" = ["a", "b"], fields sorted.
func InlineMatch(m map[string][]string) string {
	fields := make([]string, 0, len(m))
	for f := range m {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	parts := make([]string, 0, len(fields))
	for _, f := range fields {
		vals := m[f]
		v := ""
		if len(vals) == 1 {
			v = TOMLString(vals[0])
		} else {
			q := make([]string, len(vals))
			for i, x := range vals {
				q[i] = TOMLString(x)
			}
			v = "[" + strings.Join(q, ", ") + "]"
		}
		parts = append(parts, TOMLString(f)+" = "+v)
	}
	return strings.Join(parts, ", ")
}

// TOMLString writes s as a TOML basic string. Every character that could
// end the string or the line is escaped, so values from events stay one
// value.
func TOMLString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			b.WriteString(`\uFFFD`)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// EscapeGlob writes a literal value as a match glob that matches only
// itself (globs are matched by poller/tuning).
func EscapeGlob(s string) string {
	if !strings.ContainsAny(s, `*?\`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r == '*' || r == '?' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
