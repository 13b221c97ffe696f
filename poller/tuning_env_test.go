package poller_test

// Exceptions, silences, the shadow stage and recurrence on closed tickets,
// through the real detect job, the real Jira client against the fake and
// a real state file.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/jira/jiratest"
	"github.com/patrolsec/patrol/poller/tuning"
)

// scannerEvent is keyEvent made by another principal from another address.
func scannerEvent(at time.Time, key, arn, ip string) poller.Result {
	r := keyEvent(at, "scanner", key)
	r["userIdentity.arn"], r["sourceIPAddress"] = []string{arn}, []string{ip}
	return r
}

// issueCount counts the issues patrol made about alerts (not about itself).
func (e *env) issueCount() int { return len(e.alertKeys()) }

// alertKeys returns the keys of the issues about alerts, oldest first.
func (e *env) alertKeys() []string {
	var out []string
	for _, is := range e.jira.Issues() {
		if !slices.Contains(is.Labels, poller.SelfLabel) {
			out = append(out, is.Key)
		}
	}
	return out
}

// TestExceptionMutesExactlyTheMatchingResults: an exception drops the
// results whose every field matches (a case-insensitive glob, a CIDR),
// before fingerprinting, until it expires; the rest open tickets as usual,
// and what it dropped is counted.
func TestExceptionMutesExactlyTheMatchingResults(t *testing.T) {
	e := newEnv(t, envOptions{})
	expires := e.clock.Now().Add(2 * time.Hour)
	e.det = loadDetection(t, detectionTOML("approve", "1h")+`
[[exception]]
match = { "userIdentity.arn" = "ARN:aws:iam::*:role/scanner-*", "sourceIPAddress" = ["198.51.100.0/24", "2001:db8::/32"] }
reason = "vulnerability scanner"
owner = "alice@example.com"
expires = `+expires.Format(time.RFC3339)+`
`)
	e.detector.Tuner = &tuning.Tuner{}
	role := "arn:aws:iam::" + account + ":role/scanner-prod"
	t0 := e.clock.Now()
	e.search.add(
		scannerEvent(t0.Add(-50*time.Minute), "AKIASCAN000000000001", role, "198.51.100.7"),                              // excepted
		scannerEvent(t0.Add(-49*time.Minute), "AKIASCAN000000000002", role, "2001:db8::5"),                               // excepted (v6)
		scannerEvent(t0.Add(-48*time.Minute), "AKIASCAN000000000003", role, "203.0.113.9"),                               // other address
		scannerEvent(t0.Add(-47*time.Minute), "AKIASCAN000000000004", "arn:aws:iam::"+account+":user/x", "198.51.100.7"), // other principal
	)
	st, err := e.detect()
	if err != nil {
		t.Fatal(err)
	}
	if st.Excepted != 2 || st.Alerts != 2 || e.issueCount() != 2 {
		t.Fatalf("excepted %d, alerts %d, issues %d; want 2, 2, 2", st.Excepted, st.Alerts, e.issueCount())
	}
	for _, is := range e.jira.Issues() {
		if strings.Contains(is.Summary, "AKIASCAN000000000001") || strings.Contains(is.Summary, "AKIASCAN000000000002") {
			t.Errorf("an excepted result got a ticket: %s", is.Summary)
		}
	}
	// After it expires, the same results open tickets again; before, a
	// late result of the excepted kind stays excepted (by its own time).
	e.clock.Add(3 * time.Hour)
	e.search.add(
		scannerEvent(expires.Add(-time.Minute), "AKIASCAN000000000005", role, "198.51.100.8"),
		scannerEvent(expires.Add(time.Minute), "AKIASCAN000000000006", role, "198.51.100.8"),
	)
	if st, err = e.detect(); err != nil {
		t.Fatal(err)
	}
	if st.Excepted != 1 || st.Alerts != 1 || e.issueCount() != 3 {
		t.Fatalf("after expiry: excepted %d, alerts %d, issues %d; want 1, 1, 3", st.Excepted, st.Alerts, e.issueCount())
	}
	counts, err := e.db.ExceptionCounts(context.Background(), time.Time{}, time.Time{})
	if err != nil || len(counts) != 1 || counts[0].Results != 3 || counts[0].Key != e.det.Exceptions[0].Key() {
		t.Fatalf("exception counts %+v, %v", counts, err)
	}
	// One self-alert says the exception expired, once.
	e.detect()
	selfs := 0
	for _, is := range e.jira.Issues() {
		if slices.Contains(is.Labels, poller.SelfLabel) {
			selfs++
			if !strings.Contains(is.Summary, "exception of key-used expired") {
				t.Errorf("self-alert: %q", is.Summary)
			}
		}
	}
	if selfs != 1 {
		t.Errorf("%d self-alerts for the expired exception, want 1", selfs)
	}
}

