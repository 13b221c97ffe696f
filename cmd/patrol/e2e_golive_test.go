package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/patrolsec/patrol/poller/aws/awstest"
	"github.com/patrolsec/patrol/state"
)

// TestEndToEndException: an exception in one detection's file mutes
// exactly its matching results (another detection over the same events is
// untouched) and, once expired, stops applying: validate warns with file
// and line, the results open tickets, and one self-alert says so.
func TestEndToEndException(t *testing.T) {
	at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	recs := []map[string]any{
		keyUse(at, "scanner", "AKIASCANNER000000001", "198.51.100.7"),
		keyUse(at.Add(time.Minute), "scanner", "AKIASCANNER000000002", "192.0.2.66"),
		keyUse(at.Add(2*time.Minute), "mallory", "AKIAMALLORY000000001", "198.51.100.8"),
	}
	other := strings.Replace(e2eKey, `id = "e2e-external-key"`, `id = "e2e-external-key-2"`, 1)
	exception := func(expires string) string {
		return e2eKey + `
[[exception]]
match   = { "userIdentity.arn" = "ARN:aws:iam::*:user/scanner*", "sourceIPAddress" = ["198.51.100.0/24"] }
reason  = "vulnerability scanner"
owner   = "alice@example.com"
expires = ` + expires + `
ticket  = "SEC-123"
`
	}
	t.Run("in force", func(t *testing.T) {
		conf := tuningDir(t, map[string]string{"a.toml": exception("2027-03-31"), "b.toml": other}, recs...)
		code, out, errOut := patrol(t, "once", "--config", conf)
		if code != exitOK || !strings.Contains(out, "excepted=1 silenced=0") {
			t.Fatalf("once: exit %d\n%s%s", code, out, errOut)
		}
		got := map[string][]string{}
		for _, tk := range listTickets(t, conf) {
			got[tk.Detection] = append(got[tk.Detection], tk.Summary)
		}
		if len(got["e2e-external-key"]) != 2 || len(got["e2e-external-key-2"]) != 3 || strings.Contains(strings.Join(got["e2e-external-key"], ","), "AKIASCANNER000000001") {
			t.Fatalf("tickets %v", got)
		}
	})
	t.Run("expired", func(t *testing.T) {
		conf := tuningDir(t, map[string]string{"a.toml": exception("2026-10-31"), "b.toml": other}, recs...)
		code, out, _ := patrol(t, "validate", "--config", conf)
		if code != exitOK || !strings.Contains(out, "a.toml:22: exception[1].expires: warning: expired 2026-11-01T00:00:00Z") {
			t.Fatalf("validate: exit %d\n%s", code, out)
		}
		if code, out, errOut := patrol(t, "once", "--config", conf); code != exitOK || strings.Contains(out, "excepted=") {
			t.Fatalf("once: exit %d\n%s%s", code, out, errOut)
		}
		n, self := 0, 0
		for _, tk := range listTickets(t, conf) {
			switch tk.Detection {
			case "e2e-external-key":
				n++
			case "patrol":
				self++
				if !strings.Contains(tk.Summary, "an exception of e2e-external-key expired") {
					t.Errorf("self-alert %q", tk.Summary)
				}
			}
		}
		if n != 3 || self != 1 {
			t.Fatalf("%d tickets and %d self-alerts, want 3 and 1", n, self)
		}
		patrol(t, "once", "--config", conf)
		if got := len(listTickets(t, conf)); got != 7 {
			t.Errorf("a second run made tickets: %d", got)
		}
	})
}

