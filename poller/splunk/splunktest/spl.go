package splunktest

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The fake understands just enough SPL to behave like splunkd at the edges
// a client cares about: it rejects an unknown command (the first word of a
// search that does not start with "search" or "|" is parsed as a command),
// filters added events by the leading search's key=value terms, and honours
// a trailing "appendpipe [stats count AS name]". Everything else is accepted
// and ignored.

var knownCommands = map[string]bool{
	"search": true, "where": true, "eval": true, "table": true, "fields": true, "stats": true,
	"eventstats": true, "streamstats": true, "rename": true, "dedup": true, "head": true, "tail": true,
	"sort": true, "spath": true, "lookup": true, "inputlookup": true, "outputlookup": true,
	"appendpipe": true, "append": true, "makeresults": true, "rex": true, "bin": true, "bucket": true,
	"timechart": true, "chart": true, "top": true, "rare": true, "tstats": true, "fillnull": true,
	"mvexpand": true, "iplocation": true, "convert": true, "join": true, "transaction": true,
	"rest": true, "from": true, "datamodel": true, "regex": true, "return": true, "format": true,
}

// reportingCommands make a search "transforming": its results are not its
// events, and Splunk reports the tail as reportSearch.
var reportingCommands = map[string]bool{
	"stats": true, "table": true, "chart": true, "timechart": true, "top": true, "rare": true, "tstats": true,
}

// splitPipes splits SPL on | outside quotes and [subsearches].
func splitPipes(spl string) []string {
	var parts []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(spl); i++ {
		switch c := spl[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '[':
			depth++
		case c == ']':
			depth--
		case c == '|' && depth == 0:
			parts = append(parts, spl[start:i])
			start = i + 1
		}
	}
	return append(parts, spl[start:])
}

var commandName = regexp.MustCompile(`^[A-Za-z0-9_]*`)

// checkSPL returns splunkd's parse error for spl, or "".
func checkSPL(spl string) string {
	s := strings.TrimSpace(spl)
	if s == "" {
		return "Empty search."
	}
	parts := splitPipes(s)
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if i == 0 && p == "" && strings.HasPrefix(s, "|") {
			continue // leading pipe: a generating command follows
		}
		name := strings.ToLower(commandName.FindString(p))
		if name == "" {
			name = p
			if j := strings.IndexAny(p, " \t\n"); j > 0 {
				name = p[:j]
			}
		}
		if !knownCommands[name] {
			return fmt.Sprintf("Unknown search command '%s'.", name)
		}
	}
	return ""
}

// reportSearch is the transforming tail of spl, or "" for an event search.
func reportSearch(spl string) string {
	parts := splitPipes(strings.TrimSpace(spl))
	for i, p := range parts {
		name := strings.ToLower(commandName.FindString(strings.TrimSpace(p)))
		if reportingCommands[name] {
			return strings.TrimSpace(strings.Join(parts[i:], "|"))
		}
	}
	return ""
}

var rowCount = regexp.MustCompile(`(?i)^\s*appendpipe\s*\[\s*stats\s+count\s+as\s+(\w+)\s*\]\s*$`)

// countField returns the name in a final "appendpipe [stats count AS name]".
func countField(spl string) string {
	parts := splitPipes(spl)
	if m := rowCount.FindStringSubmatch(parts[len(parts)-1]); m != nil {
		return m[1]
	}
	return ""
}

var term = regexp.MustCompile(`([A-Za-z_][\w.{}]*)=("(?:[^"\\]|\\.)*"|[^\s()]+)`)

// terms returns the key=value terms of the leading search command.
func terms(spl string) map[string]string {
	first := strings.TrimSpace(splitPipes(strings.TrimSpace(spl))[0])
	first = strings.TrimSpace(strings.TrimPrefix(first, "search"))
	out := map[string]string{}
	for _, m := range term.FindAllStringSubmatch(first, -1) {
		k, v := m[1], m[2]
		if k == "earliest" || k == "latest" {
			continue
		}
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		}
		out[k] = v
	}
	return out
}

// matchTerms reports whether e has every term; a value may end in *.
func matchTerms(ts map[string]string, e Event) bool {
	for k, want := range ts {
		ok := false
		for _, got := range e.Fields[k] {
			if prefix, wild := strings.CutSuffix(want, "*"); wild {
				ok = strings.HasPrefix(strings.ToLower(got), strings.ToLower(prefix))
			} else {
				ok = strings.EqualFold(got, want)
			}
			if ok {
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

var decimal = regexp.MustCompile(`^(\d+)(?:\.(\d{1,9}))?$`)

var relative = regexp.MustCompile(`^([+-])(\d+)(s|m|h|d|w)$`)

// parseTime reads a time parameter: "" (unset), decimal epoch seconds
// ("0" is all time), "now", or a relative modifier like -7d or +1d.
func parseTime(v string, now time.Time) (time.Time, bool, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return time.Time{}, false, nil
	case v == "now":
		return now, true, nil
	}
	if m := decimal.FindStringSubmatch(v); m != nil {
		sec, _ := strconv.ParseInt(m[1], 10, 64)
		ns := int64(0)
		if m[2] != "" {
			ns, _ = strconv.ParseInt((m[2] + "000000000")[:9], 10, 64)
		}
		return time.Unix(sec, ns), true, nil
	}
	if m := relative.FindStringSubmatch(v); m != nil {
		n, _ := strconv.Atoi(m[2])
		unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[3]]
		d := time.Duration(n) * unit
		if m[1] == "-" {
			d = -d
		}
		return now.Add(d), true, nil
	}
	return time.Time{}, false, fmt.Errorf("Invalid time value %q", v)
}

// bounds are a search's half-open time ranges: [earliest, latest) on _time
// and [indexEarliest, indexLatest) on _indextime; a zero bound is open.
type bounds struct {
	earliest, latest           time.Time
	indexEarliest, indexLatest time.Time
}

func (b bounds) contains(e Event) bool {
	it := e.indexTime()
	return inRange(e.Time, b.earliest, b.latest) && inRange(it, b.indexEarliest, b.indexLatest)
}

func inRange(t, lo, hi time.Time) bool {
	if !lo.IsZero() && t.Before(lo) {
		return false
	}
	if !hi.IsZero() && !t.Before(hi) {
		return false
	}
	return true
}

// inputlookup returns NAME when spl begins "| inputlookup NAME".
func inputlookup(spl string) (string, bool) {
	parts := splitPipes(strings.TrimSpace(spl))
	if len(parts) < 2 || strings.TrimSpace(parts[0]) != "" {
		return "", false
	}
	f := strings.Fields(parts[1])
	if len(f) < 2 || !strings.EqualFold(f[0], "inputlookup") {
		return "", false
	}
	return f[1], true
}
