package poller

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// revertingAction is a fakeAction that can be undone.
type revertingAction struct {
	*fakeAction
	reverted []string
	err      error
}

func (a *revertingAction) Revert(ctx context.Context, p Plan, snapshot string) (Outcome, error) {
	a.reverted = append(a.reverted, snapshot)
	return Outcome{Detail: "logging state restored"}, a.err
}

func TestUndo(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, "auto")
	act := &revertingAction{fakeAction: h.action}
	h.resp.Actions["cloudtrail.start_logging"] = act
	h.search.add(stop(h.clock.Now().Add(-5*time.Minute), "main"))
	h.detect()
	h.poll()
	evs, _ := h.db.TicketActions(ctx, "SEC-1")
	succeeded := evs[len(evs)-1].ID

	if _, err := h.resp.Undo(ctx, evs[0].ID, "alice"); err == nil || !strings.Contains(err.Error(), "only a succeeded action") {
		t.Errorf("undo of a planned row: %v", err)
	}
	if _, err := h.resp.Undo(ctx, succeeded, "alice"); err != nil {
		t.Fatal(err)
	}
	if len(act.reverted) != 1 || act.reverted[0] != `{"IsLogging":false}` {
		t.Errorf("reverted with %v, want the stored snapshot", act.reverted)
	}
	if _, err := h.resp.Undo(ctx, succeeded, "bob"); err == nil || !strings.Contains(err.Error(), "already undone") {
		t.Errorf("second undo: %v", err)
	}
	if len(act.reverted) != 1 {
		t.Error("undo ran twice")
	}
	if got := strings.Join(h.phases("SEC-1"), ","); got != "planned,started,succeeded,revert_started,reverted" {
		t.Errorf("phases = %s", got)
	}
	c := h.tracker.comments("SEC-1")
	if !strings.Contains(c[len(c)-1], "undone at the request of alice") {
		t.Errorf("comments = %q", c)
	}
	if _, err := h.resp.Undo(ctx, 999, "alice"); err == nil {
		t.Error("undo of a missing action")
	}
}

func TestUndoFailureRecorded(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, "auto")
	act := &revertingAction{fakeAction: h.action, err: errors.New("AccessDenied")}
	h.resp.Actions["cloudtrail.start_logging"] = act
	h.search.add(stop(h.clock.Now().Add(-5*time.Minute), "main"))
	h.detect()
	h.poll()
	evs, _ := h.db.TicketActions(ctx, "SEC-1")
	if _, err := h.resp.Undo(ctx, evs[len(evs)-1].ID, "alice"); err == nil {
		t.Fatal("want the revert error")
	}
	if got := strings.Join(h.phases("SEC-1"), ","); !strings.HasSuffix(got, "revert_started,revert_failed") {
		t.Errorf("phases = %s", got)
	}
	if c := strings.Join(h.tracker.comments("SEC-1"), "\n"); !strings.Contains(c, "FAILED: AccessDenied") {
		t.Errorf("comments = %q", c)
	}
}
