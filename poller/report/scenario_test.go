package report

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/state"
)

// The span of the scenario: one week of November 2026.
var (
	spanFrom = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	spanTo   = time.Date(2026, 11, 9, 0, 0, 0, 0, time.UTC)
)

// at is hh:mm on day n of the span (day 1 is 2 Nov).
func at(n, hh, mm int) time.Time {
	return spanFrom.AddDate(0, 0, n-1).Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
}

func scenarioOptions() Options {
	return Options{From: spanFrom, To: spanTo, Now: spanTo, ApproveLabel: "patrol-approve", Approvers: []string{"alice", "carol"},
		DoneStatuses: []string{"Done"}, Source: "test.db",
		Detections: []Detection{
			{ID: "d-crit", Title: "Key leaked", Severity: "critical", Action: "iam.disable_access_key", Mode: "approve", Kind: KindSearch},
			{ID: "d-high", Title: "Group opened", Severity: "high", Action: "ec2.revoke_open_ingress", Mode: "auto", Kind: KindSearch},
			{ID: "d-low", Title: "Odd login", Severity: "low", Kind: KindFirstSeen},
			{ID: "d-seq", Title: "Key leaked, then used", Severity: "high", Kind: KindSequence},
		}}
}

// builder writes the scenario through the state package's own API, with
// a clock the test moves.
type scenario struct {
	t   *testing.T
	db  *state.DB
	now time.Time
	ctx context.Context
}

func (s *scenario) must(err error) {
	s.t.Helper()
	if err != nil {
		s.t.Fatal(err)
	}
}

func result(account, principal, source string) string {
	b, _ := json.Marshal(map[string][]string{"recipientAccountId": {account}, "userIdentity.arn": {principal}, "sourceIPAddress": {source}})
	return string(b)
}

// alert records an alert first seen at first, raised at raised, and (when
// ticketAt is not zero) its local ticket made at ticketAt.
func (s *scenario) alert(det, fp string, count int, first, raised, ticketAt time.Time, res string) string {
	s.t.Helper()
	s.now = raised
	a, err := s.db.CreatePendingAlert(s.ctx, state.Alert{Detection: det, Fingerprint: fp, FirstSeen: first, LastSeen: first, Count: count,
		WindowStart: first, WindowCount: count, Result: res})
	s.must(err)
	if ticketAt.IsZero() {
		return ""
	}
	s.now = ticketAt
	lt, err := s.db.LocalCreate(s.ctx, "LOCAL", state.LocalTicket{Summary: det, Status: "Open", Labels: []string{"patrol"}})
	s.must(err)
	s.must(s.db.OpenAlert(s.ctx, a.ID, state.TicketRow{Key: lt.Key, ID: lt.Key, Detection: det, Fingerprint: fp, Status: "Open"}, nil))
	return lt.Key
}

// selfAlert records a self-alert about problem, ticketed as key at when,
// as poller.Health records one: an alert of detection "patrol" whose
// result names the problem.
func (s *scenario) selfAlert(key, problem string, when time.Time) {
	s.t.Helper()
	s.now = when
	res, _ := json.Marshal(map[string][]string{"problem": {problem}})
	a, err := s.db.CreatePendingAlert(s.ctx, state.Alert{Detection: poller.SelfDetection, Fingerprint: "self-" + problem, FirstSeen: when, LastSeen: when,
		Count: 1, WindowStart: when, WindowCount: 1, Result: string(res)})
	s.must(err)
	s.must(s.db.OpenAlert(s.ctx, a.ID, state.TicketRow{Key: key, ID: key, Detection: poller.SelfDetection, Fingerprint: "self-" + problem,
		Labels: []string{"patrol", poller.SelfLabel}, Stage: state.StageDone}, nil))
}

