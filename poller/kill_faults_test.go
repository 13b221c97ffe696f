package poller_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/jira/jiratest"
	"github.com/patrolsec/patrol/state"
)

// TestRespondAdoptsTicketOfPendingAlert: Jira made the issue but patrol
// never recorded it (the answer was lost; a kill -9 leaves the same). The
// next respond pass finds the issue through its poll while the detect job
// still waits out the index lag. It adopts the issue for the pending alert
// (its fingerprint label names it) and remediates from the alert's fields,
// instead of failing the ticket for fields it does not carry; the detect
// job later finds the alert ticketed and makes no second issue.
func TestRespondAdoptsTicketOfPendingAlert(t *testing.T) {
	e := newEnv(t, envOptions{mode: "auto"})
	e.resp.Enrichers = []poller.Enricher{ownerEnricher{}}
	e.search.add(keyEvent(e.clock.Now().Add(-5*time.Minute), "alice", "AKIAALICE00000000001"))
	e.jira.Fail(jiratest.Fault{Method: http.MethodPost, Path: "/rest/api/3/issue", Status: 504, Apply: true})
	if _, err := e.detect(); err == nil {
		t.Fatal("want the lost answer to fail the run")
	}
	keys := e.issueKeys()
	if len(keys) != 1 {
		t.Fatalf("issues = %v", keys)
	}
	key := keys[0]

	e.clock.Add(10 * time.Second) // well inside the index lag
	if err := e.poll(); err != nil {
		t.Fatalf("respond pass: %v", err)
	}
	if st := e.stage(key); st != state.StageDone {
		t.Fatalf("stage %s, want done; comments %q", st, e.comments(key))
	}
	if got := e.action.keys(); len(got) != 1 || got[0] != "AKIAALICE00000000001" {
		t.Errorf("applied %v", got)
	}
	if n := e.count(key, "cannot be planned"); n != 0 {
		t.Errorf("the ticket was failed for missing fields: %q", e.comments(key))
	}
	if e.count(key, "Account owner: alice@"+account) != 1 || e.count(key, "done and verified") != 1 {
		t.Errorf("comments = %q", e.comments(key))
	}

	for i := 0; i < 3; i++ {
		e.clock.Add(time.Minute)
		if st, err := e.detect(); err != nil || st.Waiting != 0 {
			t.Fatalf("detect after the adoption: %+v %v", st, err)
		}
	}
	if n := len(e.jira.Issues()); n != 1 {
		t.Errorf("issues = %d, want 1", n)
	}
	a, _ := e.db.AlertByTicket(context.Background(), key)
	if a == nil || a.State != state.AlertOpen {
		t.Errorf("alert of %s: %+v", key, a)
	}
	if got := e.action.keys(); len(got) != 1 {
		t.Errorf("applied %d times", len(got))
	}
}

// TestRespondLeavesSelfAlertTicketAlone: a self-alert's ticket whose create
// answer was lost is adopted as done by the respond pass that polls it: it
// is neither enriched nor remediated, and Health raises it once.
func TestRespondLeavesSelfAlertTicketAlone(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.resp.Enrichers = []poller.Enricher{ownerEnricher{}}
	ctx := context.Background()
	e.jira.Fail(jiratest.Fault{Method: http.MethodPost, Path: "/rest/api/3/issue", Status: 504, Apply: true})
	m := poller.Message{Sections: []poller.Section{{Text: "the search keeps failing"}}}
	if err := e.health.Raise(ctx, "failing:x", "patrol: detection x failed 3 runs in a row", m); err == nil {
		t.Fatal("want the lost answer to surface")
	}
	key := e.issueKeys()[0]
	e.clock.Add(10 * time.Second)
	if err := e.poll(); err != nil {
		t.Fatal(err)
	}
	if st := e.stage(key); st != state.StageDone || len(e.comments(key)) != 0 {
		t.Errorf("stage %s, comments %q", st, e.comments(key))
	}
	for i := 0; i < 3; i++ {
		e.clock.Add(time.Minute)
		if err := e.health.Raise(ctx, "failing:x", "patrol: detection x failed 4 runs in a row", m); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.jira.Issues()); n != 1 {
		t.Errorf("self-alert tickets = %d, want 1", n)
	}
}