// TestEndToEndSilence: `patrol silence add` appends a silence to
// silences.toml (its comments kept); it mutes the alerts it covers until it
// ends, then tickets resume; `patrol silence list` shows it with the
// alerts it muted.
func TestEndToEndSilence(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	conf := tuningDir(t, map[string]string{"a.toml": e2eKey},
		keyUse(now.Add(-50*time.Minute), "mallory", "AKIAMALLORY000000001", "192.0.2.66"),
		keyUse(now.Add(-40*time.Minute), "mallory", "AKIAMALLORY000000001", "192.0.2.66"),
		keyUse(now.Add(-45*time.Minute), "bob", "AKIABOB0000000000001", "192.0.2.77"),
		keyUse(now.Add(-10*time.Minute), "mallory", "AKIAMALLORY000000001", "192.0.2.66"))
	silences := filepath.Join(filepath.Dir(conf), "silences.toml")
	header := "# Silences reviewed by the security team.\n# Keep the newest at the end.\n"
	os.WriteFile(silences, []byte(header), 0o640)
	code, out, errOut := patrol(t, "silence", "add", "--config", conf, "--detection", "e2e-*", "--match", "userIdentity.userName=MALL*",
		"--starts", "-1h", "--until", "-30m", "--reason", "red-team exercise", "--owner", "bob")
	if code != exitOK || !strings.Contains(out, "added silence") {
		t.Fatalf("silence add: exit %d\n%s%s", code, out, errOut)
	}
	b, _ := os.ReadFile(silences)
	if !strings.HasPrefix(string(b), header) || !strings.Contains(string(b), "[[silence]]") || !strings.Contains(string(b), `reason = "red-team exercise"`) {
		t.Fatalf("silences.toml:\n%s", b)
	}
	if code, out, _ := patrol(t, "validate", "--config", conf); code != exitOK {
		t.Fatalf("validate with the silence: %s", out)
	}
	code, out, errOut = patrol(t, "once", "--config", conf)
	if code != exitOK || !strings.Contains(out, "silenced=2") {
		t.Fatalf("once: exit %d\n%s%s", code, out, errOut)
	}
	var summaries []string
	for _, tk := range listTickets(t, conf) {
		summaries = append(summaries, tk.Summary)
	}
	// bob is not matched; mallory's two uses inside the silence are muted,
	// and the use after it ended opens a ticket (inside suppress of the
	// muted alert).
	if len(summaries) != 2 || !strings.Contains(strings.Join(summaries, ","), "AKIABOB") || !strings.Contains(strings.Join(summaries, ","), "AKIAMALLORY") {
		t.Fatalf("tickets %q", summaries)
	}
	code, out, _ = patrol(t, "silence", "list", "--config", conf, "--json")
	var v silenceView
	if code != exitOK || json.Unmarshal([]byte(out), &v) != nil || v.State != "expired" || v.Alerts != 1 || v.Results != 2 || v.Owner != "bob" {
		t.Fatalf("silence list: exit %d %s", code, out)
	}
	if code, out, _ := patrol(t, "silence", "list", "--config", conf); code != exitOK || !strings.Contains(out, "red-team exercise") || !strings.Contains(out, "1 (2 results)") {
		t.Errorf("silence list:\n%s", out)
	}
	// Bad input is refused, and the file is left as it was.
	before, _ := os.ReadFile(silences)
	for _, args := range [][]string{
		{"--detection", "nope-*", "--for", "1h", "--reason", "r", "--owner", "o"},
		{"--detection", "e2e-*", "--reason", "r", "--owner", "o"},
		{"--detection", "e2e-*", "--for", "1h", "--until", "+2h", "--reason", "r", "--owner", "o"},
		{"--detection", "e2e-*", "--for", "1h", "--owner", "o"},
	} {
		if code, _, errOut := patrol(t, append([]string{"silence", "add", "--config", conf}, args...)...); code != exitInvalid || errOut == "" {
			t.Errorf("%v: exit %d %q", args, code, errOut)
		}
	}
	if after, _ := os.ReadFile(silences); string(after) != string(before) {
		t.Error("a refused silence changed the file")
	}
}

// TestEndToEndShadow: a shadow detection opens no ticket while `patrol
// shadow` shows what it would have done, and `status` marks it.
func TestEndToEndShadow(t *testing.T) {
	conf := tuningDir(t, map[string]string{"a.toml": "stage = \"shadow\"\n" + e2eKey},
		keyUse(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC), "mallory", "AKIAMALLORY000000001", "192.0.2.66"))
	code, out, errOut := patrol(t, "once", "--config", conf)
	if code != exitOK || !strings.Contains(out, "alerts=1") || !strings.Contains(out, "shadow") {
		t.Fatalf("once: exit %d\n%s%s", code, out, errOut)
	}
	if got := listTickets(t, conf); len(got) != 0 {
		t.Fatalf("a shadow detection made tickets: %v", got)
	}
	code, out, _ = patrol(t, "shadow", "--config", conf, "--json")
	var v shadowView
	if code != exitOK || json.Unmarshal([]byte(out), &v) != nil || v.Summary != "Key AKIAMALLORY000000001 of mallory used from 192.0.2.66" ||
		v.Remediation == nil || v.Remediation.Plan == nil || v.Remediation.Plan.Target != "AKIAMALLORY000000001" || v.Remediation.Mode != "approve" {
		t.Fatalf("shadow --json: exit %d %s", code, out)
	}
	if code, out, _ := patrol(t, "shadow", "--config", conf); code != exitOK || !strings.Contains(out, "would open: Key AKIAMALLORY000000001") || !strings.Contains(out, "would run iam.disable_access_key (approve)") {
		t.Errorf("shadow:\n%s", out)
	}
	code, out, _ = patrol(t, "status", "--config", conf, "--json")
	var rep statusReport
	if code != exitOK || json.Unmarshal([]byte(out), &rep) != nil || rep.Detections[0].Stage != "shadow" {
		t.Fatalf("status --json: %s", out)
	}
	if _, out, _ := patrol(t, "status", "--config", conf); !strings.Contains(out, "e2e-external-key (shadow)") {
		t.Errorf("status does not mark the shadow detection:\n%s", out)
	}
}

