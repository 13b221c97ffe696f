package detections

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckCommands(t *testing.T) {
	tests := []struct {
		spl, want string // want: the forbidden command found, "" for none, "quote" for a *QuoteError
	}{
		{`index=aws eventName=StopLogging | table _time eventName`, ""},
		{`index=aws | delete`, "delete"},
		{`index=aws | outputlookup x.csv`, "outputlookup"},
		{`index=aws | sendemail to="a@example.com"`, "sendemail"},
		{`index=aws | collect index=main`, "collect"},
		{`| rest /services/authentication/users`, "rest"},
		{`index=aws|delete`, "delete"},
		{"index=aws\n| where x=1\n| outputcsv out", "outputcsv"},

		// Upper case, and white space of any kind after the pipe.
		{`index=aws | stats count | SUMMARYINDEX index=s`, "summaryindex"},
		{`index=aws | DeLeTe`, "delete"},
		{"index=aws |\n\n   delete", "delete"},
		{"index=aws |\t\r\n delete", "delete"},
		{"index=aws |\u00a0delete", "delete"},
		{"index=aws\r\n|\r\n\toutputlookup x.csv", "outputlookup"},
		{"   \n| delete", "delete"},
		// A command name Splunk may still read as the command.
		{`index=aws | "delete"`, "delete"},
		{`index=aws | delete,`, "delete"},
		{`index=aws | de\lete`, "delete"},

		// Apostrophes: plain characters in search terms, never a string.
		{`index=aws user=don't | delete`, "delete"},
		{`index=aws O'Brien | outputlookup x.csv`, "outputlookup"},
		{`index=aws user='x | delete`, "delete"},
		{`index=aws user=don't x=y' | collect index=main`, "collect"},
		{`index=aws user=don't | table user`, ""},
		{`index=aws | eval 'my field'=1 | table "my field"`, ""},
		// Single quotes name fields in eval; they do not hide a pipe.
		{`index=aws | eval s='x | delete'`, "delete"},

		// Double quotes and backslash escapes.
		{`index=aws msg="a | delete" | table msg`, ""},
		{`index=aws | where like(msg, "%| delete%")`, ""},
		{`index=aws | rex field=x "(?<a>b|delete)"`, ""},
		{`index=aws msg="say \"hi\" | delete" | table msg`, ""},
		{`index=aws msg="a\\" | delete`, "delete"},
		{`index=aws msg="a\\\" | delete"`, ""},
		{`index=aws x=\" | delete | eval y="z"`, "delete"}, // Splunk: \" outside quotes is a literal "
		{`index=aws a\| delete`, "delete"},                 // patrol's engine: \ then a pipe
		{`index=aws msg="never closed | delete`, "quote"},
		{`index=aws x=\"abc`, "quote"},
		{`index=aws msg="a" | table msg`, ""},

		// Subsearches, at any depth; their first word may be a command.
		{`index=aws | append [search index=x | delete]`, "delete"},
		{`index=aws [ search index=x | delete ]`, "delete"},
		{`index=aws | appendpipe [| outputlookup x.csv]`, "outputlookup"},
		{`index=aws [rest /services/authentication/users | fields title]`, "rest"},
		{`index=aws [search [search x | collect index=y] | fields a]`, "collect"},
		{`index=aws [search delete] | table a`, ""},
		{`index=aws [search x] delete | table a`, ""},

		// map runs its quoted strings as searches.
		{`index=aws | map search="search index=x user=$user$ | delete"`, "delete"},
		{`index=aws | map search="search index=x | eval a=\"| b\" | collect index=y"`, "collect"},
		// A $field$ placeholder is filled from result values when map
		// runs (an event could write "| delete" into it), and a saved
		// search is text the guard never sees: map refused for both.
		{`index=aws | map search="search index=x user=$user$"`, "map"},
		{`index=aws | map search="search index=x user=\"$userIdentity.arn$\""`, "map"},
		{`index=aws | map savedsearch=nightly`, "map"},
		{`index=aws | MAP SavedSearch="nightly"`, "map"},
		{`index=aws | map nightly_cleanup`, "map"},
		{`index=aws | map maxsearches=5 search="search index=x user=alice"`, ""},
		{`index=aws | map maxsearches = 5 search = "search index=x user=alice"`, ""},
		{`index=aws | eval x="$notmap$" | table x`, ""},
		{`index=aws | map maxsearches=5 search="| script evil"`, "script"},
		{`index=aws | MAP SEARCH="search x |   Delete"`, "delete"},
		{`index=aws | map search = "search x | delete"`, "delete"},
		{`index=aws | map "| outputlookup x.csv"`, "outputlookup"},
		{`index=aws | map search="delete"`, "delete"},
		{`index=aws | map search="search \"a | b\" x | delete"`, "delete"},
		{`index=aws | eval q="| delete" | table q`, ""},

		// Backticks are not skipped: Splunk expands a macro it knows with
		// its arguments in place, and patrol knows no comment syntax.
		{"index=aws `mymacro(| delete)` | table a", "delete"},
		{"index=aws ```| delete``` | table a", "delete"},
		{"index=aws `mymacro(x)` | table a", ""},
		// A quote in a comment Splunk drops must not pair with another.
		{"index=aws x=```\"``` | delete | search y=```\"```", "delete"},
		{"index=aws ```a \"comment``` | table a", "quote"},

		// Not commands: search terms and field names.
		{`index=aws delete outputlookup`, ""},
		{`index=aws | eval delete=1 | fields delete`, ""},
		{`index=aws | inputlookup threat_ips.csv`, ""},
	}
	for _, tt := range tests {
		err := CheckCommands(tt.spl, nil)
		got := ""
		var ce *CommandError
		var qe *QuoteError
		switch {
		case errors.As(err, &ce):
			got = ce.Name
		case errors.As(err, &qe):
			got = "quote"
		case err != nil:
			got = "error " + err.Error()
		}
		if got != tt.want {
			t.Errorf("%s: found %q, want %q (%v)", tt.spl, got, tt.want, err)
		}
	}
	if err := CheckCommands(`index=aws | outputlookup x.csv`, []string{"OutputLookup"}); err != nil {
		t.Errorf("allowed by name: %v", err)
	}
	if err := CheckCommands(`index=aws | outputlookup x.csv | delete`, []string{"outputlookup"}); err == nil || !strings.Contains(err.Error(), `"delete"`) {
		t.Errorf("allowing one allows another: %v", err)
	}
	if err := CheckCommands(`index=aws | map search="search user=$user$"`, []string{"map"}); err != nil {
		t.Errorf("map allowed by name: %v", err)
	}
	if err := CheckAllowCommands([]string{"outputlookup", "stats"}); err == nil || !strings.Contains(err.Error(), `"stats" is not a command patrol refuses`) {
		t.Errorf("allow list: %v", err)
	}
}

