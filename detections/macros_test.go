package detections

import (
	"strings"
	"testing"
)

func TestMacrosExpand(t *testing.T) {
	m, err := NewMacros(map[string]string{
		"cloudtrail":         "sourcetype=aws:cloudtrail",
		"ct_event(name)":     "`cloudtrail` eventName=$name$",
		"pair(a, b)":         "$a$=$b$",
		"loop":               "`loop`",
		"mine_filter":        "user!=svc-*",
		"uses_missing(x)":    "`nope`",
		"quoted":             `x="a,b"`,
		"deep(a)":            "`pair($a$, 1)`",
		"arg_with_quote(v)":  `v="$v$"`,
		"mixed.name-1:x":     "ok",
		"security_content_x": "sx",
	}, MacroOptions{OrgCIDRs: []string{"203.0.113.0/24", "2001:db8::/32"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in, want, err string
	}{
		{in: "`cloudtrail` eventName=StopLogging", want: "sourcetype=aws:cloudtrail eventName=StopLogging"},
		{in: "`ct_event(DeleteTrail)` | stats count", want: "sourcetype=aws:cloudtrail eventName=DeleteTrail | stats count"},
		{in: "`pair(user, \"a,b\")`", want: `user="a,b"`},
		{in: "`deep(x)`", want: "x=1"},
		{in: "search x | `other_filter`", want: "search x | search *"},
		{in: "search x | `mine_filter`", want: "search x | user!=svc-*"},
		{in: `search msg="a ` + "`not a macro`" + `"`, want: `search msg="a ` + "`not a macro`" + `"`},
		{in: "`mixed.name-1:x`", want: "ok"},
		{in: "`loop`", err: "refers to itself"},
		{in: "`uses_missing(1)`", err: "unknown macro `nope`"},
		{in: "search `missing`", err: "unknown macro `missing` at offset 7"},
		{in: "search `cloudtrail", err: "unclosed macro backtick"},
		{in: "`pair(a)`", err: `define "pair(arg1)"`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := m.Expand(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Expand(%q) err = %v, want %q", tc.in, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Expand(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestMacrosBuiltins(t *testing.T) {
	m, err := NewMacros(nil, MacroOptions{OrgCIDRs: []string{"203.0.113.7/24", "2001:db8::/32"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Expand("where NOT `org_networks(src_ip)` | `security_content_ctime(firstTime)`")
	if err != nil {
		t.Fatal(err)
	}
	want := `where NOT (cidrmatch("203.0.113.0/24", src_ip) OR cidrmatch("2001:db8::/32", src_ip)) | convert timeformat="%Y-%m-%dT%H:%M:%S" ctime(firstTime)`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}

	empty, _ := NewMacros(nil, MacroOptions{StrictFilters: true})
	if got, _ := empty.Expand("where `org_networks(ip)`"); got != "where (1=0)" {
		t.Errorf("no org networks: got %q", got)
	}
	if _, err := empty.Expand("| `x_filter`"); err == nil {
		t.Error("strict filters: want error for undefined filter macro")
	}
	if _, err := NewMacros(nil, MacroOptions{OrgCIDRs: []string{"not-a-cidr"}}); err == nil || !strings.Contains(err.Error(), "org_cidrs") {
		t.Errorf("bad cidr: err = %v", err)
	}
	if _, err := NewMacros(map[string]string{"bad key(": "x"}, MacroOptions{}); err == nil {
		t.Error("bad key: want error")
	}
}

// TestMacrosEveryUnknownReported: a search that uses several undefined
// macros gets one error per macro, not only the first.
func TestMacrosEveryUnknownReported(t *testing.T) {
	m, _ := NewMacros(map[string]string{"uses_missing": "`deep_missing`"}, MacroOptions{})
	_, err := m.Expand("`cloudtrail` | where NOT `private_networks(src)` | search user IN (`iac_principals`) | `uses_missing`")
	if err == nil {
		t.Fatal("no error")
	}
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	}
	want := []string{"`cloudtrail` at offset 0", "`private_networks(src)`", "`iac_principals`", "`deep_missing`"}
	if len(list) != len(want) {
		t.Fatalf("%d errors, want %d: %v", len(list), len(want), err)
	}
	for i, w := range want {
		if !strings.Contains(list[i].Error(), w) {
			t.Errorf("error %d = %v, want %q", i, list[i], w)
		}
	}
}