// action appends ledger rows of one attempt, each at its time.
func (s *scenario) action(key, action, target string, dry bool, rows ...any) {
	s.t.Helper()
	for i := 0; i < len(rows); i += 2 {
		_, err := s.db.AppendAction(s.ctx, state.ActionEvent{Attempt: key + "|" + action + "|" + target, TicketKey: key, Action: action,
			Target: target, DryRun: dry, Phase: rows[i].(string), Detail: rows[i].(string) + " detail", At: rows[i+1].(time.Time)})
		s.must(err)
	}
}

func (s *scenario) plan(key string, when time.Time, stage string) {
	s.t.Helper()
	s.now = when
	s.must(s.db.UpdateTicket(s.ctx, key, state.TicketUpdate{PlannedAt: &when, Stage: &stage}))
}

func (s *scenario) label(key, by string, when time.Time) {
	s.t.Helper()
	s.now = when
	s.must(s.db.LocalAddLabel(s.ctx, key, "patrol-approve", by))
}

func (s *scenario) run(job, det string, started, windowEnd, finished time.Time, results int, errText string) {
	s.t.Helper()
	s.now = started
	id, err := s.db.StartRun(s.ctx, state.Run{Job: job, Detection: det, WindowEnd: windowEnd})
	s.must(err)
	if finished.IsZero() {
		return
	}
	s.now = finished
	s.must(s.db.FinishRun(state.Run{ID: id, Job: job, Detection: det, WindowEnd: windowEnd, Results: results, Error: errText}))
}

// cancelled records a run stopped by a clean shutdown or a reload.
func (s *scenario) cancelled(det string, started, windowEnd, finished time.Time) {
	s.t.Helper()
	s.now = started
	id, err := s.db.StartRun(s.ctx, state.Run{Job: "detect", Detection: det, WindowEnd: windowEnd})
	s.must(err)
	s.now = finished
	s.must(s.db.FinishRun(state.Run{ID: id, Job: "detect", Detection: det, WindowEnd: windowEnd, Error: "cancelled: patrol is stopping", Cancelled: true}))
}

// skip records a scheduled run skipped because the previous one was still going.
func (s *scenario) skip(det string, when time.Time) {
	s.t.Helper()
	s.now = when
	_, err := s.db.RecordSkip(s.ctx, det)
	s.must(err)
}

// dead queues a delivery at queued that fails once, then for good at failed.
func (s *scenario) dead(key, kind, errText string, queued, failed time.Time) {
	s.t.Helper()
	s.now = queued
	s.must(s.db.EnqueueDeliveries(s.ctx, state.Delivery{TicketKey: key, Kind: kind, Payload: "{}"}))
	items, err := s.db.PendingOutbox(s.ctx, 100)
	s.must(err)
	id := items[len(items)-1].ID
	s.must(s.db.OutboxFailed(s.ctx, id, "503 Service Unavailable"))
	s.now = failed
	s.must(s.db.OutboxDead(s.ctx, id, errText))
}

func (s *scenario) upsert(row state.TicketRow, created time.Time) {
	s.t.Helper()
	s.now = created
	s.must(s.db.UpsertTicket(s.ctx, row))
}

// newScenario opens a new state file whose clock is the scenario's, and
// returns the scenario and the file's path; the caller closes s.db.
func newScenario(t *testing.T) (*scenario, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "patrol.db")
	s := &scenario{t: t, ctx: context.Background()}
	db, err := state.Open(path, func() time.Time { return s.now })
	if err != nil {
		t.Fatal(err)
	}
	s.db = db
	return s, path
}

