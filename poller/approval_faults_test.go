package poller_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/state"
)

// TestApprovalBindsToPlan: an approval counts only for the plan an
// approver could have read (the digest on the ticket, posted before the
// label was added), and only while the plan re-derived at run time is the
// same. What can change a plan under an approval (an edit of a ticket's
// fields, a detection reloaded with other params) never makes patrol act on
// a target no approver saw.
func TestApprovalBindsToPlan(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, e *env, key string)
		// want: the keys disabled, in order.
		want []string
	}{
		{
			name: "fields edited by a non-approver after the plan: the plan shown runs",
			run: func(t *testing.T, e *env, key string) {
				e.clock.Add(time.Minute)
				e.jira.SetField(key, "customfield_10002", "bob", "mallory")
				e.jira.SetField(key, "customfield_10003", "AKIABOB0000000000002", "mallory")
				e.clock.Add(time.Minute)
				e.poll() // the edit is reported, not followed
				e.clock.Add(time.Minute)
				e.jira.AddLabel(key, "patrol-approve", approver)
				e.poll()
				if n := e.count(key, "Fields edited"); n != 1 {
					t.Errorf("edit reported %d times, want once: %q", n, e.comments(key))
				}
			},
			want: []string{"AKIAALICE00000000001"},
		},
		{
			name: "detection reloaded with other params: the approval is void, the new plan needs a new one",
			run: func(t *testing.T, e *env, key string) {
				e.clock.Add(time.Minute)
				e.jira.AddLabel(key, "patrol-approve", approver)
				// Before the next pass the detection is reloaded: its key
				// param now comes from another field (B's key).
				d := loadDetection(t, strings.Replace(detectionTOML("approve", "1h"), `key = "{userIdentity.accessKeyId}"`, `key = "AKIABOB0000000000002"`, 1))
				e.det = d
				e.clock.Add(time.Minute)
				e.poll()
				if len(e.action.keys()) != 0 {
					t.Fatalf("the old approval ran the changed plan: %v", e.action.keys())
				}
				c := strings.Join(e.comments(key), "\n")
				if !strings.Contains(c, "The plan changed since it was posted") || !strings.Contains(c, "AKIABOB0000000000002") {
					t.Fatalf("the new plan was not posted: %q", c)
				}
				e.clock.Add(time.Minute)
				e.poll() // the label is still there: it predates the new plan
				if len(e.action.keys()) != 0 {
					t.Fatalf("a label added before the new plan approved it: %v", e.action.keys())
				}
				e.clock.Add(time.Minute)
				e.jira.RemoveLabel(key, "patrol-approve", approver)
				e.jira.AddLabel(key, "patrol-approve", approver)
				e.clock.Add(time.Minute)
				e.poll()
			},
			want: []string{"AKIABOB0000000000002"},
		},
		{
			name: "auto mode on a ticket patrol did not make waits for an approver",
			run: func(t *testing.T, e *env, key string) {
				e.det = loadDetection(t, detectionTOML("auto", "1h"))
				e.clock.Add(time.Minute)
				e.poll()
				if len(e.action.keys()) != 0 || e.count(key, "tickets.auto_for_external = false") != 1 {
					t.Fatalf("ran without approval: %v %q", e.action.keys(), e.comments(key))
				}
				e.clock.Add(time.Minute)
				e.jira.AddLabel(key, "patrol-approve", approver)
				e.poll()
			},
			want: []string{"AKIAALICE00000000001"},
		},
		{
			name: "auto_for_external opts in",
			run: func(t *testing.T, e *env, key string) {
				e.det = loadDetection(t, detectionTOML("auto", "1h"))
				e.resp.AutoForExternal = true
				e.clock.Add(time.Minute)
				e.poll()
			},
			want: []string{"AKIAALICE00000000001"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			key := e.external("alice", "AKIAALICE00000000001")
			e.clock.Add(time.Minute)
			if !strings.HasPrefix(tt.name, "auto") {
				if err := e.poll(); err != nil { // the plan for A's key is shown
					t.Fatal(err)
				}
				if e.count(key, "Plan digest:") != 1 || e.count(key, "AKIAALICE00000000001") == 0 {
					t.Fatalf("plan comment: %q", e.comments(key))
				}
			}
			tt.run(t, e, key)
			if got := e.action.keys(); strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("disabled %v, want %v", got, tt.want)
			}
			if len(tt.want) > 0 {
				aps, _ := e.db.Approvals(context.Background(), key)
				if tt.name != "auto_for_external opts in" && (len(aps) != 1 || aps[0].By != approver || aps[0].Via != "label") {
					t.Errorf("approvals recorded: %+v", aps)
				}
				if e.stage(key) != state.StageDone {
					t.Errorf("stage = %s", e.stage(key))
				}
			}
		})
	}
}

// TestApprovalBeforeFirstPlan: for a ticket seen for the first time with
// the approve label already on it (added by whoever made the issue, or
// before patrol posted anything), the label counts for nothing.
func TestApprovalBeforeFirstPlan(t *testing.T) {
	e := newEnv(t, envOptions{})
	key := e.external("alice", "AKIAALICE00000000001")
	e.clock.Add(time.Minute)
	e.jira.AddLabel(key, "patrol-approve", approver)
	e.clock.Add(time.Minute)
	e.poll() // plan posted, after the label
	e.clock.Add(time.Minute)
	e.poll()
	if got := e.action.keys(); len(got) != 0 {
		t.Fatalf("a label from before the plan approved it: %v", got)
	}
	if e.stage(key) != state.StageApproval || e.count(key, "before the current plan") != 1 {
		t.Errorf("stage = %s, comments = %q", e.stage(key), e.comments(key))
	}
}
