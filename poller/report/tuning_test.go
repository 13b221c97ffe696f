package report

import (
	"reflect"
	"testing"
	"time"

	"github.com/patrolsec/patrol/state"
)

// TestTuningSections: the exceptions and silences with what they muted in
// the span, what shadow detections would have done, true and false
// positives, and every reason an action is held back; shadow and silenced
// alerts are not counted as alerts.
func TestTuningSections(t *testing.T) {
	s, path := newScenario(t)
	db := s.db
	before := spanFrom.Add(-24 * time.Hour)
	s.now = at(1, 10, 0)
	_, err := db.RecordWindow(s.ctx, state.WindowChange{
		New: []state.Alert{
			{Detection: "d-high", Fingerprint: "s1", FirstSeen: at(1, 9, 0), LastSeen: at(1, 9, 30), Count: 3, State: state.AlertSilenced, SilenceID: "maint", Result: "{}"},
			{Detection: "d-high", Fingerprint: "s2", FirstSeen: at(1, 9, 5), LastSeen: at(1, 9, 5), Count: 1, State: state.AlertSilenced, SilenceID: "gone", Result: "{}"},
			{Detection: "d-new", Fingerprint: "w1", FirstSeen: at(1, 8, 0), LastSeen: at(1, 8, 0), Count: 2, State: state.AlertShadow, Result: "{}",
				Would: `{"summary":"Key AKIA1 used","severity":"high","route":{"Team":"payments"},"remediation":{"action":"iam.disable_access_key","mode":"auto","dry_run":true,"plan":{"target":"AKIA1"}}}`},
		},
		Excepted: []state.ExceptionCount{
			{Detection: "d-crit", Exception: "exc-a", WindowStart: at(1, 0, 0), Count: 4, First: at(1, 1, 0), Last: at(1, 2, 0)},
			{Detection: "d-crit", Exception: "exc-b", WindowStart: at(1, 0, 0), Count: 2, First: at(1, 1, 0), Last: at(1, 2, 0)},
			{Detection: "d-crit", Exception: "exc-a", WindowStart: before, Count: 9, First: before, Last: before}, // before the span
		},
	})
	s.must(err)
	for _, v := range []state.Verdict{
		{TicketKey: "LOCAL-1", Detection: "d-crit", Resolution: "False Positive", FalsePositive: true, At: at(2, 9, 0)},
		{TicketKey: "LOCAL-2", Detection: "d-crit", Resolution: "Done", At: at(3, 9, 0)},
		{TicketKey: "LOCAL-3", Detection: "d-high", Resolution: "Done", At: before},
	} {
		_, err := db.Record(s.ctx, state.Change{Ticket: v.TicketKey, Verdict: &v})
		s.must(err)
	}
	held := func(key, stage, note string, when time.Time, u state.TicketUpdate) {
		s.upsert(state.TicketRow{Key: key, ID: key, Detection: "d-crit", Stage: stage}, when)
		u.Note = &note
		s.must(db.UpdateTicket(s.ctx, key, u))
	}
	until := at(4, 12, 0)
	held("SEC-1", state.StageDeferred, "Remediation held back: the hourly budget of 20 actions is used up.", at(4, 9, 0), state.TicketUpdate{})
	held("SEC-2", state.StageDeferred, "Remediation held: the circuit breaker is open (3 actions failed in a row).", at(4, 9, 0), state.TicketUpdate{})
	held("SEC-3", state.StageGrace, "automatic remediation runs at ...", at(4, 9, 0), state.TicketUpdate{GraceUntil: &until})
	// The hold label, as the respond job records it when it first sees it:
	// who added it, and when it was seen (poller.LastHold reads that).
	by, addedAt, seenAt := "bob", at(4, 9, 30), at(4, 9, 31)
	held("SEC-4", state.StageApproval, `Remediation held: the label "patrol-hold" is on this ticket`, at(4, 9, 0), state.TicketUpdate{HeldBy: &by, HeldAt: &addedAt})
	_, err = db.Record(s.ctx, state.Change{Ticket: "SEC-4", Meta: map[string]string{"hold_seen:SEC-4": seenAt.Format(time.RFC3339Nano)}})
	s.must(err)
	held("SEC-5", state.StageApproval, "Remediation waits for approval.", at(4, 9, 0), state.TicketUpdate{})
	// Hold clicked in the chat: on a plan waiting for approval, on one
	// deferred by the budget, and on one approved again after the hold.
	click := func(key, kind, by string, when time.Time) {
		_, err := db.Record(s.ctx, state.Change{Ticket: key, ChatAction: &state.ChatAction{Digest: "d1", Kind: kind, Via: "slack", By: by, At: when}})
		s.must(err)
	}
	held("SEC-6", state.StageApproval, "Remediation waits for approval.", at(4, 9, 0), state.TicketUpdate{})
	click("SEC-6", state.ChatHold, "carol", at(4, 10, 0))
	held("SEC-7", state.StageDeferred, "Remediation held back: the hourly budget of 20 actions is used up.", at(4, 9, 0), state.TicketUpdate{})
	click("SEC-7", state.ChatHold, "alice", at(4, 10, 0))
	held("SEC-8", state.StageApproval, "Remediation waits for approval.", at(4, 9, 0), state.TicketUpdate{})
	click("SEC-8", state.ChatHold, "alice", at(4, 10, 0))
	click("SEC-8", state.ChatApprove, "carol", at(4, 10, 5))
	_, err = db.Record(s.ctx, state.Change{Ticket: "SEC-8", Approval: &state.Approval{TicketKey: "SEC-8", Digest: "d1", By: "carol", At: at(4, 10, 5), Via: "slack"}})
	s.must(err)
	db.Close()

	opt := scenarioOptions()
	opt.Exceptions = []Exception{
		{Detection: "d-crit", Key: "exc-a", Match: "sourceIPAddress=198.51.100.0/24", Reason: "scanner", Owner: "alice", Expires: spanTo.Add(24 * time.Hour)},
		{Detection: "d-low", Key: "exc-c", Match: "user=svc", Reason: "service", Owner: "carol", Expires: at(3, 0, 0)},
	}
	opt.Silences = []Silence{
		{ID: "maint", Detections: "d-*", Owner: "dan", Reason: "change", Starts: at(1, 0, 0), Expires: at(2, 0, 0)},
		{ID: "next", Detections: "d-high", Owner: "eve", Reason: "later", Starts: spanTo.Add(time.Hour), Expires: spanTo.Add(2 * time.Hour)},
	}
	opt.Shadow = []string{"d-new"}
	rep := buildReport(t, path, opt)
	want := map[string][][]any{
		"exceptions": {
			{"d-crit", "sourceIPAddress=198.51.100.0/24", "scanner", "alice", spanTo.Add(24 * time.Hour), "in force", 4},
			{"d-low", "user=svc", "service", "carol", at(3, 0, 0), "expired", 0},
			{"d-crit", "exc-b", "", "", nil, "removed", 2},
		},
		"silences": {
			{"maint", "d-*", "", at(1, 0, 0), at(2, 0, 0), "expired", "dan", "change", 1, 3},
			{"next", "d-high", "", spanTo.Add(time.Hour), spanTo.Add(2 * time.Hour), "future", "eve", "later", 0, 0},
			{"gone", "", "", nil, nil, "removed", "", "", 1, 1},
		},
		"shadow_alerts": {
			{"d-new", at(1, 8, 0), 2, "Key AKIA1 used", "payments", "iam.disable_access_key (auto) on AKIA1"},
		},
		"verdicts": {
			{"d-crit", 1, 1, "50%"},
			{"all detections", 1, 1, "50%"},
		},
	}
	for name, rows := range want {
		if got := tableOf(t, rep, name).Rows; !reflect.DeepEqual(got, rows) {
			t.Errorf("%s:\ngot  %v\nwant %v", name, got, rows)
		}
	}
	reasons := map[string]string{}
	for _, r := range tableOf(t, rep, "held_actions").Rows {
		reasons[r[0].(string)] = r[3].(string)
	}
	if !reflect.DeepEqual(reasons, map[string]string{"SEC-1": "hourly budget", "SEC-2": "circuit breaker",
		"SEC-3": "grace period, runs at 2026-11-05 12:00", "SEC-4": "hold label, added by bob",
		"SEC-6": "hold, clicked in the chat by carol", "SEC-7": "hold, clicked in the chat by alice"}) {
		t.Errorf("held reasons %v", reasons)
	}
	if rows := tableOf(t, rep, "alerts_by_detection").Rows; len(rows) != 0 {
		t.Errorf("shadow or silenced alerts counted as alerts: %v", rows)
	}
}
