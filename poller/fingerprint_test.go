package poller

import (
	"testing"

	"github.com/patrolsec/patrol/detections"
)

func TestFingerprintStable(t *testing.T) {
	a := Result{"x": {"2", "1"}, "y": {"v"}, "z": {"ignored"}}
	b := Result{"x": {"1", "2"}, "y": {"v"}}
	if Fingerprint("d", []string{"x", "y"}, a) != Fingerprint("d", []string{"x", "y"}, b) {
		t.Error("multivalue order or fields outside group_by changed the fingerprint")
	}
	if Fingerprint("d", []string{"x", "y"}, a) == Fingerprint("e", []string{"x", "y"}, a) {
		t.Error("detection id not in the fingerprint")
	}
	if Fingerprint("d", []string{"x"}, Result{"x": {"a b"}}) == Fingerprint("d", []string{"x"}, Result{"x": {"a", "b"}}) {
		t.Error("values are not delimited")
	}
}

func TestCleanText(t *testing.T) {
	in := "ok\tline\nnext \x1b[31mred\x07 \u202etxt.exe"
	want := "ok\tline\nnext \\x1b[31mred\\x07 \\u{202e}txt.exe"
	if got := CleanText(in); got != want {
		t.Errorf("got %q want %q", got, want)
	}
}

// One list of account fields, read in order, unless the detection names its
// own: routing and enrichment agree on the account of every result.
func TestAccountOf(t *testing.T) {
	keyUse := Result{"userIdentity.accountId": {"111122223333"}, "targetAccounts": {"444455556666"}}
	tests := []struct {
		name  string
		field string
		r     Result
		want  string
	}{
		{"event's account first", "", Result{"recipientAccountId": {"444455556666"}, "userIdentity.accountId": {"111122223333"}}, "444455556666"},
		{"then the principal's", "", keyUse, "111122223333"},
		{"then the accounts a search collected", "", Result{"targetAccounts": {"", "444455556666"}}, "444455556666"},
		{"VPC Flow Logs", "", Result{"account-id": {"444455556666"}}, "444455556666"},
		{"Route 53 resolver", "", Result{"account_id": {"444455556666"}}, "444455556666"},
		{"account_field wins", "targetAccounts", keyUse, "444455556666"},
		{"account_field absent: no guess", "account", keyUse, ""},
		{"none", "", Result{"eventName": {"x"}}, ""},
	}
	rt := Router{Teams: []Team{{Name: "payments", Accounts: []string{"111122223333"}, JiraComponent: "Payments"},
		{Name: "platform", Accounts: []string{"444455556666"}, JiraComponent: "Platform"}}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &detections.Detection{ID: "d", AccountField: tt.field}
			if got := AccountOf(d, tt.r); got != tt.want {
				t.Errorf("AccountOf = %q, want %q", got, tt.want)
			}
			if got, want := rt.Route(d, tt.r).Team, map[string]string{"111122223333": "payments", "444455556666": "platform"}[tt.want]; got != want {
				t.Errorf("route team = %q, want %q", got, want)
			}
			if in := NewEnrichInput(Ticket{}, d, tt.r); in.Account != tt.want || in.Detection != "d" {
				t.Errorf("enrich input %+v", in)
			}
		})
	}
	if got := AccountOf(nil, keyUse); got != "111122223333" {
		t.Errorf("no detection: %q", got)
	}
}
