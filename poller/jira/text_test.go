package jira

import (
	"strings"
	"testing"
)

func TestSummary(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"two\nlines\r\nand\ttab", "two lines and tab"},
		{"  \x00\x1b[31m  ", "[31m"},
		{"", "(no summary)"},
		{strings.Repeat("a", 300), strings.Repeat("a", 254) + "…"},
		// An emoji counts twice in Jira; the cut never splits a rune.
		{strings.Repeat("😀", 200), strings.Repeat("😀", 127) + "…"},
	}
	for _, tt := range tests {
		got := Summary(tt.in)
		if got != tt.want || jiraLen(got) > maxSummary {
			t.Errorf("Summary(%.20q) = %.30q (%d), want %.30q", tt.in, got, jiraLen(got), tt.want)
		}
	}
}

func TestLabel(t *testing.T) {
	tests := []struct{ in, want string }{
		{"patrol-fp-0123456789abcdef", "patrol-fp-0123456789abcdef"},
		{"Severity: high", "Severity:-high"},
		{" \t\n", ""},
		{strings.Repeat("l", 300), strings.Repeat("l", 255)},
	}
	for _, tt := range tests {
		if got := Label(tt.in); got != tt.want {
			t.Errorf("Label(%.20q) = %.30q, want %.30q", tt.in, got, tt.want)
		}
	}
	if got := labels("a", "a b", "a-b", "", "c"); strings.Join(got, ",") != "a,a-b,c" {
		t.Errorf("labels = %q", got)
	}
}

func TestJQLString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SEC", `"SEC"`},
		{`a" OR project = "X`, `"a\" OR project = \"X"`},
		{`back\slash`, `"back\\slash"`},
		{"new\nline", `"new\nline"`},
	}
	for _, tt := range tests {
		if got := jqlString(tt.in); got != tt.want {
			t.Errorf("jqlString(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