// TestCheckCommandsAfterMacros: the guard sees what patrol's macros bring,
// in their bodies and in the arguments put into them.
func TestCheckCommandsAfterMacros(t *testing.T) {
	m, err := NewMacros(map[string]string{
		"wipe":        "| delete",
		"src":         "sourcetype=aws:cloudtrail",
		"user(u)":     "search user=$u$",
		"nested":      "`src` | `tail`",
		"tail":        "DELETE",
		"quoted(q)":   `search msg="$q$"`,
		"apostrophes": "user=don't",
	}, MacroOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ spl, want string }{
		{"index=aws `wipe`", "delete"},
		{"`src` | `user(x | outputlookup x.csv)`", "outputlookup"},
		{"`nested`", "delete"},
		{"`apostrophes` | collect index=main", "collect"},
		{"`src` | `quoted(a | delete)`", ""},
		{"`src` | `user(x)` | table user", ""},
	}
	for _, tt := range tests {
		spl, err := m.Expand(tt.spl)
		if err != nil {
			t.Fatalf("%s: %v", tt.spl, err)
		}
		got := ""
		if ce := (*CommandError)(nil); errors.As(CheckCommands(spl, nil), &ce) {
			got = ce.Name
		}
		if got != tt.want {
			t.Errorf("%s (expanded %q): found %q, want %q", tt.spl, spl, got, tt.want)
		}
	}
}