// writeSilences writes a silences file and returns the Tuner over it.
func writeSilences(t *testing.T, src string) (*tuning.Tuner, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "silences.toml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := tuning.OpenSilences(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &tuning.Tuner{Silences: f}, path
}

// TestSilenceMutesUntilItEnds: a silence records the alerts it covers,
// counted against it, with no ticket, message or action; after it ends,
// the next result opens a ticket as usual (the silenced alert does not
// suppress it).
func TestSilenceMutesUntilItEnds(t *testing.T) {
	e := newEnv(t, envOptions{suppress: "24h"})
	t0 := e.clock.Now()
	end := t0.Add(time.Hour)
	e.detector.Tuner, _ = writeSilences(t, `
# maintenance of the scanners
[[silence]]
id = "maint"
detections = ["KEY-*"]
match = { "recipientAccountId" = "`+account+`" }
expires = `+end.Format(time.RFC3339)+`
owner = "bob"
reason = "planned network change"
`)
	e.search.add(keyEvent(t0.Add(-30*time.Minute), "alice", "AKIAALICE00000000001"), keyEvent(t0.Add(-20*time.Minute), "alice", "AKIAALICE00000000001"),
		keyEvent(t0.Add(-10*time.Minute), "bob", "AKIABOB0000000000002"))
	st, err := e.detect()
	if err != nil {
		t.Fatal(err)
	}
	e.poll()
	if st.Silenced != 3 || st.Alerts != 0 || e.issueCount() != 0 || len(e.slack.Messages()) != 0 {
		t.Fatalf("silenced %d, alerts %d, issues %d, messages %d", st.Silenced, st.Alerts, e.issueCount(), len(e.slack.Messages()))
	}
	counts, _ := e.db.SilenceCounts(context.Background(), time.Time{}, time.Time{})
	if len(counts) != 1 || counts[0].Key != "maint" || counts[0].Alerts != 2 || counts[0].Results != 3 {
		t.Fatalf("silence counts %+v", counts)
	}
	// The silence ends; the same key used again (inside suppress of the
	// silenced alert) opens a ticket.
	e.clock.Add(2 * time.Hour)
	e.search.add(keyEvent(end.Add(10*time.Minute), "alice", "AKIAALICE00000000001"))
	if st, err = e.detect(); err != nil {
		t.Fatal(err)
	}
	if st.Silenced != 0 || st.Alerts != 1 || e.issueCount() != 1 {
		t.Fatalf("after the silence: silenced %d, alerts %d, issues %d", st.Silenced, st.Alerts, e.issueCount())
	}
}

// TestShadowStage: a shadow detection runs on its schedule with its own
// checkpoint and ledger, opens no ticket, sends no message, runs no
// action, and stores what it would have done. Switched to live, it does
// not ticket its old alerts, and new results open tickets at once.
func TestShadowStage(t *testing.T) {
	e := newEnv(t, envOptions{mode: "auto"})
	e.det = loadDetection(t, `stage = "shadow"`+"\n"+detectionTOML("auto", "24h"))
	e.detector.Actions = map[string]poller.Action{"iam.disable_access_key": e.action}
	e.detector.Router = poller.Router{Teams: []poller.Team{{Name: "payments", Accounts: []string{account}, JiraComponent: "Payments"}}}
	t0 := e.clock.Now()
	e.search.add(keyEvent(t0.Add(-30*time.Minute), "alice", "AKIAALICE00000000001"))
	st, err := e.detect()
	if err != nil {
		t.Fatal(err)
	}
	e.poll()
	if !st.Shadow || st.Alerts != 1 || e.issueCount() != 0 || len(e.slack.Messages()) != 0 || len(e.action.keys()) != 0 {
		t.Fatalf("shadow %v alerts %d issues %d messages %d actions %v", st.Shadow, st.Alerts, e.issueCount(), len(e.slack.Messages()), e.action.keys())
	}
	if _, ok, _ := e.db.Checkpoint(context.Background(), "key-used"); !ok {
		t.Error("the shadow detection has no checkpoint")
	}
	shadows, err := e.db.ShadowAlerts(context.Background(), "key-used")
	if err != nil || len(shadows) != 1 {
		t.Fatalf("shadow alerts %v, %v", shadows, err)
	}
	var w poller.Would
	if err := json.Unmarshal([]byte(shadows[0].Would), &w); err != nil {
		t.Fatal(err)
	}
	if w.Summary != "Key AKIAALICE00000000001 of alice used" || w.Route.Component != "Payments" || w.Remediation == nil ||
		w.Remediation.Plan == nil || w.Remediation.Plan.Target != "AKIAALICE00000000001" || w.Remediation.Mode != "auto" {
		t.Fatalf("would: %+v", w)
	}
	// Live: nothing from the shadow days is ticketed; a new use of the
	// same key, inside suppress of the shadow alert, is.
	e.det = loadDetection(t, detectionTOML("auto", "24h"))
	e.clock.Add(10 * time.Minute)
	if st, err = e.detect(); err != nil || st.Alerts != 0 || e.issueCount() != 0 {
		t.Fatalf("going live ticketed old alerts: %+v %v, %d issues", st, err, e.issueCount())
	}
	e.search.add(keyEvent(e.clock.Now().Add(time.Minute), "alice", "AKIAALICE00000000001"))
	e.clock.Add(5 * time.Minute)
	if st, err = e.detect(); err != nil || st.Alerts != 1 || e.issueCount() != 1 {
		t.Fatalf("live: %+v %v, %d issues", st, err, e.issueCount())
	}
}

