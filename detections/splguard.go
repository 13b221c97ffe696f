package detections

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ForbiddenCommands are the SPL commands patrol never sends, on any
// backend, unless search.splunk.allow_commands names them: they write,
// delete, send or execute with patrol's Splunk role, and detections are
// files many people edit. The value says what the command does.
var ForbiddenCommands = map[string]string{
	"delete":         "deletes events from an index",
	"outputlookup":   "writes a lookup table",
	"outputcsv":      "writes a CSV file on the search head",
	"outputtext":     "writes a file on the search head",
	"collect":        "writes events into an index",
	"summaryindex":   "writes events into an index",
	"mcollect":       "writes metrics into an index",
	"meventcollect":  "writes metrics into an index",
	"tscollect":      "writes a namespace on the search head",
	"sendemail":      "sends e-mail",
	"sendalert":      "runs an alert action",
	"script":         "runs a script on the search head",
	"run":            "runs a script on the search head",
	"runshellscript": "runs a shell script on the search head",
	"dump":           "writes files on the search head",
	"rest":           "calls Splunk's REST API with patrol's role",
	"crawl":          "adds inputs to Splunk",
	"input":          "adds inputs to Splunk",
	"dbxoutput":      "writes to a database",
	"dbxquery":       "runs SQL on a database",
}

// CommandUse is one command found in a search.
type CommandUse struct {
	Name   string // lowercase
	Offset int    // byte offset of the name in the search text
	InMap  bool   // inside the search string of a map command
}

// CommandError is a search that uses a forbidden command.
type CommandError struct {
	CommandUse
	Why string
}

func (e *CommandError) Error() string {
	where := ""
	if e.InMap {
		where = " (inside map's search)"
	}
	return fmt.Sprintf("command %q%s %s: patrol never runs searches that write, delete, send or execute (allow it by name in search.splunk.allow_commands if you must)", e.Name, where, e.Why)
}

// CheckCommands returns a *CommandError for the first forbidden command
// in spl that allow does not name, nil if there is none. spl is checked as
// Splunk would run it: every command after a pipe, in the main search and
// in every subsearch ([...]), and in map's search="..." strings.
func CheckCommands(spl string, allow []string) error {
	for _, c := range Commands(spl) {
		why, bad := ForbiddenCommands[c.Name]
		if !bad {
			continue
		}
		allowed := false
		for _, a := range allow {
			if strings.EqualFold(a, c.Name) {
				allowed = true
			}
		}
		if !allowed {
			return &CommandError{CommandUse: c, Why: why}
		}
	}
	return nil
}

// CheckAllowCommands checks an allow_commands list: each entry must be a
// command patrol refuses, or it allows nothing.
func CheckAllowCommands(allow []string) error {
	for _, a := range allow {
		if _, ok := ForbiddenCommands[strings.ToLower(a)]; !ok {
			names := make([]string, 0, len(ForbiddenCommands))
			for n := range ForbiddenCommands {
				names = append(names, n)
			}
			sort.Strings(names)
			return fmt.Errorf("%q is not a command patrol refuses, so there is nothing to allow (those are %s)", a, strings.Join(names, ", "))
		}
	}
	return nil
}

// Commands lists the commands of spl: the first word after each pipe, at
// any depth of subsearch, and those of map's search="..." argument.
// Quoted strings ("...", '...') and backquoted macros and comments are
// skipped, so a pipe inside them starts nothing.
func Commands(spl string) []CommandUse {
	var out []CommandUse
	scanCommands(spl, 0, false, &out)
	return out
}

func scanCommands(s string, base int, inMap bool, out *[]CommandUse) {
	// atStart: the next word is a command name (after a pipe). The first
	// segment of a search or subsearch is the implicit "search".
	atStart := false
	lastCmd := ""
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			end := skipQuoted(s, i)
			if lastCmd == "map" && c == '"' && isArg(s, i, "search") {
				scanCommands(unescape(s[i+1:max(i+1, end-1)]), base+i+1, true, out)
			}
			i = end
		case c == '|':
			atStart = true
			i++
		case c == '[':
			atStart = false
			lastCmd = ""
			i++
			// A subsearch is a search of its own: its first word is a
			// command only after a pipe.
		case c == ']':
			i++
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		default:
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			if j == i {
				j = i + 1
			}
			if atStart {
				name := strings.ToLower(s[i:j])
				*out = append(*out, CommandUse{Name: name, Offset: base + i, InMap: inMap})
				lastCmd = name
				atStart = false
			}
			i = j
		}
	}
}

// isArg reports whether the quoted value at s[q] follows "name=" (spaces
// allowed around the =).
func isArg(s string, q int, name string) bool {
	k := strings.TrimRight(s[:q], " \t")
	if !strings.HasSuffix(k, "=") {
		return false
	}
	k = strings.TrimRight(k[:len(k)-1], " \t")
	return strings.HasSuffix(strings.ToLower(k), name) && (len(k) == len(name) || !isWordByte(k[len(k)-len(name)-1]))
}

func isWordByte(c byte) bool {
	return c == '_' || c == '-' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// skipQuoted returns the offset after the quoted string starting at s[i];
// backslash escapes the next byte in " and ' strings.
func skipQuoted(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && q != '`':
			j++
		case s[j] == q:
			return j + 1
		}
	}
	return len(s)
}

// unescape removes the backslashes of \" and \\ in a quoted argument.
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

// reportCommand adds a forbidden command to r at its line in the file: the
// line it is written on, or the search's own line when a macro brought it.
func reportCommand(r *Reporter, search string, err error, allow []string) {
	// The raw search names the command where it is written; the expanded
	// one (err) also has what macros brought.
	line := r.Lines.Line("search")
	var inRaw *CommandError
	if errors.As(CheckCommands(search, allow), &inRaw) && line > 0 {
		start := line
		if lines := strings.Split(r.Src, "\n"); line <= len(lines) {
			v := strings.TrimSpace(stripComment(lines[line-1]))
			if strings.HasSuffix(v, "'''") || strings.HasSuffix(v, `"""`) {
				start++ // TOML drops the newline after an opening """ or '''
			}
		}
		r.AddAt(start+strings.Count(search[:inRaw.Offset], "\n"), "search", inRaw.Error())
		return
	}
	r.AddAt(line, "search", err.Error()+" (it comes from a macro)")
}
