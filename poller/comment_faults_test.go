package poller_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/jira/jiratest"
)

// TestCommentAtMostOnceAfterLostAnswer: Jira posted a comment but patrol
// never learnt it (the answer lost, as when patrol is killed while it
// waits). The next pass finds the comment on the issue by the reference it
// carries and does not post it again; a comment that never arrived is
// posted. The plan comment found this way keeps Jira's time, so an
// approval given after it counts.
func TestCommentAtMostOnceAfterLostAnswer(t *testing.T) {
	for _, applied := range []bool{true, false} {
		name := map[bool]string{true: "posted, answer lost", false: "never posted"}[applied]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			e.resp.Enrichers = []poller.Enricher{ownerEnricher{}}
			key := e.ownTicket()
			comment := "/rest/api/3/issue/" + key + "/comment"
			// The enrichment comment, then the plan comment.
			e.jira.Fail(jiratest.Fault{Method: http.MethodPost, Path: comment, Status: 504, Apply: applied, Times: 2})
			for i := 0; i < 3; i++ {
				e.clock.Add(time.Minute)
				e.poll()
			}
			e.clock.Add(time.Minute)
			if err := e.jira.AddLabel(key, "patrol-approve", approver); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ {
				e.clock.Add(time.Minute)
				if err := e.poll(); err != nil {
					t.Fatalf("pass %d: %v", i, err)
				}
			}
			for _, s := range []string{"Account owner", "Plan digest", "done and verified"} {
				if n := e.count(key, s); n != 1 {
					t.Errorf("%q arrived %d times, want 1: %q", s, n, e.comments(key))
				}
			}
			if got := e.action.keys(); len(got) != 1 {
				t.Errorf("applied %v", got)
			}
			if q, _ := e.db.PendingOutbox(context.Background(), 100); len(q) != 0 {
				t.Errorf("still queued: %+v", q)
			}
		})
	}
}
