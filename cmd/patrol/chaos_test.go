package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/patrolsec/patrol/poller/aws/awstest"
	"github.com/patrolsec/patrol/poller/jira/jiratest"
	"github.com/patrolsec/patrol/poller/slack/slackfake"
)

var (
	chaosSeeds = flag.Int("chaos.seeds", 2, "how many seeds TestChaos runs (make chaos runs 50)")
	chaosSeed  = flag.Uint64("chaos.seed", 1, "TestChaos's first seed; rerun one printed seed with -chaos.seeds=1 -chaos.seed=N")
	chaosKills = flag.Int("chaos.kills", 4, "most killed runs per seed (make chaos: 15); each seed kills between half and all of them")
)

// chaosFigures add up what the seeds of TestChaos did.
type chaosFigures struct {
	seeds, runs, kills, inFlight, fixed, handed, doubles, duplicates, selfAlerts int
}

func (f *chaosFigures) add(g chaosFigures) {
	f.seeds += g.seeds
	f.runs += g.runs
	f.kills += g.kills
	f.inFlight += g.inFlight
	f.fixed += g.fixed
	f.handed += g.handed
	f.doubles += g.doubles
	f.duplicates += g.duplicates
	f.selfAlerts += g.selfAlerts
}

// TestChaos is the operator's trial of issue 21 in the suite: stopped
// CloudTrail trails (auto remediation) and leaked access keys (approve
// mode), a detection whose source went quiet (a self-alert, raised on
// every run until it is fixed), and real `patrol once`
// processes killed with SIGKILL at seeded moments — before or after Jira
// creates, comments, transitions and approval reads, Slack posts, AWS
// reads and writes, or after a random delay — then run normally until
// everything settles. Every resource is fixed, or its ticket hands it to a
// person with the true reason (the read-back shows the change not in
// place); no AWS write reaches AWS twice for a target; one ticket per
// alert and per self-alert problem; every comment at most once and every
// queued delivery delivered.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("kills real patrol processes: skipped with -short (make chaos runs it at length)")
	}
	t.Parallel()
	endpoint := awstest.URL(t)
	var mu sync.Mutex
	var total chaosFigures
	t.Run("seeds", func(t *testing.T) {
		for i := 0; i < *chaosSeeds; i++ {
			seed := *chaosSeed + uint64(i)
			t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
				t.Parallel() // each seed has its own world; -parallel bounds how many at once
				w := newChaosWorld(t, endpoint, seed, chaosTrails, chaosKeys)
				w.trial()
				f := w.check()
				t.Logf("seed %d: %d runs, %d kills (%d with a write maybe in flight), %d fixed, %d handed to a person, %d double calls, %d duplicate tickets, %d self-alerts",
					seed, f.runs, f.kills, f.inFlight, f.fixed, f.handed, f.doubles, f.duplicates, f.selfAlerts)
				mu.Lock()
				total.add(f)
				mu.Unlock()
			})
		}
	})
	t.Logf("chaos figures: %d seeds (from %d), %d runs, %d kills (SIGKILL; %d of them while an AWS write may have been in flight), %d resources fixed, %d handed to a person, double calls = %d, duplicate tickets = %d, self-alerts = %d (one per problem)",
		total.seeds, *chaosSeed, total.runs, total.kills, total.inFlight, total.fixed, total.handed, total.doubles, total.duplicates, total.selfAlerts)
}

// chaosWorld is one seed's world: AWS resources in moto, Jira and Slack
// fakes, the proxies in front of them, and patrol's config.
type chaosWorld struct {
	t           *testing.T
	seed        uint64
	rng         *rand.Rand
	k           *killer
	jira        *jiratest.Server
	slack       *slackfake.Server
	aws         *chaosProxy
	ct          *cloudtrail.Client
	ic          *iam.Client
	conf        string
	trails      []string
	users, keys []string
	figures     chaosFigures
	lastOut     string
	history     []string // each run's kill point, for a failure's message
	// incidents are the CloudTrail records of the trails stopped and the
	// keys used from outside, in the seeded order they happen; the first
	// happened of them are in the logs.
	incidents []map[string]any
	happened  int
	// lastCounts and lastTook are the requests of each class the last
	// run sent, and how long it ran.
	lastCounts map[string]int
	lastTook   time.Duration
	lastExit   int
}

// chaosWorlds numbers the worlds of this test binary: moto lives as long as
// it, so resource names must not repeat.
var chaosWorlds atomic.Int64

