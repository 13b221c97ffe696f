package spl

import (
	"strings"
	"testing"
)

func TestOutputs(t *testing.T) {
	for _, tc := range []struct {
		q     string
		known bool
		has   string // fields that must be there
		not   string // fields that must not
	}{
		{q: "eventName=x", known: false},
		{q: "eventName=x | table _time eventName userIdentity.arn", known: true, has: "_time eventName userIdentity.arn", not: "sourceIPAddress"},
		{q: "x | table request* eventName", known: true, has: "requestParameters.name eventName", not: "user"},
		{q: "x | fields a b", known: true, has: "a b _time _raw", not: "c"},
		{q: "x | table a b c | fields - b", known: true, has: "a c", not: "b"},
		{q: "x | stats count min(_time) as first values(b) by acct user", known: true, has: "count first values(b) acct user", not: "b"},
		{q: "x | stats count by acct | rename acct AS account | eval n=count*2", known: true, has: "account count n", not: "acct"},
		{q: "x | table a | rename a* AS b*", known: false},
		{q: "x | table ip | lookup threat ip OUTPUT category AS cat", known: true, has: "ip cat", not: "category"},
		{q: "x | table ip | lookup threat ip", known: false},
		{q: "x | table a | eventstats count by a", known: true, has: "a count"},
		{q: "x | table a | rex field=a \"(?<user>\\w+)\"", known: true, has: "a user"},
		{q: "x | table a | spath input=a output=b path=c", known: true, has: "a b"},
		{q: "x | table a | spath", known: false},
		{q: "x | table a | where a>1 | sort a | dedup a | head 5 | mvexpand a", known: true, has: "a", not: "b"},
		{q: "x | table a | append [ search y | table b ]", known: true, has: "a b", not: "c"},
		{q: "x | table a | append [ search y ]", known: false},
		{q: "x | stats count by a | table a count | fillnull value=0 b", known: true, has: "a count b"},
	} {
		q, err := Parse(tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		o := q.Outputs()
		if o.Known != tc.known {
			t.Errorf("%s: known = %v (%s)", tc.q, o.Known, o)
			continue
		}
		for _, f := range strings.Fields(tc.has) {
			if !o.Has(f) {
				t.Errorf("%s: lacks %s (%s)", tc.q, f, o)
			}
		}
		for _, f := range strings.Fields(tc.not) {
			if o.Has(f) {
				t.Errorf("%s: has %s (%s)", tc.q, f, o)
			}
		}
	}
}
