package main

// What people do with patrol's tickets, end to end in local mode: closing
// one before its remediation ran, resolving one as a false positive.

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// localTickets runs once over two uses of outside keys (approve mode) and
// returns the config and the two tickets' keys, by user.
func localTickets(t *testing.T) (conf string, keys map[string]string) {
	t.Helper()
	at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	conf = tuningDir(t, map[string]string{"a.toml": e2eKey},
		keyUse(at, "mallory", "AKIAMALLORY000000001", "192.0.2.66"), keyUse(at.Add(time.Minute), "trudy", "AKIATRUDY00000000001", "192.0.2.67"))
	if code, out, errOut := patrol(t, "once", "--config", conf); code != exitOK {
		t.Fatalf("once: exit %d\n%s%s", code, out, errOut)
	}
	keys = map[string]string{}
	for _, tk := range listTickets(t, conf) {
		for _, u := range []string{"mallory", "trudy"} {
			if strings.Contains(tk.Summary, " of "+u+" ") {
				keys[u] = tk.Key
			}
		}
	}
	if len(keys) != 2 {
		t.Fatalf("tickets %v", listTickets(t, conf))
	}
	return conf, keys
}

func statusJSON(t *testing.T, conf string) statusReport {
	t.Helper()
	code, out, errOut := patrol(t, "status", "--config", conf, "--json")
	var rep statusReport
	if code != exitOK || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("status --json: exit %d %s%s", code, out, errOut)
	}
	return rep
}

// TestEndToEndClosedTicket: a ticket closed while its plan waits for
// approval never runs it, not even when approved after the close: the
// remediation is cancelled with one comment and the ticket leaves status's
// pending approvals. Reopened, it waits for an approval given after that.
func TestEndToEndClosedTicket(t *testing.T) {
	conf, keys := localTickets(t)
	closed, open := keys["mallory"], keys["trudy"]
	if rep := statusJSON(t, conf); len(rep.PendingApprovals) != 2 {
		t.Fatalf("pending approvals %v, want both", rep.PendingApprovals)
	}
	db := openState(t, conf)
	ctx := context.Background()
	if err := db.LocalResolve(ctx, closed, "Done", "False Positive", "carol"); err != nil {
		t.Fatal(err)
	}
	patrol(t, "approve", "--config", conf, "--as", "alice", closed) // not seeing it is closed
	for range 2 {
		if code, out, errOut := patrol(t, "once", "--config", conf); code != exitOK {
			t.Fatalf("once: exit %d\n%s%s", code, out, errOut)
		}
	}
	c := comments(t, db, closed)
	if strings.Count(c, "Remediation cancelled: the ticket was closed") != 1 || strings.Contains(c, "Dry run") {
		t.Fatalf("comments of the closed ticket:\n%s", c)
	}
	if rep := statusJSON(t, conf); !slices.Equal(rep.PendingApprovals, []string{open}) {
		t.Errorf("pending approvals %v, want only %s", rep.PendingApprovals, open)
	}
	if _, out, _ := patrol(t, "status", "--config", conf); !strings.Contains(out, "pending approvals: 1 ["+open+"]") {
		t.Errorf("status:\n%s", out)
	}

	// Reopened: the plan is posted again; the approval given while the
	// ticket was closed does not count, a new one does.
	if err := db.LocalResolve(ctx, closed, "To Do", "", "carol"); err != nil {
		t.Fatal(err)
	}
	patrol(t, "once", "--config", conf)
	c = comments(t, db, closed)
	if !strings.Contains(c, "was reopened") || strings.Contains(c, "Dry run") {
		t.Fatalf("after the reopen:\n%s", c)
	}
	if rep := statusJSON(t, conf); !slices.Contains(rep.PendingApprovals, closed) {
		t.Errorf("pending approvals %v lack the reopened %s", rep.PendingApprovals, closed)
	}
	patrol(t, "approve", "--config", conf, "--as", "alice", closed)
	patrol(t, "once", "--config", conf)
	if c := comments(t, db, closed); !strings.Contains(c, "Dry run") {
		t.Fatalf("approved after the reopen:\n%s", c)
	}
}

// TestEndToEndFalsePositive: a local ticket resolved as a false positive
// gets a ready [[exception]] (owner: who resolved it), one resolved
// otherwise does not, and status shows the detection's true and false
// positives over 30 days.
func TestEndToEndFalsePositive(t *testing.T) {
	conf, keys := localTickets(t)
	db := openState(t, conf)
	ctx := context.Background()
	if err := db.LocalResolve(ctx, keys["mallory"], "Done", "False Positive", "carol"); err != nil {
		t.Fatal(err)
	}
	if err := db.LocalResolve(ctx, keys["trudy"], "Done", "Fixed", "alice"); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second pass adds nothing
		if code, out, errOut := patrol(t, "once", "--config", conf); code != exitOK {
			t.Fatalf("once: exit %d\n%s%s", code, out, errOut)
		}
	}
	fp := comments(t, db, keys["mallory"])
	for _, want := range []string{`"userIdentity.accessKeyId" = "AKIAMALLORY000000001"`, `owner   = "carol"`, `ticket  = "` + keys["mallory"] + `"`} {
		if !strings.Contains(fp, want) {
			t.Errorf("snippet lacks %s:\n%s", want, fp)
		}
	}
	if n := strings.Count(fp, "[[exception]]"); n != 1 {
		t.Errorf("%d snippets, want 1:\n%s", n, fp)
	}
	if tp := comments(t, db, keys["trudy"]); strings.Contains(tp, "[[exception]]") {
		t.Errorf("a true positive got a snippet:\n%s", tp)
	}
	rep := statusJSON(t, conf)
	if len(rep.Detections) != 1 || rep.Detections[0].TruePositives != 1 || rep.Detections[0].FalsePositives != 1 {
		t.Fatalf("status --json detections %+v", rep.Detections)
	}
	_, out, _ := patrol(t, "status", "--config", conf)
	if !regexp.MustCompile(`(?m)^e2e-external-key .*\s1/1\s`).MatchString(out) {
		t.Errorf("status does not show 1/1 true/false positives:\n%s", out)
	}
}