const (
	chaosTrails = 5 // auto mode
	chaosKeys   = 3 // approve mode
)

// quietDetection's source has had no events for longer than its
// freshness: every run raises the "data stopped arriving" self-alert (once).
const quietDetection = `id = "e2e-quiet"
title = "Objects read"
severity = "low"
schedule = "@every 5m"
freshness = "30m"
freshness_search = "` + "`cloudtrail`" + ` eventName=GetObject"
search = '''
` + "`cloudtrail`" + ` eventName=GetObject
| table _time eventName recipientAccountId
'''
group_by = ["recipientAccountId"]
[ticket]
summary = "Objects read"
`

// newChaosWorld makes a world of trails stopped trails and keys leaked
// keys; none of the incidents has happened yet (see happen).
func newChaosWorld(t *testing.T, endpoint string, seed uint64, trails, keys int) *chaosWorld {
	t.Helper()
	w := &chaosWorld{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, 21)), k: &killer{}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d runs:\n%s", seed, strings.Join(w.history, "\n"))
		}
	})
	w.jira = jiratest.New(t, jiratest.Options{IndexLag: 300 * time.Millisecond})
	w.slack = slackfake.New(t, slackfake.Options{})
	jp := newChaosProxy(t, w.jira.URL, w.k, jiraClass)
	sp := newChaosProxy(t, w.slack.URL, w.k, slackClass)
	w.aws = newChaosProxy(t, endpoint, w.k, awsClass)

	cfg := awstest.Config(t, e2eAccount)
	w.ct, w.ic = cloudtrail.NewFromConfig(cfg), iam.NewFromConfig(cfg)
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	ctx := context.Background()
	prefix := fmt.Sprintf("chaos%d-%d", chaosWorlds.Add(1), seed)
	for i := 0; i < trails; i++ {
		trail, bucket := fmt.Sprintf("%s-trail-%d", prefix, i), fmt.Sprintf("%s-logs-%d", prefix, i)
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String(trail), S3BucketName: aws.String(bucket)}); err != nil {
			t.Fatal(err)
		}
		w.trails = append(w.trails, trail)
		w.incidents = append(w.incidents, record("StopLogging", "ops", "AKIAOPS0000000000001", "203.0.113.5", map[string]any{"name": trail}))
	}
	for i := 0; i < keys; i++ {
		user := fmt.Sprintf("%s-user-%d", prefix, i)
		w.users, w.keys = append(w.users, user), append(w.keys, leakedKey(t, w.ic, user))
		w.incidents = append(w.incidents, record("ListBuckets", user, w.keys[i], "192.0.2.66", nil))
	}
	w.rng.Shuffle(len(w.incidents), func(i, j int) { w.incidents[i], w.incidents[j] = w.incidents[j], w.incidents[i] })
	for i, r := range w.incidents {
		r["eventID"] = fmt.Sprintf("%s-%d", prefix, i)
	}

	dets := map[string]string{}
	for name, src := range map[string]string{"a_stop.toml": e2eStop, "b_key.toml": e2eKey, "c_quiet.toml": quietDetection} {
		// Incidents keep happening while patrol is killed: each run
		// searches up to a second ago.
		dets[name] = strings.Replace(src, "schedule = ", "settle = \"1s\"\nschedule = ", 1)
	}
	dir := detectionsDir(t, dets)
	w.conf = filepath.Join(dir, "config.toml")
	w.happen(0, 0)
	newTestConfig().localLogs().
		jira(jp.URL, e2eApprover).set("tickets.jira", `timeout = "2s"`, "max_retries = 0", `index_lag = "1s"`).
		slack(sp.URL).
		aws(w.aws.URL, e2eAccount).
		orgCIDRs().
		set("health", "failures_before_alert = 2").
		write(t, w.conf)
	return w
}

// trial kills patrol at seeded moments, then runs it until everything
// settles, approving each plan once it is shown.
func (w *chaosWorld) trial() {
	w.t.Helper()
	// Kill between half and all of -chaos.kills runs; a kill point a run
	// does not reach lets it finish (at most as many runs again).
	n := *chaosKills - *chaosKills/2 + w.rng.IntN(*chaosKills/2+1)
	for tries := 0; w.figures.kills < n && tries < 2*n; tries++ {
		w.happen(w.happened+w.rng.IntN(3), 0)
		p := w.pick()
		w.run(&p)
		w.approve(w.rng.IntN(2) == 0)
	}
	w.happen(len(w.incidents), 0)
	w.recover()
}