// TestEndToEndGraceAndHold: with a grace period the ticket says when the
// automatic remediation runs and how to stop it; the hold label cancels
// it for good, and it then needs an approval.
func TestEndToEndGraceAndHold(t *testing.T) {
	det := strings.Replace(e2eKey, `mode = "approve"`, "mode = \"auto\"\ngrace = \"1h\"", 1)
	conf := tuningDir(t, map[string]string{"a.toml": det},
		keyUse(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC), "mallory", "AKIAMALLORY000000001", "192.0.2.66"))
	if code, out, errOut := patrol(t, "once", "--config", conf); code != exitOK {
		t.Fatalf("once: exit %d\n%s%s", code, out, errOut)
	}
	tk := listTickets(t, conf)[0]
	db := openState(t, conf)
	if c := comments(t, db, tk.Key); tk.Stage != state.StageGrace || !strings.Contains(c, "runs automatically at") || !strings.Contains(c, `add the label "patrol-hold"`) {
		t.Fatalf("stage %s, comments:\n%s", tk.Stage, c)
	}
	if code, out, _ := patrol(t, "status", "--config", conf); code != exitOK || !strings.Contains(out, "grace period") {
		t.Errorf("status:\n%s", out)
	}
	if err := db.LocalAddLabel(context.Background(), tk.Key, "patrol-hold", "bob"); err != nil {
		t.Fatal(err)
	}
	patrol(t, "once", "--config", conf)
	tk = listTickets(t, conf)[0]
	if c := comments(t, db, tk.Key); tk.Stage != state.StageApproval || !strings.Contains(c, "added by bob") {
		t.Fatalf("after the hold: stage %s, comments:\n%s", tk.Stage, c)
	}
	// For good: without the label it waits for an approval.
	if err := db.LocalRemoveLabel(context.Background(), tk.Key, "patrol-hold", "bob"); err != nil {
		t.Fatal(err)
	}
	patrol(t, "once", "--config", conf)
	if c := comments(t, db, tk.Key); !strings.Contains(c, "waits for approval") {
		t.Fatalf("after the label went: comments:\n%s", c)
	}
	patrol(t, "approve", "--config", conf, "--as", "alice", tk.Key)
	patrol(t, "once", "--config", conf)
	if tk = listTickets(t, conf)[0]; tk.Stage != state.StageDone || !strings.Contains(comments(t, db, tk.Key), "Dry run") {
		t.Fatalf("after the approval: stage %s, comments:\n%s", tk.Stage, comments(t, db, tk.Key))
	}
}

