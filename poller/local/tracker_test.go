package local

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/state"
)

func TestTracker(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	db, err := state.Open(filepath.Join(t.TempDir(), "p.db"), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tr := &Tracker{DB: db, Label: "patrol"}
	long := strings.Repeat("x", 300)
	tk, err := tr.Create(ctx, poller.NewTicket{Summary: "line one\nline two " + long, Labels: []string{"patrol", "has space", "", "patrol-fp-1"},
		Description: poller.Message{Title: "T", Sections: []poller.Section{{Fields: []poller.Field{{Name: "ip", Value: "\x1b]0;pwned\x07"}}}}},
		Route:       poller.Route{Assignee: "alice", Component: "Payments"}})
	if err != nil {
		t.Fatal(err)
	}
	if tk.Key != "LOCAL-1" || strings.Contains(tk.Summary, "\n") || len([]rune(tk.Summary)) != 255 {
		t.Errorf("summary = %q", tk.Summary)
	}
	if strings.Join(tk.Labels, ",") != "patrol,has_space,patrol-fp-1" {
		t.Errorf("labels = %v", tk.Labels)
	}
	lt, _ := db.LocalGet(ctx, tk.Key)
	if strings.Contains(lt.Description, "\x1b") || lt.Assignee != "alice" {
		t.Errorf("stored: %+v", lt)
	}
	if found, _ := tr.Find(ctx, "patrol-fp-1"); len(found) != 1 {
		t.Errorf("find: %v", found)
	}
	now = now.Add(time.Minute)
	db.LocalAddLabel(ctx, tk.Key, "patrol-approve", "bob")
	ap, _ := tr.Approvals(ctx, tk.Key, "patrol-approve")
	if len(ap) != 1 || ap[0].By != "bob" {
		t.Errorf("approvals = %v", ap)
	}
	if polled, _ := tr.Poll(ctx, now); len(polled) != 1 || !polled[0].Updated.Equal(now) {
		t.Errorf("poll = %+v", polled)
	}
	if polled, _ := tr.Poll(ctx, now.Add(time.Second)); len(polled) != 0 {
		t.Errorf("poll after = %+v", polled)
	}
	if err := tr.Transition(ctx, tk.Key, "Done"); err != nil {
		t.Fatal(err)
	}
	if got, _ := tr.Get(ctx, tk.Key); got.Status != "Done" {
		t.Errorf("status = %s", got.Status)
	}
	if err := tr.Comment(ctx, "LOCAL-9", poller.Message{Title: "x"}); err == nil {
		t.Error("comment on a missing ticket succeeded")
	}
	m := poller.Message{Title: "Enrichment", Ref: "3f9a1c0b7e2d"}
	db.LocalComment(ctx, tk.Key, "mallory", "quoting:\n"+m.RefLine())
	if _, found, _ := tr.FindComment(ctx, tk.Key, m); found {
		t.Error("someone else's comment counted")
	}
	if err := tr.Comment(ctx, tk.Key, m); err != nil {
		t.Fatal(err)
	}
	if at, found, err := tr.FindComment(ctx, tk.Key, m); err != nil || !found || !at.Equal(now) {
		t.Errorf("FindComment = %v %v %v", at, found, err)
	}
}

func TestLogNotifierThreads(t *testing.T) {
	var b strings.Builder
	n := &LogNotifier{Log: slog.New(slog.NewJSONHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	ref, err := n.Notify(context.Background(), poller.Notification{Ticket: poller.Ticket{Key: "LOCAL-1"}, Severity: "high", Status: "open",
		Message: poller.Message{Title: "hello <!channel>\nsecond line"}})
	if err != nil || ref != "log:LOCAL-1" {
		t.Fatalf("ref %q err %v", ref, err)
	}
	ref, _ = n.Notify(context.Background(), poller.Notification{Ticket: poller.Ticket{Key: "LOCAL-1"}, Thread: ref, Status: "done", Message: poller.Message{Title: "x"}})
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if ref != "" || len(lines) != 4 {
		t.Fatalf("ref %q, %d log lines:\n%s", ref, len(lines), b.String())
	}
	for i, want := range []string{
		`"msg":"notification","channel":"(default)","ticket":"LOCAL-1","status":"open","severity":"high","text":"hello <!channel>"`,
		`"msg":"notification text","ticket":"LOCAL-1","text":"hello <!channel>\nsecond line"`,
		`"msg":"notification","channel":"(default)","ticket":"LOCAL-1","status":"done","text":"x"`,
	} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %s, want %s", i, lines[i], want)
		}
	}
}

// TestLogNotifierDigest: a digest is one line with its counts, its whole
// text at debug, and starts no thread.
func TestLogNotifierDigest(t *testing.T) {
	var b strings.Builder
	n := &LogNotifier{Log: slog.New(slog.NewJSONHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	d := poller.Digest{Title: "patrol digest", Until: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC), OpenTotal: 2,
		OpenBySev: []poller.DigestCount{{Name: "high", Count: 2}}}
	ref, err := n.Notify(context.Background(), poller.Notification{Channel: "#sec", Digest: &d})
	if err != nil || ref != "" {
		t.Fatalf("ref %q err %v", ref, err)
	}
	out := b.String()
	for _, want := range []string{`"msg":"digest","channel":"#sec","until":"2026-11-02T09:00:00Z","open_alerts":2,"waiting_for_approval":0`, `"msg":"digest text"`, `Open alerts: 2`, `high: 2`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}