// buildScenario writes a state file whose every figure is worked out by
// hand in the tests, and returns its path.
func buildScenario(t *testing.T) string {
	t.Helper()
	s, path := newScenario(t)
	db := s.db
	defer db.Close()
	mallory, bob := "arn:aws:iam::111122223333:user/mallory", "arn:aws:iam::111122223333:user/bob"

	// Before the span: an alert and an action that no figure counts.
	s.alert("d-crit", "fp-old", 1, at(0, 1, 0), at(0, 1, 5), time.Time{}, result("999", mallory, "192.0.2.1"))
	s.upsert(state.TicketRow{Key: "SEC-0", ID: "1", Detection: "d-crit", Status: "Open"}, at(0, 2, 0))
	s.action("SEC-0", "iam.disable_access_key", "old", false, "planned", at(0, 2, 1), "started", at(0, 2, 1), "succeeded", at(0, 2, 2))
	s.run("detect", "d-crit", at(0, 3, 0), at(0, 2, 58), at(0, 3, 1), 0, "")
	s.skip("d-crit", at(0, 3, 0))

	// LOCAL-1: critical, approve mode; bob (not an approver) labels it, alice approves after 60m; remediated.
	k1 := s.alert("d-crit", "fp1", 3, at(1, 10, 0), at(1, 10, 5), at(1, 10, 6), result("111122223333", mallory, "192.0.2.66"))
	s.plan(k1, at(1, 10, 10), state.StageApproval)
	s.label(k1, "bob", at(1, 10, 20))
	s.label(k1, "alice", at(1, 11, 10))
	s.action(k1, "iam.disable_access_key", "AKIA1", false, "planned", at(1, 11, 11), "started", at(1, 11, 11), "succeeded", at(1, 11, 12))
	// LOCAL-2: critical; carol approves after 20m; the action fails; closed 3h after the ticket.
	k2 := s.alert("d-crit", "fp2", 1, at(2, 9, 0), at(2, 9, 20), at(2, 9, 30), result("111122223333", mallory, "192.0.2.66"))
	s.plan(k2, at(2, 9, 31), state.StageApproval)
	s.label(k2, "carol", at(2, 9, 51))
	s.action(k2, "iam.disable_access_key", "AKIA2", false, "planned", at(2, 9, 52), "started", at(2, 9, 52), "failed", at(2, 9, 53))
	s.now = at(2, 12, 30)
	s.must(s.db.LocalTransition(s.ctx, k2, "Done", "dave"))
	// LOCAL-3: high, auto, dry run; never closed.
	k3 := s.alert("d-high", "fp3", 1, at(2, 11, 0), at(2, 11, 1), at(2, 11, 2), result("222233334444", bob, "198.51.100.7"))
	s.action(k3, "ec2.revoke_open_ingress", "sg-3", true, "planned", at(2, 11, 3))
	// LOCAL-4: high, refused by a guardrail; closed 2h after the ticket.
	k4 := s.alert("d-high", "fp4", 1, at(3, 0, 0), at(3, 0, 59), at(3, 1, 0), result("111122223333", bob, "203.0.113.5"))
	s.action(k4, "ec2.revoke_open_ingress", "sg-4", false, "refused", at(3, 1, 1))
	s.now = at(3, 3, 0)
	s.must(s.db.LocalTransition(s.ctx, k4, "Closed", "dave"))
	// A low alert whose ticket was never made, and one of a detection no longer loaded.
	s.alert("d-low", "fp5", 1, at(4, 12, 0), at(4, 12, 1), time.Time{}, result("333344445555", "", ""))
	k5 := s.alert("gone-det", "fp6", 1, at(4, 13, 0), at(4, 13, 5), at(4, 13, 10), result("444455556666", "", "192.0.2.66"))
	// LOCAL-5: remediated 10m after its ticket, then undone.
	s.action(k5, "s3.block_public_access", "bucket", false, "planned", at(4, 13, 19), "started", at(4, 13, 19), "succeeded", at(4, 13, 20),
		"revert_started", at(4, 14, 0), "reverted", at(4, 14, 0))
	// LOCAL-6: a ticket from elsewhere waiting for approval since day 5 08:05.
	s.now = at(5, 8, 0)
	lt, err := db.LocalCreate(s.ctx, "LOCAL", state.LocalTicket{Summary: "outside", Status: "Open"})
	s.must(err)
	s.upsert(state.TicketRow{Key: lt.Key, ID: lt.Key, Detection: "d-crit", Status: "Open"}, at(5, 8, 0))
	s.plan(lt.Key, at(5, 8, 5), state.StageApproval)
	// SEC-9: a Jira ticket: approved (the ledger shows the dry run 35m after the plan), closed at 10:30.
	s.upsert(state.TicketRow{Key: "SEC-9", ID: "9", Detection: "d-high", Status: "Open"}, at(5, 9, 0))
	s.plan("SEC-9", at(5, 9, 5), state.StageApproval)
	s.action("SEC-9", "ec2.revoke_open_ingress", "sg-9", true, "planned", at(5, 9, 40))
	s.upsert(state.TicketRow{Key: "SEC-9", ID: "9", Status: "Done"}, at(5, 10, 31))
	seen, done := at(5, 10, 30), state.StageDone
	s.must(db.UpdateTicket(s.ctx, "SEC-9", state.TicketUpdate{UpdatedSeen: &seen, Stage: &done}))
	// LOCAL-7: held back by the hourly budget.
	s.now = at(6, 10, 0)
	lt7, err := db.LocalCreate(s.ctx, "LOCAL", state.LocalTicket{Summary: "held", Status: "Open"})
	s.must(err)
	s.upsert(state.TicketRow{Key: lt7.Key, ID: lt7.Key, Detection: "d-high", Status: "Open"}, at(6, 10, 0))
	deferred, note := state.StageDeferred, "Remediation held back: the hourly budget of 20 actions is used up."
	s.must(db.UpdateTicket(s.ctx, lt7.Key, state.TicketUpdate{Stage: &deferred, Note: &note}))
	// Deliveries that failed for good: one before the span, two in it (one
	// queued before it).
	s.dead("SEC-0", state.DeliverNotify, "channel_not_found", at(0, 2, 0), at(0, 2, 5))
	s.dead(k2, state.DeliverComment, "400 Bad Request: comment body too long", at(2, 9, 53), at(2, 9, 54))
	s.dead("SEC-9", state.DeliverTransition, "400 Bad Request: no transition \"Done\"", at(0, 23, 0), at(5, 10, 0))
	// Self-alerts: d-low's source went quiet; the respond job failed.
	s.selfAlert("SEC-10", "stale:d-low", at(6, 12, 0))
	s.selfAlert("SEC-11", "failing:respond", at(6, 13, 0))

	// Runs: d-crit ok (lag 2m30s), failed (lag 3m), unfinished (and two runs
	// skipped behind it); d-high ok, then cancelled by a reload (its time and
	// lag not counted); two respond runs.
	s.run("detect", "d-crit", at(1, 10, 0), at(1, 9, 58), at(1, 10, 0).Add(30*time.Second), 3, "")
	s.run("detect", "d-crit", at(2, 9, 0), at(2, 8, 58), at(2, 9, 1), 0, "splunk: 503")
	s.run("detect", "d-crit", at(3, 0, 0), at(2, 23, 58), time.Time{}, 0, "")
	s.skip("d-crit", at(3, 0, 5))
	s.skip("d-crit", at(3, 0, 10))
	s.run("detect", "d-high", at(2, 11, 0), at(2, 10, 58), at(2, 11, 0).Add(10*time.Second), 1, "")
	s.cancelled("d-high", at(3, 5, 0), at(3, 0, 0), at(3, 5, 1))
	s.run("respond", "", at(2, 11, 1), time.Time{}, at(2, 11, 1).Add(2*time.Second), 1, "")
	s.run("respond", "", at(2, 11, 2), time.Time{}, at(2, 11, 2).Add(4*time.Second), 1, "")
	s.now = at(7, 0, 0)
	s.must(db.CompleteWindow(s.ctx, "d-crit", at(7, 23, 0)))
	return path
}