// TestEndToEndReopen: a repeat inside suppress on a ticket a person closed
// reopens it, with a comment.
func TestEndToEndReopen(t *testing.T) {
	det := strings.Replace(e2eKey, `schedule = "@every 5m"`, "schedule = \"@every 5m\"\nsettle = \"1s\"", 1)
	first := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	conf := tuningDir(t, map[string]string{"a.toml": det}, keyUse(first, "mallory", "AKIAMALLORY000000001", "192.0.2.66"))
	if code, out, errOut := patrol(t, "once", "--config", conf); code != exitOK {
		t.Fatalf("once: exit %d\n%s%s", code, out, errOut)
	}
	db := openState(t, conf)
	tk := listTickets(t, conf)[0]
	if err := db.LocalResolve(context.Background(), tk.Key, "Done", "Fixed", "alice"); err != nil {
		t.Fatal(err)
	}
	patrol(t, "once", "--config", conf) // the respond pass sees it closed
	// The repeat happens after that run, so no window it searched (they
	// end before it started) can have covered the repeat's time.
	again := time.Now().UTC().Truncate(time.Second).Add(time.Second)
	writeRecords(t, filepath.Dir(conf), "ct2.json", keyUse(again, "mallory", "AKIAMALLORY000000001", "192.0.2.66"))
	// The repeat is searched once its time is past the detection's settle.
	for time.Now().UTC().Add(-time.Second).Truncate(time.Second).Before(again) {
		time.Sleep(50 * time.Millisecond)
	}
	code, out, errOut := patrol(t, "once", "--config", conf)
	if code != exitOK || !strings.Contains(out, "repeats=1") {
		t.Fatalf("once: exit %d\n%s%s", code, out, errOut)
	}
	list := listTickets(t, conf)
	if len(list) != 1 || list[0].Status != "Reopen" || !strings.Contains(comments(t, db, tk.Key), "patrol reopens it") {
		t.Fatalf("tickets %+v\ncomments:\n%s", list, comments(t, db, tk.Key))
	}
}

// TestEndToEndBreaker: after three remediations failed in a row on AWS (on
// moto: trails that do not exist), the fourth and fifth are held and one
// self-alert explains; `patrol resume` lets the fourth run, while the
// fifth, whose ticket a person closed meanwhile, never runs.
func TestEndToEndBreaker(t *testing.T) {
	endpoint := awstest.URL(t)
	ctx := context.Background()
	runs++
	cfg := awstest.Config(t, e2eAccount)
	trail, bucket := fmt.Sprintf("breaker-trail-%d", runs), fmt.Sprintf("breaker-logs-%d", runs)
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	ct := cloudtrail.NewFromConfig(cfg)
	closedTrail := fmt.Sprintf("breaker-closed-%d", runs)
	for _, name := range []string{trail, closedTrail} {
		if _, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String(name), S3BucketName: aws.String(bucket)}); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	var recs []map[string]any
	for i, name := range []string{"gone-1", "gone-2", "gone-3", trail, closedTrail} {
		r := record("StopLogging", "mallory", "AKIAMALLORY000000001", "192.0.2.66", map[string]any{"name": fmt.Sprintf("%s-%d", name, runs)})
		if name == trail || name == closedTrail {
			r["requestParameters"] = map[string]any{"name": name}
		}
		r["eventTime"], r["eventID"] = at.Add(time.Duration(i)*time.Minute).Format(time.RFC3339), fmt.Sprintf("breaker-%d-%d", runs, i)
		recs = append(recs, r)
	}
	conf := tuningDir(t, map[string]string{"a.toml": e2eStop}, recs...)
	b, _ := os.ReadFile(conf)
	os.WriteFile(conf, append(b, []byte(fmt.Sprintf("[aws]\nendpoint_url = %q\nallow_insecure_http = true\nrole_arn = \"arn:aws:iam::{account}:role/patrol-responder\"\naccounts = [\"%s\"]\ndry_run = false\n", endpoint, e2eAccount))...), 0o644)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAPATROLTEST000001")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret")

	if code, out, errOut := patrol(t, "once", "--config", conf); code == exitInvalid {
		t.Fatalf("once: exit %d\n%s\n%s", code, out, errOut)
	}
	stages := map[string]string{}
	var held, closed, self string
	for _, tk := range listTickets(t, conf) {
		stages[tk.Summary] = tk.Stage
		switch {
		case tk.Detection == "patrol":
			self = tk.Key
		case strings.HasSuffix(tk.Summary, " "+trail):
			held = tk.Key
		case strings.HasSuffix(tk.Summary, " "+closedTrail):
			closed = tk.Key
		}
	}
	if held == "" || closed == "" || self == "" {
		t.Fatalf("tickets %v", stages)
	}
	db := openState(t, conf)
	for _, key := range []string{held, closed} {
		if tk, _ := db.Ticket(ctx, key); tk.Stage != state.StageDeferred || !strings.Contains(comments(t, db, key), "circuit breaker is open") {
			t.Fatalf("%s ran or was not held: %v\n%s", key, stages, comments(t, db, key))
		}
	}
	if st, _ := ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(trail)}); st == nil || aws.ToBool(st.IsLogging) {
		t.Fatal("the held action ran")
	}
	if _, out, _ := patrol(t, "status", "--config", conf); !strings.Contains(out, "CIRCUIT BREAKER OPEN") {
		t.Errorf("status:\n%s", out)
	}
	patrol(t, "once", "--config", conf) // still held, nothing raised twice
	if n := strings.Count(comments(t, db, held), "circuit breaker is open"); n != 1 {
		t.Errorf("held comment posted %d times", n)
	}
	// A person looks at the held tickets and closes one as not needing the
	// action, then resets the breaker.
	if err := db.LocalResolve(ctx, closed, "Done", "Won't Do", "bob"); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := patrol(t, "resume", "--config", conf, "--as", "alice"); code != exitOK || !strings.Contains(out, "reset by alice") ||
		!strings.Contains(out, held) || strings.Contains(out, held+" (closed") || !strings.Contains(out, closed+" (closed: will be cancelled)") {
		t.Fatalf("resume: exit %d %s", code, out)
	}
	if code, out, errOut := patrol(t, "once", "--config", conf); code != exitOK {
		t.Fatalf("once after resume: exit %d\n%s\n%s", code, out, errOut)
	}
	if st, err := ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(trail)}); err != nil || !aws.ToBool(st.IsLogging) {
		t.Fatalf("trail not logging after resume: %v", err)
	}
	if st, err := ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(closedTrail)}); err != nil || aws.ToBool(st.IsLogging) {
		t.Fatalf("the action of the closed ticket ran (%v):\n%s", err, comments(t, db, closed))
	}
	if c := comments(t, db, closed); strings.Count(c, "Remediation cancelled: the ticket was closed") != 1 {
		t.Errorf("comments of the closed ticket:\n%s", c)
	}
	if _, out, _ := patrol(t, "status", "--config", conf); strings.Contains(out, "held (hourly budget") {
		t.Errorf("status still lists held actions:\n%s", out)
	}
	if !strings.Contains(comments(t, db, self), "reset by alice") {
		t.Errorf("self-alert not resolved:\n%s", comments(t, db, self))
	}
	if code, out, _ := patrol(t, "resume", "--config", conf); code != exitOK || !strings.Contains(out, "closed") {
		t.Errorf("second resume: %d %s", code, out)
	}
}

