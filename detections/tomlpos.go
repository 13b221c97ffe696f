package detections

import (
	"strconv"
	"strings"
)

// KeyLines maps TOML key paths to the line (1-based) where they are set, so
// validation errors can name a line as well as a key. BurntSushi/toml keeps
// key positions private; this is a small line scanner that understands
// tables, arrays of tables, dotted and quoted keys, inline tables and
// multi-line strings, which is all patrol's files use.
//
// Paths are dot-joined; elements of an array of tables are numbered from 1:
// "test[2].events". The first element's keys are also recorded without the
// index ("test.events") for keys reported by the decoder without one.
type KeyLines map[string]int

// Line returns the line of key or of its nearest recorded parent, or 0.
func (kl KeyLines) Line(key string) int {
	for key != "" {
		if l, ok := kl[key]; ok {
			return l
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			return 0
		}
		key = key[:i]
	}
	return 0
}

// ScanKeyLines indexes src.
func ScanKeyLines(src string) KeyLines {
	kl := KeyLines{}
	counts := map[string]int{}
	table, plain := "", ""
	lines := strings.Split(src, "\n")
	for i := 0; i < len(lines); i++ {
		n := i + 1
		line := strings.TrimSpace(lines[i])
		if line == "" || line[0] == '#' {
			continue
		}
		if strings.HasPrefix(line, "[[") {
			name := joinKey(parseKeyPath(strings.TrimSuffix(strings.TrimSpace(strings.TrimPrefix(stripComment(line), "[[")), "]]")))
			resolved := resolveTable(name, counts)
			counts[resolved]++
			table = resolved + "[" + strconv.Itoa(counts[resolved]) + "]"
			plain = name
			kl.set(resolved, n)
			kl.set(name, n)
			kl.set(table, n)
			continue
		}
		if line[0] == '[' {
			name := joinKey(parseKeyPath(strings.TrimSuffix(strings.TrimSpace(strings.TrimPrefix(stripComment(line), "[")), "]")))
			table, plain = resolveTable(name, counts), name
			kl.set(table, n)
			kl.set(name, n)
			continue
		}
		eq := assignIndex(line)
		if eq < 0 {
			continue
		}
		key := joinKey(parseKeyPath(line[:eq]))
		full := join(table, key)
		kl.set(full, n)
		kl.set(join(plain, key), n)
		value := strings.TrimSpace(line[eq+1:])
		if strings.HasPrefix(value, "{") {
			kl.inline(full, value, n)
			kl.inline(join(plain, key), value, n)
		}
		// Skip the body of a multi-line string so its lines are not read as keys.
		for _, q := range []string{`"""`, `'''`} {
			if strings.HasPrefix(value, q) && strings.Count(value, q) == 1 {
				for i+1 < len(lines) && !strings.Contains(lines[i+1], q) {
					i++
				}
				i++
			}
		}
	}
	return kl
}

func (kl KeyLines) set(key string, line int) {
	if _, ok := kl[key]; !ok {
		kl[key] = line
	}
}

// inline records the keys of a one-line inline table: params = { a = "x", b = "y" }.
func (kl KeyLines) inline(prefix, value string, line int) {
	body := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(stripComment(value)), "{"), "}")
	for _, part := range splitTopLevel(body, ',') {
		if eq := assignIndex(part); eq > 0 {
			kl.set(join(prefix, joinKey(parseKeyPath(part[:eq]))), line)
		}
	}
}

// resolveTable maps [test.expect] inside the latest [[test]] element to test[N].expect.
func resolveTable(name string, counts map[string]int) string {
	best := ""
	for arr := range counts {
		if strings.HasPrefix(name, arr+".") && len(arr) > len(best) {
			best = arr
		}
	}
	if best == "" {
		return name
	}
	return best + "[" + strconv.Itoa(counts[best]) + "]" + name[len(best):]
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

func joinKey(parts []string) string { return strings.Join(parts, ".") }

// parseKeyPath splits a TOML key (bare, quoted or dotted) into its parts.
func parseKeyPath(s string) []string {
	var parts []string
	s = strings.TrimSpace(s)
	for s != "" {
		var part string
		switch s[0] {
		case '"', '\'':
			end := strings.IndexByte(s[1:], s[0])
			if end < 0 {
				return append(parts, s)
			}
			part, s = s[1:1+end], strings.TrimSpace(s[2+end:])
		default:
			end := strings.IndexByte(s, '.')
			if end < 0 {
				end = len(s)
			}
			part, s = strings.TrimSpace(s[:end]), s[end:]
		}
		parts = append(parts, part)
		s = strings.TrimPrefix(strings.TrimSpace(s), ".")
		s = strings.TrimSpace(s)
	}
	return parts
}

// assignIndex finds the '=' of a key/value line, outside quoted keys.
func assignIndex(line string) int {
	i := indexUnquoted(line, "=#[{")
	if i < 0 || line[i] != '=' {
		return -1
	}
	return i
}

func stripComment(s string) string {
	if i := indexUnquoted(s, "#"); i >= 0 {
		return strings.TrimSpace(s[:i])
	}
	return s
}

// indexUnquoted returns the index of the first byte of chars in s outside
// single- or double-quoted strings, or -1.
func indexUnquoted(s, chars string) int {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case strings.IndexByte(chars, c) >= 0:
			return i
		}
	}
	return -1
}

func splitTopLevel(s string, sep byte) []string {
	var out []string
	var quote byte
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		case c == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
