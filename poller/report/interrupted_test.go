package report

import (
	"fmt"
	"reflect"
	"testing"
)

// TestInterruptedActions: actions patrol was stopped in the middle of, and
// how reading their target back resolved each (in place, sent after, handed
// to a person, still pending), in the outcomes, the audit trail and their
// own table; an undo that was refused leaves the change in place.
func TestInterruptedActions(t *testing.T) {
	s, path := newScenario(t)
	db := s.db
	ticket := func(n int) string {
		return s.alert("d-crit", fmt.Sprint("fp", n), 1, at(1, 9, n), at(1, 9, n), at(1, 9, n), result("111122223333", "", ""))
	}
	iam := "iam.disable_access_key"
	// Read back: in place.
	s.action(ticket(1), iam, "AKIA1", false, "planned", at(1, 10, 0), "started", at(1, 10, 0), "interrupted", at(1, 10, 5), "succeeded", at(1, 10, 6))
	// Read back: not in place.
	s.action(ticket(2), iam, "AKIA2", false, "planned", at(1, 11, 0), "started", at(1, 11, 0), "interrupted", at(1, 11, 5), "failed", at(1, 11, 6))
	// Read back: never sent, so sent once patrol was back.
	s.action(ticket(3), iam, "AKIA3", false, "planned", at(1, 12, 0), "started", at(1, 12, 0), "interrupted", at(1, 12, 5),
		"started", at(1, 12, 5), "succeeded", at(1, 12, 6))
	// Not read back yet.
	s.action(ticket(4), iam, "AKIA4", false, "planned", at(1, 13, 0), "started", at(1, 13, 0), "interrupted", at(1, 13, 5))
	// An action that cannot read its target back.
	s.action(ticket(5), "s3.block_public_access", "bucket-5", false, "planned", at(1, 14, 0), "started", at(1, 14, 0),
		"interrupted", at(1, 14, 5), "failed", at(1, 14, 5))
	// Not interrupted; its undo was refused.
	s.action(ticket(6), iam, "AKIA6", false, "planned", at(1, 15, 0), "started", at(1, 15, 0), "succeeded", at(1, 15, 1), "revert_refused", at(1, 16, 0))
	// Read back in place, then undone.
	s.action(ticket(7), iam, "AKIA7", false, "planned", at(1, 17, 0), "started", at(1, 17, 0), "interrupted", at(1, 17, 5), "succeeded", at(1, 17, 6),
		"revert_started", at(1, 18, 0), "reverted", at(1, 18, 0))
	db.Close()

	rep := buildReport(t, path, scenarioOptions())
	want := map[string][][]any{
		"interrupted_actions": {
			{at(1, 10, 0), "LOCAL-1", iam, "AKIA1", at(1, 10, 5), "verified in place", at(1, 10, 6), "succeeded", "succeeded detail"},
			{at(1, 11, 0), "LOCAL-2", iam, "AKIA2", at(1, 11, 5), "handed to a person", at(1, 11, 6), "failed", "failed detail"},
			{at(1, 12, 0), "LOCAL-3", iam, "AKIA3", at(1, 12, 5), "sent after the interruption", at(1, 12, 6), "succeeded", "succeeded detail"},
			{at(1, 13, 0), "LOCAL-4", iam, "AKIA4", at(1, 13, 5), "read-back pending", nil, "interrupted", "interrupted detail"},
			{at(1, 14, 0), "LOCAL-5", "s3.block_public_access", "bucket-5", at(1, 14, 5), "handed to a person", at(1, 14, 5), "failed", "failed detail"},
			{at(1, 17, 0), "LOCAL-7", iam, "AKIA7", at(1, 17, 5), "verified in place", at(1, 17, 6), "undone", "succeeded detail"},
		},
		"actions_by_kind": {
			{iam, 3, 1, 0, 0, 1, 1, 0, 6},
			{"s3.block_public_access", 0, 1, 0, 0, 0, 0, 0, 1},
			{"all actions", 3, 2, 0, 0, 1, 1, 0, 7},
		},
	}
	for name, rows := range want {
		if got := tableOf(t, rep, name).Rows; !reflect.DeepEqual(got, rows) {
			t.Errorf("%s:\ngot  %v\nwant %v", name, got, rows)
		}
	}
	var outcomes []any
	for _, r := range tableOf(t, rep, "audit_trail").Rows {
		outcomes = append(outcomes, r[5])
	}
	if want := []any{"succeeded (interrupted; verified in place)", "failed (interrupted; handed to a person)",
		"succeeded (interrupted; sent after the interruption)", "interrupted; read-back pending", "failed (interrupted; handed to a person)",
		"succeeded; undo refused", "undone (interrupted; verified in place)"}; !reflect.DeepEqual(outcomes, want) {
		t.Errorf("audit trail outcomes:\ngot  %q\nwant %q", outcomes, want)
	}
	if tile := rep.Tiles[4]; tile.Value != "3" || tile.Note != "2 failed · 0 refused · 1 interrupted" {
		t.Errorf("failed tile: %+v", tile)
	}
}
