package poller

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/state"
)

// newTicket runs the detect job over one StopLogging event and returns the
// harness with ticket SEC-1 made (handed to the responder when handoff).
func newTicket(t *testing.T, mode string, handoff bool) *harness {
	t.Helper()
	h := newHarness(t, mode)
	if handoff {
		h.detector.Handoff = h.resp.Handoff
	}
	h.search.add(stop(h.clock.Now().Add(-5*time.Minute), "main"))
	if _, err := h.detect(); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) poll() RespondStats {
	h.t.Helper()
	st, err := h.resp.Poll(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

func (h *harness) stage(key string) string {
	h.t.Helper()
	row, err := h.db.Ticket(context.Background(), key)
	if err != nil || row == nil {
		h.t.Fatalf("ticket %s: %v", key, err)
	}
	return row.Stage
}

func (h *harness) phases(key string) []string {
	evs, _ := h.db.TicketActions(context.Background(), key)
	var out []string
	for _, e := range evs {
		out = append(out, e.Phase)
	}
	return out
}

func TestAutoRemediationRunsOnceAndCloses(t *testing.T) {
	h := newTicket(t, "auto", true)
	h.resp.Enrichers = nil
	if h.action.count() != 1 {
		t.Fatalf("applied %d times after hand-off", h.action.count())
	}
	// The poll sees the same ticket (made and then updated by patrol itself).
	for i := 0; i < 3; i++ {
		h.clock.Add(time.Minute)
		h.poll()
	}
	if h.action.count() != 1 {
		t.Errorf("applied %d times, want exactly once", h.action.count())
	}
	if got := strings.Join(h.phases("SEC-1"), ","); got != "planned,started,succeeded" {
		t.Errorf("ledger phases = %s", got)
	}
	tk := h.tracker.ticket("SEC-1")
	if len(tk.transitions) != 1 || tk.transitions[0] != "Done" {
		t.Errorf("transitions = %v", tk.transitions)
	}
	if h.stage("SEC-1") != state.StageDone {
		t.Errorf("stage = %s", h.stage("SEC-1"))
	}
	if p := h.action.applied[0]; p.Params["trail"] != "main" || p.Params["account"] != "111122223333" || p.Params["region"] != "us-east-1" {
		t.Errorf("rendered params = %v", p.Params)
	}
}

func TestRespondNotRetriggeredByOwnWrites(t *testing.T) {
	h := newTicket(t, "approve", false)
	h.resp.Enrichers = []Enricher{fakeEnricher{name: "owner"}}
	first := h.poll() // enrich comment + plan comment: the ticket's `updated` moves
	if first.Handled != 1 {
		t.Fatalf("first pass: %+v", first)
	}
	comments := len(h.tracker.comments("SEC-1"))
	for i := 0; i < 3; i++ {
		h.clock.Add(time.Minute)
		h.poll()
	}
	if got := len(h.tracker.comments("SEC-1")); got != comments {
		t.Errorf("comments grew from %d to %d on passes with nothing new", comments, got)
	}
	// A later pass still sees the ticket inside the overlap, and skips it.
	h.clock.Add(time.Hour)
	if st := h.poll(); st.Handled != 0 || st.Actions != 0 {
		t.Errorf("quiet pass handled %+v", st)
	}
}

func TestApproveFlow(t *testing.T) {
	h := newTicket(t, "approve", false)
	h.poll()
	if h.action.count() != 0 || h.stage("SEC-1") != state.StageApproval {
		t.Fatalf("before approval: applied %d, stage %s", h.action.count(), h.stage("SEC-1"))
	}
	if c := h.tracker.comments("SEC-1"); len(c) != 1 || !strings.Contains(c[0], `adds the label "patrol-approve"`) || !strings.Contains(c[0], "Plan: cloudtrail.start_logging on trail/main") {
		t.Fatalf("plan comment = %q", c)
	}

	h.clock.Add(time.Minute)
	h.tracker.addLabel("SEC-1", "patrol-approve", "mallory") // not an approver
	h.poll()
	h.clock.Add(time.Minute)
	h.poll()
	if h.action.count() != 0 {
		t.Fatal("a non-approver's label ran the action")
	}
	c := h.tracker.comments("SEC-1")
	if n := strings.Count(strings.Join(c, "\n"), "mallory, who is not in tickets.approvers"); n != 1 {
		t.Errorf("ignored-approval comments = %d, want 1: %q", n, c)
	}

	h.clock.Add(time.Minute)
	h.tracker.addLabel("SEC-1", "patrol-approve", "alice")
	h.poll()
	h.clock.Add(time.Minute)
	h.poll()
	if h.action.count() != 1 {
		t.Fatalf("approved action applied %d times", h.action.count())
	}
	if h.stage("SEC-1") != state.StageDone {
		t.Errorf("stage = %s", h.stage("SEC-1"))
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	h := newTicket(t, "auto", false)
	h.resp.Guard.DryRun = true
	h.poll()
	if h.action.count() != 0 {
		t.Fatal("dry run applied the action")
	}
	if got := strings.Join(h.phases("SEC-1"), ","); got != "planned" {
		t.Errorf("phases = %s", got)
	}
	evs, _ := h.db.TicketActions(context.Background(), "SEC-1")
	if !evs[0].DryRun || !strings.Contains(evs[0].Plan, "trail/main") {
		t.Errorf("ledger row: %+v", evs[0])
	}
	if c := h.tracker.comments("SEC-1"); len(c) != 1 || !strings.Contains(c[0], "Dry run") {
		t.Errorf("comments = %q", c)
	}
	// Turning dry run off later does not act on a ticket already dry-run.
	h.resp.Guard.DryRun = false
	h.clock.Add(time.Minute)
	h.tracker.Comment(context.Background(), "SEC-1", Message{Title: "someone comments"})
	h.poll()
	if h.action.count() != 0 {
		t.Error("a dry-run ticket was acted on after dry run was turned off")
	}
}

func TestProtectedPrincipalRefused(t *testing.T) {
	mallory := "arn:aws:iam::111122223333:user/mallory"
	tests := []struct {
		name      string
		principal string // the principal the action would change
		actor     string // the event's userIdentity.arn
		patterns  []string
	}{
		{"principal the action changes", "arn:aws:iam::111122223333:user/break-glass", mallory, []string{"arn:aws:iam::*:user/break-glass"}},
		{"principal that made the event", "", mallory, []string{"arn:aws:iam::111122223333:user/mal*"}},
		{"case and IAM path do not matter", "arn:aws:iam::111122223333:user/admins/Break-Glass", mallory, []string{"arn:aws:iam::*:user/break-glass"}},
		{"an assumed role session is its role", "", "arn:aws:sts::111122223333:assumed-role/OrganizationAccountAccessRole/ops", []string{"arn:aws:iam::*:role/OrganizationAccountAccessRole"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "auto")
			ev := stop(h.clock.Now().Add(-5*time.Minute), "main")
			ev.fields["userIdentity.arn"] = []string{tc.actor}
			h.search.add(ev)
			if _, err := h.detect(); err != nil {
				t.Fatal(err)
			}
			h.action.principal = tc.principal
			h.resp.Guard.ProtectedPrincipals = tc.patterns
			h.poll()
			if h.action.count() != 0 {
				t.Fatal("action ran against a protected principal")
			}
			if got := strings.Join(h.phases("SEC-1"), ","); got != "refused" {
				t.Errorf("phases = %s", got)
			}
			if c := h.tracker.comments("SEC-1"); len(c) != 1 || !strings.Contains(c[0], "refused") || !strings.Contains(c[0], "protected") {
				t.Errorf("comments = %q", c)
			}
			if h.stage("SEC-1") != state.StageFailed {
				t.Errorf("stage = %s", h.stage("SEC-1"))
			}
		})
	}
	// Not protected: a different user runs.
	h := newTicket(t, "auto", false)
	h.resp.Guard.ProtectedPrincipals = []string{"arn:aws:iam::*:user/break-glass"}
	h.action.principal = "arn:aws:iam::111122223333:user/break-glass-2"
	h.poll()
	if h.action.count() != 1 {
		t.Error("a principal that only shares a prefix was refused")
	}
}

func TestHourlyBudget(t *testing.T) {
	h := newHarness(t, "auto")
	h.resp.Guard.MaxPerHour = 1
	now := h.clock.Now()
	h.search.add(stop(now.Add(-5*time.Minute), "a"), stop(now.Add(-4*time.Minute), "b"))
	h.detect()
	h.poll()
	if h.action.count() != 1 {
		t.Fatalf("applied %d, want 1 within budget", h.action.count())
	}
	if h.stage("SEC-2") != state.StageDeferred {
		t.Fatalf("SEC-2 stage = %s, want deferred", h.stage("SEC-2"))
	}
	h.clock.Add(30 * time.Minute)
	h.poll()
	if h.action.count() != 1 {
		t.Fatal("budget exceeded")
	}
	if c := h.tracker.comments("SEC-2"); len(c) != 1 {
		t.Errorf("held-back comments = %d, want 1", len(c))
	}
	h.clock.Add(31 * time.Minute) // an hour after the first action
	h.poll()
	if h.action.count() != 2 || h.stage("SEC-2") != state.StageDone {
		t.Errorf("after the hour: applied %d, stage %s", h.action.count(), h.stage("SEC-2"))
	}
}

func TestActionNeverRunTwice(t *testing.T) {
	t.Run("crash while the action ran", func(t *testing.T) {
		h := newTicket(t, "auto", false)
		h.store.set("AppendAction:succeeded", errors.New("disk full"))
		h.resp.Poll(context.Background())
		h.store.set("AppendAction:succeeded", nil)
		h.clock.Add(time.Minute)
		h.tracker.Comment(context.Background(), "SEC-1", Message{Title: "poke"})
		h.poll()
		if h.action.count() != 1 {
			t.Fatalf("applied %d times", h.action.count())
		}
		// The fake action cannot read its target back: a person takes over.
		if got := strings.Join(h.phases("SEC-1"), ","); got != "planned,started,interrupted,failed" {
			t.Errorf("phases = %s", got)
		}
		if h.stage("SEC-1") != state.StageFailed {
			t.Errorf("stage = %s", h.stage("SEC-1"))
		}
	})
	t.Run("failed action is not retried", func(t *testing.T) {
		h := newTicket(t, "auto", false)
		h.action.applyErr = errors.New("AccessDenied: not authorized to perform cloudtrail:StartLogging")
		h.poll()
		h.action.applyErr = nil
		h.clock.Add(time.Minute)
		h.tracker.Comment(context.Background(), "SEC-1", Message{Title: "poke"})
		h.poll()
		if h.action.count() != 1 {
			t.Fatalf("applied %d times", h.action.count())
		}
		if c := strings.Join(h.tracker.comments("SEC-1"), "\n"); !strings.Contains(c, "FAILED: AccessDenied") {
			t.Errorf("comments = %q", c)
		}
	})
	t.Run("unverified action is a failure", func(t *testing.T) {
		h := newTicket(t, "auto", false)
		h.action.unverified = true
		h.poll()
		if got := strings.Join(h.phases("SEC-1"), ","); got != "planned,started,failed" {
			t.Errorf("phases = %s", got)
		}
		if tk := h.tracker.ticket("SEC-1"); len(tk.transitions) != 0 {
			t.Error("unverified action closed the ticket")
		}
	})
	t.Run("hand-off and poll race", func(t *testing.T) {
		h := newHarness(t, "auto")
		h.search.add(stop(h.clock.Now().Add(-5*time.Minute), "main"))
		h.detector.Handoff = func(ctx context.Context, tk Ticket) {
			done := make(chan struct{})
			go func() { h.resp.Poll(ctx); close(done) }()
			h.resp.Handoff(ctx, tk)
			<-done
		}
		h.detect()
		if h.action.count() != 1 {
			t.Errorf("applied %d times", h.action.count())
		}
	})
}

func TestEnrichmentOnceAndRouting(t *testing.T) {
	h := newTicket(t, "off", false)
	h.resp.Enrichers = []Enricher{fakeEnricher{name: "owner"}, fakeEnricher{name: "ip", err: errors.New("timeout")}}
	h.poll()
	h.clock.Add(time.Minute)
	h.poll()
	c := h.tracker.comments("SEC-1")
	if len(c) != 1 {
		t.Fatalf("comments = %q", c)
	}
	if !strings.Contains(c[0], "Account owner: alice@111122223333") || !strings.Contains(c[0], "ip: not available (timeout)") {
		t.Errorf("enrichment comment = %q", c[0])
	}
	if r := h.tracker.ticket("SEC-1").route; r.Assignee != "alice" {
		t.Errorf("route = %+v", r)
	}
	if h.stage("SEC-1") != state.StageDone {
		t.Errorf("mode off: stage = %s", h.stage("SEC-1"))
	}
}

func TestForeignTicketWithLabelIsHandled(t *testing.T) {
	h := newHarness(t, "auto")
	// A ticket made by another system, carrying patrol's labels and fields.
	tk, _ := h.tracker.Create(context.Background(), NewTicket{Summary: "from Splunk alert action", Labels: []string{"patrol", "patrol-det-ct-stop"}})
	h.tracker.tickets[tk.Key].Fields = Result{"recipientAccountId": {"111122223333"}, "awsRegion": {"eu-west-1"}, "requestParameters.name": {"org"}}
	h.resp.AutoForExternal = true
	h.poll()
	if h.action.count() != 1 || h.action.applied[0].Params["region"] != "eu-west-1" {
		t.Fatalf("applied: %+v", h.action.applied)
	}
}
