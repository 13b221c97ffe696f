package detections

import (
	"strings"
	"testing"
)

func TestCheckCommands(t *testing.T) {
	tests := []struct {
		spl, want string // want: the forbidden command found, "" for none
	}{
		{`index=aws eventName=StopLogging | table _time eventName`, ""},
		{`index=aws | delete`, "delete"},
		{`index=aws | outputlookup x.csv`, "outputlookup"},
		{`index=aws | sendemail to="a@example.com"`, "sendemail"},
		{`index=aws | collect index=main`, "collect"},
		{`index=aws | stats count | SUMMARYINDEX index=s`, "summaryindex"},
		{`| rest /services/authentication/users`, "rest"},
		{`index=aws|delete`, "delete"},
		{"index=aws\n| where x=1\n| outputcsv out", "outputcsv"},
		{`index=aws | append [search index=x | delete]`, "delete"},
		{`index=aws | appendpipe [| outputlookup x.csv]`, "outputlookup"},
		{`index=aws | map search="search index=x user=$user$ | delete"`, "delete"},
		{`index=aws | map search="search index=x | eval a=\"| b\" | collect index=y"`, "collect"},
		{`index=aws | map search="search index=x user=$user$"`, ""},
		{`index=aws | map maxsearches=5 search="| script evil"`, "script"},
		// Not commands: search terms, quoted strings, macros, comments, subsearch heads.
		{`index=aws delete outputlookup`, ""},
		{`index=aws msg="a | delete" | table msg`, ""},
		{`index=aws | eval s='x | delete'`, ""},
		{"index=aws ```| delete``` | table a", ""},
		{"index=aws `mymacro(| delete)` | table a", ""},
		{`index=aws [search delete] | table a`, ""},
		{`index=aws | rex field=x "(?<a>b|delete)"`, ""},
		{`index=aws | eval delete=1 | fields delete`, ""},
	}
	for _, tt := range tests {
		err := CheckCommands(tt.spl, nil)
		got := ""
		if ce, ok := err.(*CommandError); ok {
			got = ce.Name
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
	if err := CheckAllowCommands([]string{"outputlookup", "stats"}); err == nil || !strings.Contains(err.Error(), `"stats" is not a command patrol refuses`) {
		t.Errorf("allow list: %v", err)
	}
}
