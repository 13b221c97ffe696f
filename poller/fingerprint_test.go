package poller

import "testing"

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
