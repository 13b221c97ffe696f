package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patrolsec/patrol/state"
)

// TestTrialEveryTicketRoutedAndCorrelated is `make run` as a new user sees
// it: every ticket the shipped pack opens over the samples is routed to the
// team of its account and enriched with the account's owner, the sequence
// detections fire on the attack story and name their steps' tickets, and a
// second run opens nothing.
func TestTrialEveryTicketRoutedAndCorrelated(t *testing.T) {
	cfg := repoConfigCopy(t)
	if code, out, errOut := patrol(t, "once", "--config", cfg); code != exitOK {
		t.Fatalf("once: exit %d\n%s\n%s", code, out, errOut)
	}
	db, err := state.Open(filepath.Join(filepath.Dir(cfg), "patrol.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	tickets, err := db.LocalAll(ctx)
	if err != nil || len(tickets) == 0 {
		t.Fatalf("tickets: %d %v", len(tickets), err)
	}
	byDetection := map[string][]state.LocalTicket{}
	for _, tk := range tickets {
		det := ""
		for _, l := range tk.Labels {
			if d, ok := strings.CutPrefix(l, "patrol-det-"); ok {
				det = d
			}
		}
		byDetection[det] = append(byDetection[det], tk)
		if tk.Component == "" {
			t.Errorf("%s (%s) is not routed to a team: %s", tk.Key, det, tk.Summary)
		}
		comments, err := db.LocalComments(ctx, tk.Key)
		if err != nil {
			t.Fatal(err)
		}
		owner := false
		for _, c := range comments {
			owner = owner || strings.Contains(c.Body, "account owner: ")
		}
		if !owner {
			t.Errorf("%s (%s) has no account owner in its enrichment", tk.Key, det)
		}
	}
	for det, steps := range map[string][]string{
		"access-key-created-then-used-outside-org": {"iam-access-key-created-for-other-user", "access-key-used-outside-org"},
		"cloudtrail-stopped-not-restarted":         {"cloudtrail-logging-stopped"},
	} {
		got := byDetection[det]
		if len(got) != 1 {
			t.Errorf("%s: %d ticket(s), want 1", det, len(got))
			continue
		}
		for _, step := range steps {
			linked := false
			for _, st := range byDetection[step] {
				linked = linked || strings.Contains(got[0].Description, "ticket "+st.Key)
			}
			if !linked {
				t.Errorf("%s's ticket does not name the ticket of its step %s:\n%s", det, step, got[0].Description)
			}
		}
	}
	if code, out, _ := patrol(t, "once", "--config", cfg); code != exitOK || strings.Contains(out, "alerts=1") {
		t.Errorf("second once: exit %d\n%s", code, out)
	}
	if again, _ := db.LocalAll(ctx); len(again) != len(tickets) {
		t.Errorf("second once opened tickets: %d then %d", len(tickets), len(again))
	}
}