// recover runs patrol, approving every plan shown, until everything has
// settled.
func (w *chaosWorld) recover() {
	w.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !w.settled() {
		if time.Now().After(deadline) {
			w.t.Fatalf("seed %d: not settled after 2 minutes of runs\n%s\nlast run:\n%s", w.seed, w.state(), w.lastOut)
		}
		w.run(nil)
		w.approve(true)
	}
}

// happen puts the first n incidents in the logs, the new ones stamped now
// (CloudTrail's eventTime has whole seconds): the next runs find them.
// Before the first run they may be stamped earlier (ago), so that it finds
// them at once.
func (w *chaosWorld) happen(n int, ago time.Duration) {
	n = min(n, len(w.incidents))
	for ; w.happened < n; w.happened++ {
		w.incidents[w.happened]["eventTime"] = time.Now().Add(-ago).UTC().Format(time.RFC3339)
	}
	writeRecords(w.t, filepath.Dir(w.conf), "ct.json", w.incidents[:n]...)
}

// pick chooses the next kill point: a class of request, and which of
// them, within what the last run sent (new incidents add a little more).
func (w *chaosWorld) pick() killPoint {
	classes := []string{"jira create", "jira comment", "jira transition", "jira approval read", "jira read",
		"slack post", "aws write", "aws read", "time"}
	c := classes[w.rng.IntN(len(classes))]
	if c == "time" {
		return killPoint{class: c, delay: time.Duration(w.rng.Int64N(int64(max(50*time.Millisecond, w.lastTook))))}
	}
	return killPoint{class: c, nth: 1 + w.rng.IntN(w.lastCounts[c]+1), after: w.rng.IntN(2) == 0}
}

// run runs `patrol once` in its own process, killed at p (nil: never).
func (w *chaosWorld) run(p *killPoint) {
	w.t.Helper()
	cmd := exec.Command(os.Args[0], "once", "--config", w.conf)
	cmd.Env = append(os.Environ(), childEnv+"=1", "JIRA_USER=bot@example.com", "JIRA_TOKEN=token", "SLACK_TOKEN=xoxb-test",
		"AWS_ACCESS_KEY_ID=AKIAPATROLTEST000001", "AWS_SECRET_ACCESS_KEY=test-secret")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	start := time.Now()
	w.k.arm(cmd.Process, p)
	done := make(chan struct{})
	var err error
	go func() { err = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		<-done
		w.t.Fatalf("seed %d: patrol once did not finish in a minute\n%s", w.seed, out.String())
	}
	w.lastExit = exitOK
	if ee, ok := err.(*exec.ExitError); ok {
		w.lastExit = ee.ExitCode() // -1 when killed
	}
	if w.lastExit == exitInvalid {
		w.t.Fatalf("seed %d: patrol once: invalid input\n%s", w.seed, out.String())
	}
	w.figures.runs++
	what := "not killed"
	if w.k.killed() {
		w.figures.kills++
		what = "killed " + p.String()
		if p.class == "time" || (p.class == "aws write" && !p.after) {
			w.figures.inFlight++ // may have fallen between an action's send mark and AWS
		}
	} else if p != nil {
		what += " (" + p.String() + " not reached)"
	}
	w.history = append(w.history, fmt.Sprintf("run %d: %s", w.figures.runs, what))
	w.lastCounts, w.lastTook = w.k.arm(nil, nil), time.Since(start)
	w.lastOut = out.String()
}

// approve has the approver approve each shown plan not approved yet (all,
// or a seeded half of them).
func (w *chaosWorld) approve(all bool) {
	for _, is := range w.jira.Issues() {
		if !hasLabel(is.Labels, "patrol-det-e2e-external-key") || hasLabel(is.Labels, "patrol-approve") {
			continue
		}
		for _, c := range is.Comments {
			if !strings.Contains(jiratest.PlainText(c.Body), "Plan digest:") || !(all || w.rng.IntN(2) == 0) {
				continue
			}
			// Approvals count when given after the plan comment, by
			// Jira's clock (milliseconds).
			waitFor(w.t, "a millisecond after the plan", time.Second, func() bool { return time.Since(c.Created) > time.Millisecond })
			w.jira.AddLabel(is.Key, "patrol-approve", e2eApprover)
			break
		}
	}
}

func hasLabel(ls []string, l string) bool {
	for _, v := range ls {
		if v == l {
			return true
		}
	}
	return false
}
