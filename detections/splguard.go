package detections

import (
	"errors"
	"fmt"
	"slices"
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
	// map's own search strings are checked like any search, but a
	// placeholder ($field$) is filled from result values when it runs, and
	// a saved search is text patrol never sees: only those uses count.
	"map": "builds its search from result values ($field$ placeholders) or runs a saved search, so an event or a saved search could bring a command patrol never checked",
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

// QuoteError is a search whose double quotes do not pair up, as Splunk
// reads them or as patrol's own engine does. Which pipes start commands
// then depends on who reads it, so the guard refuses the search.
type QuoteError struct {
	Offset int // byte offset of the quote that is never closed
}

func (e *QuoteError) Error() string {
	return "a double quote is never closed (read with or without backslash escapes outside quotes): patrol cannot tell which pipes start commands, so it never runs this search"
}

// CheckCommands returns a *CommandError for the first forbidden command
// in spl that allow does not name, else a *QuoteError when its double
// quotes do not pair up, else nil. spl is checked as Splunk would run it:
// every command after a pipe that is not inside a double-quoted string, in
// the main search, in every subsearch ([...]) and in map's quoted search
// strings. Where Splunk and patrol's engine could read it differently, the
// guard checks every reading and refuses if any finds a forbidden command.
func CheckCommands(spl string, allow []string) error {
	uses, err := scan(spl)
	var mapErr error // a command map's own strings name is the clearer reason
	for _, c := range uses {
		why, bad := ForbiddenCommands[c.Name]
		if !bad || slices.ContainsFunc(allow, func(a string) bool { return strings.EqualFold(a, c.Name) }) {
			continue
		}
		if c.Name != "map" {
			return &CommandError{CommandUse: c, Why: why}
		}
		if mapErr == nil {
			mapErr = &CommandError{CommandUse: c, Why: why}
		}
	}
	if mapErr != nil {
		return mapErr
	}
	return err
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

// Commands lists the commands of spl in the order they are written: the
// first word after each pipe, at any depth of subsearch, and those of
// map's quoted search strings, under every reading scan knows.
func Commands(spl string) []CommandUse {
	uses, _ := scan(spl)
	return uses
}

// reportCommand adds a guard error to r at its line in the file: the line
// the command (or the unclosed quote) is written on, or the search's own
// line when a macro brought it.
func reportCommand(r *Reporter, search string, err error, allow []string) {
	// The raw search names the command where it is written; the expanded
	// one (err) also has what macros brought.
	line := r.Lines.Line("search")
	inRaw := CheckCommands(search, allow)
	if off, ok := offsetOf(inRaw); ok && line > 0 {
		start := line
		if lines := strings.Split(r.Src, "\n"); line <= len(lines) {
			v := strings.TrimSpace(stripComment(lines[line-1]))
			if strings.HasSuffix(v, "'''") || strings.HasSuffix(v, `"""`) {
				start++ // TOML drops the newline after an opening """ or '''
			}
		}
		r.AddAt(start+strings.Count(search[:min(off, len(search))], "\n"), "search", inRaw.Error())
		return
	}
	r.AddAt(line, "search", err.Error()+" (it comes from a macro)")
}

// offsetOf returns where in the search a guard error points.
func offsetOf(err error) (int, bool) {
	var ce *CommandError
	var qe *QuoteError
	switch {
	case errors.As(err, &ce):
		return ce.Offset, true
	case errors.As(err, &qe):
		return qe.Offset, true
	}
	return 0, false
}