// TestDigestsListWhatEndsThisWeek: the digests patrol builds from its
// config list the loaded detections' exceptions and silences.toml's
// silences that end within 7 days, soonest first, and no others.
func TestDigestsListWhatEndsThisWeek(t *testing.T) {
	now := time.Now().UTC()
	day := func(n int) string { return now.AddDate(0, 0, n).Format("2006-01-02") } // the end of that day, UTC
	exception := func(user, expires string) string {
		return "\n[[exception]]\nmatch = { \"userIdentity.userName\" = \"" + user + "\" }\nreason = \"known\"\nowner = \"alice\"\nexpires = " + expires + "\n"
	}
	conf := tuningDir(t, map[string]string{"a.toml": e2eKey + exception("ci-deployer", day(3)) + exception("backup", day(30))})
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(f, "[[digest]]\nchannel = \"#security-alerts\"\nschedule = \"0 9 * * *\"\n")
	f.Close()
	silence := func(id, expires string) string {
		return "[[silence]]\nid = \"" + id + "\"\ndetections = [\"e2e-*\"]\nexpires = " + expires + "\nowner = \"bob\"\nreason = \"maintenance\"\n"
	}
	os.WriteFile(filepath.Join(filepath.Dir(conf), "silences.toml"),
		[]byte(silence("freeze", now.Add(49*time.Hour).Format(time.RFC3339))+silence("migration", day(20))), 0o644)

	var errOut bytes.Buffer
	a, code := setup(context.Background(), conf, setupOptions{jobs: true}, &errOut)
	if a == nil {
		t.Fatalf("setup: exit %d\n%s", code, errOut.String())
	}
	defer a.close()
	if len(a.digests) != 1 || a.digests[0].Expiring == nil {
		t.Fatalf("digests: %+v", a.digests)
	}
	var got []string
	for _, e := range a.digests[0].Expiring(now) {
		got = append(got, e.Kind+" "+e.Name+" ("+e.Owner+")")
	}
	want := []string{"silence freeze (bob)", "exception e2e-external-key: userIdentity.userName=ci-deployer (alice)"}
	if !slices.Equal(got, want) {
		t.Errorf("ending within 7 days:\n got %q\nwant %q", got, want)
	}
}