// TestRecurrenceOnClosedTicket: inside suppress, newer results of an alert
// whose ticket a person closed reopen it (with a comment), open a new
// ticket linked to it, or only comment, per tickets.on_recurrence.
func TestRecurrenceOnClosedTicket(t *testing.T) {
	for _, mode := range []string{poller.RecurrenceReopen, poller.RecurrenceNew, poller.RecurrenceComment} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, envOptions{mode: "off", suppress: "24h", jira: jiratest.Options{Transitions: []jiratest.Transition{
				{ID: "11", Name: "To Do", To: "To Do"}, {ID: "31", Name: "Done", To: "Done"}, {ID: "41", Name: "Reopen", To: "To Do"}}}})
			e.detector.OnRecurrence, e.detector.ReopenTransition = mode, "Reopen"
			t0 := e.clock.Now()
			e.search.add(keyEvent(t0.Add(-30*time.Minute), "alice", "AKIAALICE00000000001"))
			if _, err := e.detect(); err != nil {
				t.Fatal(err)
			}
			key := e.issueKeys()[0]
			e.clock.Add(time.Minute)
			e.jira.Resolve(key, "Done", "Done", approver)
			e.clock.Add(time.Minute)
			if err := e.poll(); err != nil { // the ledger learns it is done
				t.Fatal(err)
			}
			e.search.add(keyEvent(e.clock.Now().Add(-90*time.Second), "alice", "AKIAALICE00000000001"))
			e.clock.Add(time.Minute)
			if _, err := e.detect(); err != nil {
				t.Fatal(err)
			}
			e.poll()
			// A second window of repeats does not reopen (or open) again.
			e.search.add(keyEvent(e.clock.Now().Add(-90*time.Second), "alice", "AKIAALICE00000000001"))
			e.clock.Add(time.Minute)
			e.detect()
			e.poll()
			old, _ := e.jira.Issue(key)
			switch mode {
			case poller.RecurrenceReopen:
				if old.Status != "To Do" || e.issueCount() != 1 || e.count(key, "patrol reopens it") != 1 {
					t.Fatalf("status %q, %d issues, comments %q", old.Status, e.issueCount(), e.comments(key))
				}
			case poller.RecurrenceNew:
				keys := e.issueKeys()
				if old.Status != "Done" || len(keys) != 2 {
					t.Fatalf("status %q, issues %v", old.Status, keys)
				}
				fresh, _ := e.jira.Issue(keys[1])
				if !slices.Contains(fresh.Links, key) || !strings.Contains(jiratest.PlainText(fresh.Description), "after its ticket "+key+" was closed") {
					t.Fatalf("new ticket not linked to %s: links %v, description %q", key, fresh.Links, jiratest.PlainText(fresh.Description))
				}
				a, _ := e.db.AlertByTicket(context.Background(), keys[1])
				if a == nil || a.RecurrenceOf != key {
					t.Fatalf("alert of the new ticket: %+v", a)
				}
			case poller.RecurrenceComment:
				if old.Status != "Done" || e.issueCount() != 1 || e.count(key, "Seen again") != 1 {
					t.Fatalf("status %q, %d issues, comments %q", old.Status, e.issueCount(), e.comments(key))
				}
			}
			if row, _ := e.db.Ticket(context.Background(), key); row == nil || (mode == poller.RecurrenceReopen && row.Closed()) {
				t.Errorf("ledger row %+v", row)
			}
		})
	}
}
