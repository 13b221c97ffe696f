package poller_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/state"
)

// TestInterruptedActionReadBack: patrol stopped (a signal, the run's time
// limit) while AWS applied the change. The attempt is recorded as
// interrupted, never run again; the next pass reads the target back and
// records and comments what it finds; an applied change can be undone.
func TestInterruptedActionReadBack(t *testing.T) {
	tests := []struct {
		name string
		// interrupt stops the pass inside Apply; applied says whether the
		// change was made before it did.
		applied bool
		// killed: the process died (no outcome row at all), not a clean stop.
		killed bool
		want   string // phases
		stage  string
		says   string
	}{
		{name: "stopped after the change", applied: true, want: "planned,started,interrupted,succeeded", stage: state.StageDone, says: "shows the change in place"},
		{name: "stopped before the change", applied: false, want: "planned,started,interrupted,failed", stage: state.StageFailed, says: "NOT in place"},
		{name: "killed after the change", applied: true, killed: true, want: "planned,started,interrupted,succeeded", stage: state.StageDone, says: "shows the change in place"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			rev := &reverter{keyAction: e.action}
			e.resp.Actions["iam.disable_access_key"] = rev
			key := e.ownTicket()
			e.approve(key)
			ctx, cancel := context.WithCancel(context.Background())
			e.action.onApply = func(ctx context.Context) error {
				if !tt.applied {
					e.action.disabled = nil // the write never reached AWS
				}
				cancel()
				return ctx.Err()
			}
			if tt.killed {
				// kill -9 inside the call: nothing after Apply runs.
				e.action.onApply = func(context.Context) error { panic("killed") }
				func() {
					defer func() { recover() }()
					e.resp.Poll(ctx)
				}()
				cancel()
			} else {
				e.resp.Poll(ctx)
			}
			e.action.onApply = nil
			if got := e.phases(key); !strings.HasPrefix(got, "planned,started") || strings.Contains(got, "failed") {
				t.Fatalf("after the stop: phases %s", got)
			}
			if e.stage(key) != state.StageVerify {
				t.Fatalf("stage %s, want verify", e.stage(key))
			}
			e.clock.Add(time.Minute)
			if err := e.poll(); err != nil {
				t.Fatal(err)
			}
			e.clock.Add(time.Minute)
			e.poll()
			if got := e.phases(key); got != tt.want || e.stage(key) != tt.stage {
				t.Fatalf("after the read-back: phases %s, stage %s; want %s, %s", got, e.stage(key), tt.want, tt.stage)
			}
			if len(e.action.keys()) != 1 {
				t.Errorf("applied %d times, want once", len(e.action.keys()))
			}
			if e.count(key, tt.says) != 1 {
				t.Errorf("comments = %q", e.comments(key))
			}
			if tt.stage != state.StageDone {
				return
			}
			if is, _ := e.jira.Issue(key); is.Status != "Done" {
				t.Errorf("status = %s", is.Status)
			}
			evs, _ := e.db.TicketActions(context.Background(), key)
			_, err := e.resp.Undo(context.Background(), evs[len(evs)-1].ID, "alice")
			if tt.killed {
				// The kill came before the snapshot reached the ledger.
				if err == nil || !strings.Contains(err.Error(), "no snapshot") {
					t.Errorf("undo without a snapshot: %v", err)
				}
				return
			}
			if err != nil || rev.reverts != 1 {
				t.Errorf("undo of the read-back success: %v (reverts %d)", err, rev.reverts)
			}
		})
	}
}

var _ poller.Checker = (*keyAction)(nil)

// marking is keyAction as the AWS actions are: it marks its send (with the
// snapshot) right before the write, and can be killed (a panic: nothing
// after it runs) at a point.
type marking struct {
	*reverter
	killAt string // "connecting", "sent", "written"
}

func (a *marking) MarksSends() bool { return true }

func (a *marking) Apply(ctx context.Context, p poller.Plan) (poller.Outcome, error) {
	if a.killAt == "connecting" {
		panic("killed while connecting")
	}
	if err := poller.Sending(ctx, `{"status":"Active"}`); err != nil {
		return poller.Outcome{}, err
	}
	if a.killAt == "sent" {
		panic("killed after the write was sent, before AWS made it")
	}
	out, err := a.keyAction.Apply(ctx, p)
	if a.killAt == "written" {
		panic("killed after AWS made the change")
	}
	return out, err
}

// TestInterruptedBeforeTheChangeWasSent: an action that marks its sends
// and is killed before its write went out (connecting, snapshotting) is
// known to have changed nothing: the next pass applies it, once, and the
// ticket closes without a person — unless a person put a hold on it
// meanwhile. Killed after the mark, the read-back decides: in place, done
// and undoable from the snapshot recorded with the mark; not in place, a
// person takes over.
func TestInterruptedBeforeTheChangeWasSent(t *testing.T) {
	tests := []struct {
		killAt  string
		hold    bool // the hold label added before patrol is back
		applied int  // writes that reached "AWS" in all
		want    string
		stage   string
		says    string
	}{
		{killAt: "connecting", applied: 1, want: "planned,started,interrupted,succeeded", stage: state.StageDone, says: "done and verified"},
		{killAt: "connecting", hold: true, applied: 0, want: "planned,started,interrupted,failed", stage: state.StageFailed, says: "It is not sent now, because the hold label"},
		{killAt: "sent", applied: 0, want: "planned,started,interrupted,failed", stage: state.StageFailed, says: "NOT in place"},
		{killAt: "written", applied: 1, want: "planned,started,interrupted,succeeded", stage: state.StageDone, says: "shows the change in place"},
	}
	for _, tt := range tests {
		name := "killed " + tt.killAt
		if tt.hold {
			name += ", then held"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			act := &marking{reverter: &reverter{keyAction: e.action}, killAt: tt.killAt}
			e.resp.Actions["iam.disable_access_key"] = act
			key := e.ownTicket()
			e.approve(key)
			func() {
				defer func() { recover() }()
				e.resp.Poll(context.Background())
			}()
			act.killAt = ""
			if tt.hold {
				e.jira.AddLabel(key, poller.DefaultHoldLabel, approver)
			}
			for i := 0; i < 2; i++ {
				e.clock.Add(time.Minute)
				if err := e.poll(); err != nil {
					t.Fatal(err)
				}
			}
			if got := e.phases(key); got != tt.want || e.stage(key) != tt.stage {
				t.Fatalf("phases %s, stage %s; want %s, %s", got, e.stage(key), tt.want, tt.stage)
			}
			if n := len(e.action.keys()); n != tt.applied {
				t.Errorf("applied %d times, want %d", n, tt.applied)
			}
			if e.count(key, tt.says) != 1 {
				t.Errorf("comments = %q", e.comments(key))
			}
			if tt.stage != state.StageDone {
				return
			}
			evs, _ := e.db.TicketActions(context.Background(), key)
			if _, err := e.resp.Undo(context.Background(), evs[len(evs)-1].ID, "alice"); err != nil || act.reverts != 1 {
				t.Errorf("undo: %v (reverts %d)", err, act.reverts)
			}
		})
	}
}
