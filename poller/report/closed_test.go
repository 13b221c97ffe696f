package report

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/patrolsec/patrol/state"
)

// TestApprovalOfClosedTicket: an approve label added while the ticket was
// closed approved nothing (the respond job cancels a closed ticket's
// remediation), so the row says so and no approval is counted; after a
// reopen, a fresh label counts as usual.
func TestApprovalOfClosedTicket(t *testing.T) {
	s, path := newScenario(t)
	db := s.db
	ticket := func(n int) string {
		key := s.alert("d-crit", fmt.Sprint("fp", n), 1, at(1, 9, n), at(1, 9, n), at(1, 9, n), result("111122223333", "", ""))
		s.plan(key, at(1, 9, 10+n), state.StageApproval)
		return key
	}
	closeAt := func(key, status string, when time.Time) {
		s.now = when
		s.must(db.LocalTransition(s.ctx, key, status, "bob"))
	}
	// Closed (then moved to another done status), approved afterwards.
	closed := ticket(1)
	closeAt(closed, "Done", at(1, 10, 0))
	closeAt(closed, "Closed", at(1, 10, 5))
	s.label(closed, "alice", at(1, 10, 30))
	// Closed, approved while closed, reopened, approved again.
	reopened := ticket(2)
	closeAt(reopened, "Done", at(1, 11, 0))
	s.label(reopened, "alice", at(1, 11, 10))
	closeAt(reopened, "Open", at(1, 12, 0))
	s.label(reopened, "carol", at(1, 12, 30))
	db.Close()

	rep := buildReport(t, path, scenarioOptions())
	iam := "iam.disable_access_key"
	want := map[string][][]any{
		"approvals": {
			{closed, "d-crit", iam, at(1, 9, 11), "ticket closed: not run", "alice", at(1, 10, 30), mins(49), viaLabel},
			{reopened, "d-crit", iam, at(1, 9, 12), "approved", "carol", at(1, 12, 30), mins(198), viaLabel},
		},
		"approvers": {
			{"carol", 1, mins(198), mins(198)},
		},
	}
	for name, rows := range want {
		if got := tableOf(t, rep, name).Rows; !reflect.DeepEqual(got, rows) {
			t.Errorf("%s:\ngot  %v\nwant %v", name, got, rows)
		}
	}
	if tile := rep.Tiles[5]; tile.Label != "Approvals" || tile.Value != "1" {
		t.Errorf("approvals tile: %+v", tile)
	}
	if s := rep.Sections[sectionIndex(t, rep, "approvals")]; len(s.Notes) != 1 || s.Notes[0] != "The approve label was added while the ticket was closed, which approved nothing (patrol cancels the remediation of a closed ticket instead of running it): "+closed+"." {
		t.Errorf("approvals notes: %q", s.Notes)
	}
}

func sectionIndex(t *testing.T, rep *Report, id string) int {
	t.Helper()
	for i, s := range rep.Sections {
		if s.ID == id {
			return i
		}
	}
	t.Fatalf("no section %s", id)
	return -1
}
