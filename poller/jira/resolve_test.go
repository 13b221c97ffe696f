package jira

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller/jira/jiratest"
)

// TestResolutionDoneAndLinks: a ticket reports whether its status is a
// done one and its resolution, ResolvedBy names who resolved it (from the
// changelog), and Link relates two issues once.
func TestResolutionDoneAndLinks(t *testing.T) {
	for _, flavor := range []jiratest.Flavor{jiratest.Cloud, jiratest.DataCenter} {
		t.Run(string(flavor), func(t *testing.T) {
			ctx := context.Background()
			e := setup(t, flavor, jiratest.Options{})
			a, b := create(t, e), create(t, e)
			if a.Done || a.Resolution != "" {
				t.Fatalf("new ticket: %+v", a)
			}
			if by, at, err := e.tr.ResolvedBy(ctx, a.Key); err != nil || by != "" || !at.IsZero() {
				t.Fatalf("resolved by %q %v %v before anyone resolved it", by, at, err)
			}
			e.clock.Advance(time.Minute)
			resolvedAt := e.clock.Now()
			if err := e.fake.Resolve(a.Key, "Done", "False Positive", "alice"); err != nil {
				t.Fatal(err)
			}
			got, err := e.tr.Get(ctx, a.Key)
			if err != nil || !got.Done || got.Resolution != "False Positive" {
				t.Fatalf("after resolving: %+v %v", got, err)
			}
			polled, err := e.tr.Poll(ctx, resolvedAt.Add(-time.Hour))
			if err != nil || len(polled) == 0 || !polled[len(polled)-1].Done {
				t.Fatalf("poll: %+v %v", polled, err)
			}
			by, at, err := e.tr.ResolvedBy(ctx, a.Key)
			if err != nil || by != "alice" || !at.Equal(resolvedAt) {
				t.Fatalf("resolved by %q at %v (%v), want alice at %v", by, at, err, resolvedAt)
			}
			for range 2 {
				if err := e.tr.Link(ctx, b.Key, a.Key); err != nil {
					t.Fatal(err)
				}
			}
			ia, _ := e.fake.Issue(a.Key)
			ib, _ := e.fake.Issue(b.Key)
			if !slices.Equal(ia.Links, []string{b.Key}) || !slices.Equal(ib.Links, []string{a.Key}) {
				t.Errorf("links %v %v", ia.Links, ib.Links)
			}
			if err := e.tr.Link(ctx, b.Key, "../x"); err == nil {
				t.Error("a key that is not a key was sent")
			}
		})
	}
}
