package digest_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/digest"
	"github.com/patrolsec/patrol/poller/golden"
	"github.com/patrolsec/patrol/poller/slack"
	"github.com/patrolsec/patrol/poller/slack/slackfake"
	"github.com/patrolsec/patrol/poller/tuning"
	"github.com/patrolsec/patrol/state"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }
func at(day, h, m int) time.Time     { return time.Date(2026, 11, day, h, m, 0, 0, time.UTC) }
func quiet() *slog.Logger            { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
func ptr[T any](v T) *T              { return &v }
func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// daemon is one patrol process: a state file, a Slack notifier and a
// digest job (a restart is a new daemon on the same file).
type daemon struct {
	db  *state.DB
	job *digest.Job
}

func start(t *testing.T, path string, c *clock, fake *slackfake.Server, teams []poller.Team) *daemon {
	t.Helper()
	db, err := state.Open(path, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	t.Setenv("T_SLACK_TOKEN", "xoxb-test")
	sc := slack.Defaults()
	sc.TokenEnv, sc.Channel, sc.APIURL, sc.MaxRetries, sc.AllowInsecureHTTP = "T_SLACK_TOKEN", "#security-alerts", fake.URL, 0, true
	n, err := slack.New(sc, slack.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	resp := &poller.Responder{Store: db, Notifier: n, Now: c.Now, Logger: quiet()}
	job, err := digest.New(digest.Config{Channel: "#security-alerts", Schedule: "CRON_TZ=UTC 0 9 * * *"})
	if err != nil {
		t.Fatal(err)
	}
	job.Store, job.Flush, job.Now, job.Logger = db, resp.Flush, c.Now, quiet()
	job.Router = poller.Router{Teams: teams}
	job.MaxLag = 2 * time.Hour
	job.Detections = func() []*detections.Detection {
		return []*detections.Detection{{ID: "key-used", Severity: "high"}, {ID: "trail-stopped", Severity: "critical"}}
	}
	return &daemon{db: db, job: job}
}

func (d *daemon) run(t *testing.T) bool {
	t.Helper()
	queued, err := d.job.Run(context.Background())
	if err != nil && !strings.Contains(err.Error(), "503") {
		t.Fatal(err)
	}
	return queued
}

// TestOneDigestPerTick: a digest is sent once per tick, across a restart
// between the tick and the send, and after ticks missed while patrol was
// down (the latest one is sent late, saying how many were skipped).
func TestOneDigestPerTick(t *testing.T) {
	c := &clock{t: at(2, 8, 0)}
	fake := slackfake.New(t, slackfake.Options{Now: c.Now})
	path := filepath.Join(t.TempDir(), "patrol.db")
	d := start(t, path, c, fake, nil)
	posts := func() []slackfake.Message { return fake.Messages() }

	if d.run(t) || len(posts()) != 0 {
		t.Fatal("the first run of a new digest sent one: it should only note when digests begin")
	}
	c.Set(at(2, 9, 0))
	if !d.run(t) || len(posts()) != 1 {
		t.Fatalf("at the tick: %d posts, want 1", len(posts()))
	}
	c.Set(at(2, 9, 0).Add(30 * time.Second))
	if d.run(t) || len(posts()) != 1 {
		t.Fatalf("the same tick again: %d posts, want 1", len(posts()))
	}

	// Day 3: queued at the tick, then Slack fails and patrol is killed
	// before the send; the restarted patrol sends it once.
	c.Set(at(3, 9, 0))
	fake.Fail(slackfake.Fault{Method: "chat.postMessage", Status: 503})
	if !d.run(t) || len(posts()) != 1 {
		t.Fatalf("day 3: %d posts, want still 1", len(posts()))
	}
	d.db.Close()
	c.Set(at(3, 9, 2))
	d = start(t, path, c, fake, nil)
	if d.run(t) {
		t.Fatal("day 3 queued twice")
	}
	if len(posts()) != 2 {
		t.Fatalf("after the restart: %d posts, want 2", len(posts()))
	}

	// Day 4: patrol is down at the tick and starts at 11:00: sent late.
	d.db.Close()
	c.Set(at(4, 11, 0))
	d = start(t, path, c, fake, nil)
	if !d.run(t) || len(posts()) != 3 {
		t.Fatalf("day 4: %d posts, want 3", len(posts()))
	}
	if b := string(posts()[2].Blocks); !strings.Contains(b, "Sent late, at 2026-11-04 11:00 UTC") || !strings.Contains(b, "From 2026-11-03 09:00 UTC to 2026-11-04 09:00 UTC") {
		t.Errorf("late digest: %s", b)
	}
	// Down from day 5 to day 7 10:00: one digest, for day 7's tick, saying
	// two were skipped and covering their span.
	d.db.Close()
	c.Set(at(7, 10, 0))
	d = start(t, path, c, fake, nil)
	if !d.run(t) || len(posts()) != 4 {
		t.Fatalf("day 7: %d posts, want 4", len(posts()))
	}
	if b := string(posts()[3].Blocks); !strings.Contains(b, "2 earlier digests were skipped") || !strings.Contains(b, "From 2026-11-04 09:00 UTC to 2026-11-07 09:00 UTC") {
		t.Errorf("after a long outage: %s", b)
	}
	c.Set(at(7, 10, 5))
	if d.run(t) || len(posts()) != 4 {
		t.Fatalf("rerun on day 7: %d posts", len(posts()))
	}
}

// TestDigestGolden: a digest built from a real state file (open alerts of
// two teams and none, a plan waiting for approval, actions since the last
// digest, a failing and a stale detection) and from the exceptions and
// silences that end within 7 days (as patrol lists them: tuning.Expiring
// over the detections and a silences file), rendered as Block Kit by the
// Slack notifier and posted to the fake. Event data in it stays inert.
func TestDigestGolden(t *testing.T) {
	c := &clock{t: at(1, 9, 0)}
	fake := slackfake.New(t, slackfake.Options{Now: c.Now})
	teams := []poller.Team{{Name: "payments", Accounts: []string{"111122223333"}}, {Name: "core", Accounts: []string{"444455556666"}}}
	dir := t.TempDir()
	d := start(t, filepath.Join(dir, "patrol.db"), c, fake, teams)
	ctx := context.Background()
	db := d.db
	evil := "<!channel> `x` <http://evil|click> @here"
	// The digest goes out on day 2 at 09:00: of each pair, one ends within
	// the week after it and one does not (or has ended).
	dets := []*detections.Detection{{ID: "key-used", Severity: "high", Exceptions: []detections.Exception{
		{Match: map[string][]string{"userIdentity.userName": {"ci-deployer"}}, Reason: "CI rotates its own keys", Owner: "alice",
			Expires: time.Date(2026, 11, 5, 23, 59, 59, 0, time.UTC)}, // written as a date: the end of that day
		{Match: map[string][]string{"userIdentity.userName": {"backup-*"}}, Reason: "backups run from a fixed host", Owner: "alice",
			Expires: time.Date(2027, 1, 15, 23, 59, 59, 0, time.UTC)},
	}}, {ID: "trail-stopped", Severity: "critical"}}
	d.job.Detections = func() []*detections.Detection { return dets }
	silences := filepath.Join(dir, "silences.toml")
	if err := os.WriteFile(silences, []byte(`
[[silence]]
id = "change-freeze"
detections = ["trail-*"]
expires = 2026-11-03T12:00:00Z
owner = "bob"
reason = "release freeze `+strings.ReplaceAll(evil, `"`, `\"`)+`"

[[silence]]
id = "old-maintenance"
detections = ["key-used"]
expires = 2026-11-01T08:00:00Z
owner = "bob"
reason = "over before the digest"

[[silence]]
id = "q1-migration"
detections = ["*"]
starts = 2026-11-02T00:00:00Z
expires = 2026-12-31
owner = "carol"
reason = "ends after the week"
`), 0o644); err != nil {
		t.Fatal(err)
	}
	sf, err := tuning.OpenSilences(silences, quiet())
	if err != nil {
		t.Fatal(err)
	}
	d.job.Expiring = func(now time.Time) []poller.DigestExpiring {
		return tuning.Expiring(d.job.Detections(), sf, now, 7*24*time.Hour)
	}
	d.run(t) // digests begin
	c.Set(at(1, 10, 0))
	alert := func(det, fp, acct, key, stage string) {
		t.Helper()
		a, err := db.CreatePendingAlert(ctx, state.Alert{Detection: det, Fingerprint: fp, FirstSeen: c.Now(), LastSeen: c.Now(), Count: 1,
			Result: mustJSON(t, poller.Result{"recipientAccountId": {acct}, "userIdentity.userName": {evil}})})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.OpenAlert(ctx, a.ID, state.TicketRow{Key: key, ID: "1" + key[4:], Detection: det, Summary: evil, Status: "To Do",
			URL: "https://jira.example/browse/" + key, Stage: stage}, nil); err != nil {
			t.Fatal(err)
		}
	}
	alert("trail-stopped", "fp1", "111122223333", "SEC-1", state.StageDone)
	alert("key-used", "fp2", "111122223333", "SEC-2", state.StageApproval)
	alert("key-used", "fp3", "444455556666", "SEC-3", state.StageDone)
	alert("key-used", "fp4", "999999999999", "SEC-4", state.StageDone)
	if err := db.UpdateTicket(ctx, "SEC-2", state.TicketUpdate{PlannedAt: ptr(at(1, 10, 0))}); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []state.ActionEvent{
		{Attempt: "a1", TicketKey: "SEC-1", Action: "cloudtrail.start_logging", Target: "arn:aws:cloudtrail:us-east-1:111122223333:trail/" + evil, Phase: state.PhaseSucceeded},
		{Attempt: "a3", TicketKey: "SEC-3", Action: "iam.disable_access_key", Target: "AKIA3", Phase: state.PhasePlanned, DryRun: true},
		{Attempt: "a3", TicketKey: "SEC-3", Action: "iam.disable_access_key", Target: "AKIA3", Phase: state.PhaseStarted},
		{Attempt: "a4", TicketKey: "SEC-4", Action: "iam.disable_access_key", Target: "AKIA4", Phase: state.PhaseFailed},
	} {
		if _, err := db.AppendAction(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	id, _ := db.StartRun(ctx, state.Run{Job: "detect", Detection: "trail-stopped"})
	db.FinishRun(state.Run{ID: id, Job: "detect", Detection: "trail-stopped", Error: "splunk: 503 " + evil})
	db.CompleteWindow(ctx, "trail-stopped", at(1, 10, 0))
	db.CompleteWindow(ctx, "key-used", at(1, 6, 0))

	c.Set(at(2, 9, 0))
	if !d.run(t) {
		t.Fatal("no digest queued")
	}
	calls := fake.Calls()
	last := calls[len(calls)-1]
	if last.Method != "chat.postMessage" || last.Args.Get("channel") != "#security-alerts" || last.Args.Get("unfurl_links") != "false" {
		t.Fatalf("call %+v", last)
	}
	var blocks any
	if err := json.Unmarshal([]byte(last.Args.Get("blocks")), &blocks); err != nil {
		t.Fatal(err)
	}
	pretty, _ := json.MarshalIndent(blocks, "", "  ")
	out := "text: " + last.Args.Get("text") + "\n" + string(pretty) + "\n"
	for _, bad := range []string{"<!channel>", "<http://evil", "@here", "`x`"} {
		if strings.Contains(out, bad) {
			t.Errorf("event data not inert: %q in the digest", bad)
		}
	}
	golden.Check(t, filepath.Join("testdata", "digest.blocks.golden"), []byte(out))
}

// TestDigestForTeams: a digest for one team counts only that team's alerts.
func TestDigestForTeams(t *testing.T) {
	c := &clock{t: at(1, 9, 0)}
	fake := slackfake.New(t, slackfake.Options{Now: c.Now})
	teams := []poller.Team{{Name: "payments", Accounts: []string{"111122223333"}}, {Name: "core", Accounts: []string{"444455556666"}}}
	d := start(t, filepath.Join(t.TempDir(), "patrol.db"), c, fake, teams)
	d.job.Config.Teams = []string{"core"}
	d.run(t)
	ctx := context.Background()
	for i, acct := range []string{"111122223333", "444455556666", "444455556666"} {
		a, _ := d.db.CreatePendingAlert(ctx, state.Alert{Detection: "key-used", Fingerprint: "fp" + string(rune('a'+i)), FirstSeen: c.Now(), LastSeen: c.Now(), Count: 1,
			Result: mustJSON(t, poller.Result{"recipientAccountId": {acct}})})
		d.db.OpenAlert(ctx, a.ID, state.TicketRow{Key: "SEC-" + string(rune('1'+i)), ID: "x", Stage: state.StageDone}, nil)
	}
	c.Set(at(2, 9, 0))
	d.run(t)
	msgs := fake.Messages()
	if len(msgs) != 1 || !strings.Contains(string(msgs[0].Blocks), "Open alerts: 2") || !strings.Contains(string(msgs[0].Blocks), "patrol digest for core") {
		t.Fatalf("team digest: %+v", msgs)
	}
}
