package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/patrolsec/patrol/poller/aws/awstest"
	"github.com/patrolsec/patrol/poller/local/s3/s3test"
)

// logArchive is the account that owns the log bucket; patrol reads it
// through a role there.
const logArchive = "999988887777"

// s3Config writes the repository's own config.toml (the shipped pack, its
// macros and lookups) with the state in dir and, when bucket is set, the
// samples read from that bucket instead of the folder.
func s3Config(t *testing.T, dir, name, bucket string) string {
	t.Helper()
	repo, _ := filepath.Abs("../..")
	b, err := os.ReadFile(filepath.Join(repo, "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.ReplaceAll(string(b), `"detections`, `"`+repo+`/detections`)
	cfg = strings.Replace(cfg, `path = "patrol.db"`, `path = "`+name+`.db"`, 1)
	if bucket != "" {
		folder := `paths = ["` + repo + `/detections/samples"]`
		if !strings.Contains(cfg, folder) {
			t.Fatalf("config.toml no longer reads %s", folder)
		}
		urls, _ := json.Marshal(s3test.URLs(bucket))
		cfg = strings.Replace(cfg, folder, "paths = "+string(urls), 1)
		cfg += fmt.Sprintf("\n[search.local.s3]\nendpoint_url = %q\nallow_insecure_http = true\nrole_arn = \"arn:aws:iam::%s:role/patrol-log-reader\"\n", awstest.URL(t), logArchive)
	}
	path := filepath.Join(dir, name+".toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// deliveredSamples creates a bucket in the log-archive account, fills it
// with the samples as AWS delivers them (once per delivery time given),
// gives patrol ambient credentials, and returns the bucket's name, a client
// and the last arrival.
func deliveredSamples(t *testing.T, name string, deliveries ...time.Time) (string, *s3.Client, time.Time) {
	t.Helper()
	ctx := context.Background()
	runs++
	bucket := fmt.Sprintf("%s-%d", name, runs) // the emulator outlives the test
	c := s3.NewFromConfig(awstest.Config(t, logArchive), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	for _, at := range deliveries {
		objs, err := s3test.Samples("../../detections/samples", at)
		if err != nil {
			t.Fatal(err)
		}
		if err := s3test.Upload(ctx, c, bucket, objs); err != nil {
			t.Fatal(err)
		}
	}
	arrived, err := s3test.LastArrival(ctx, c, bucket)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAPATROLTEST000001")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
	return bucket, c, arrived
}

// setClock makes the detect job's windows end at end + settle.
func setClock(t *testing.T, at time.Time) {
	t.Helper()
	old := clock
	clock = func() time.Time { return at }
	t.Cleanup(func() { clock = old })
}

var detectLine = regexp.MustCompile(`(?m)^detect\s+(\S+)\s+results=(\d+)\s+alerts=(\d+).*\s(ok|FAILED.*)$`)

// once runs patrol once and returns "id results=N alerts=N" per detection.
func once(t *testing.T, conf string, args ...string) []string {
	t.Helper()
	code, out, errOut := patrol(t, append([]string{"once", "--config", conf}, args...)...)
	if code != exitOK {
		t.Fatalf("once --config %s: exit %d\n%s\n%s", conf, code, out, errOut)
	}
	var lines []string
	for _, m := range detectLine.FindAllStringSubmatch(out, -1) {
		lines = append(lines, m[1]+" results="+m[2]+" alerts="+m[3])
	}
	return lines
}

// ticketSet is `patrol tickets --json` as "detection: summary" lines.
func ticketSet(t *testing.T, conf string) []string {
	t.Helper()
	code, out, errOut := patrol(t, "tickets", "--config", conf, "--json")
	if code != exitOK {
		t.Fatalf("tickets: %d %s", code, errOut)
	}
	var set []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var v ticketView
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("%v: %q", err, line)
		}
		set = append(set, v.Detection+": "+v.Summary)
	}
	sort.Strings(set)
	return set
}

// The shipped pack over the samples delivered to S3 (two accounts, two
// regions, an organization trail, hive-compatible hourly flow logs, resolver
// logs), read through a role in the log-archive account, opens exactly the
// tickets it opens over the samples folder.
func TestOnceOverS3OpensTheFolderTickets(t *testing.T) {
	bucket, _, arrived := deliveredSamples(t, "org-logs", time.Now())
	setClock(t, arrived.Add(10*time.Minute)) // the pack's longest settle is 10m

	dir := t.TempDir()
	folder, fromS3 := s3Config(t, dir, "folder", ""), s3Config(t, dir, "s3", bucket)
	diskRuns, s3Runs := once(t, folder), once(t, fromS3)
	if len(diskRuns) < 20 || !reflect.DeepEqual(s3Runs, diskRuns) {
		t.Fatalf("detect runs differ:\nS3:     %q\nfolder: %q", s3Runs, diskRuns)
	}
	diskTickets, s3Tickets := ticketSet(t, folder), ticketSet(t, fromS3)
	if len(diskTickets) < 20 || !reflect.DeepEqual(s3Tickets, diskTickets) {
		t.Fatalf("tickets differ:\nS3:     %q\nfolder: %q", s3Tickets, diskTickets)
	}
	// A second run makes no ticket and reads nothing again.
	setClock(t, arrived.Add(15*time.Minute))
	for _, l := range once(t, fromS3) {
		if !strings.HasSuffix(l, "results=0 alerts=0") {
			t.Errorf("second run: %s", l)
		}
	}
}

// A CloudTrail file delivered after the window that holds its event is
// found by the next window, once; a later window that reaches back over it
// does not read it again.
func TestOnceOverS3FindsLateDeliveryOnce(t *testing.T) {
	ctx := context.Background()
	bucket, c, arrived := deliveredSamples(t, "late-logs", time.Now())
	conf := s3Config(t, t.TempDir(), "late", bucket)
	const det = "cloudtrail-logging-stopped" // settle 2m

	setClock(t, arrived.Add(2*time.Minute)) // the window ends at the last arrival
	if got := once(t, conf, "--detection", det); len(got) != 1 || got[0] == det+" results=0 alerts=0" {
		t.Fatalf("first run: %q", got)
	}
	before := len(ticketSet(t, conf))
	// A StopLogging that happened inside that window, delivered after it.
	late := s3test.TrailFile("444455556666", "late-trail", arrived.Add(-10*time.Minute), arrived)
	lateArrival, err := s3test.UploadAfter(ctx, c, bucket, late, arrived)
	if err != nil {
		t.Fatal(err)
	}
	setClock(t, lateArrival.Add(2*time.Minute))
	if got := once(t, conf, "--detection", det); fmt.Sprint(got) != "["+det+" results=1 alerts=1]" {
		t.Fatalf("run after the late delivery: %q", got)
	}
	tickets := ticketSet(t, conf)
	if len(tickets) != before+1 || !strings.Contains(strings.Join(tickets, "\n"), "CloudTrail logging stopped on late-trail in 444455556666") {
		t.Fatalf("tickets: %q", tickets)
	}
	// The next window reaches back over the late file (overlap) and skips it.
	setClock(t, lateArrival.Add(3*time.Minute))
	if got := once(t, conf, "--detection", det); fmt.Sprint(got) != "["+det+" results=0 alerts=0]" {
		t.Fatalf("run after that: %q", got)
	}
}

// patrol search over S3 shows progress on stderr (objects, bytes, rate).
func TestSearchOverS3ShowsProgress(t *testing.T) {
	bucket, _, _ := deliveredSamples(t, "search-logs", time.Now().Add(-time.Hour), time.Now())
	old := showProgress
	showProgress = func(io.Writer) bool { return true }
	t.Cleanup(func() { showProgress = old })
	conf := s3Config(t, t.TempDir(), "search", bucket)
	code, out, errOut := patrol(t, "search", "--config", conf, "index=main | stats count by sourcetype")
	if code != exitOK {
		t.Fatalf("search: exit %d %s", code, errOut)
	}
	if !strings.Contains(out, `"sourcetype":"aws:cloudtrail"`) {
		t.Errorf("results: %s", out)
	}
	if !regexp.MustCompile(`(?m)^search: read 16 objects, [0-9.]+ MB in [0-9.]+m?s \([0-9.]+ MB/s\); \d+ events`).MatchString(errOut) {
		t.Errorf("progress: %q", errOut)
	}
}

// patrol backtest over S3 shows progress on stderr (objects, bytes, rate),
// without garbling its detection lines: in a log, whole lines (the
// detection it is at, the counts, a summary); on a terminal, one line
// redrawn in place with the detection and the counts, erased before the
// summary.
func TestBacktestOverS3ShowsProgress(t *testing.T) {
	bucket, _, arrived := deliveredSamples(t, "backtest-logs", time.Now().Add(-time.Hour), time.Now())
	conf := s3Config(t, t.TempDir(), "backtest", bucket)
	// A slow read: every look at the meter's clock finds it 11s later, so
	// each object read is past the interval (10s in a log) and printed.
	old := meterClock
	t.Cleanup(func() { meterClock = old })
	dets := []string{"cloudtrail-logging-stopped", "vpcflow-admin-port-from-internet"}
	args := []string{"backtest", "--config", conf, "--detection", dets[0], "--detection", dets[1],
		"--from", "all", "--to", arrived.Add(time.Minute).Format(time.RFC3339)}
	summary := regexp.MustCompile(`^backtest: read (\d+) objects, [0-9.]+ MB in [0-9.hms]+ \([0-9.]+ MB/s\); \d+ events, \d+ passed the search filter$`)
	counts := regexp.MustCompile(`^backtest: (\d+)/\d+ objects, [0-9.]+ MB of [0-9.]+ MB \(\d+%\), [0-9.]+ MB/s`)
	stepClock := func() {
		at := time.Unix(0, 0)
		meterClock = func() time.Time { at = at.Add(11 * time.Second); return at } // called under the meter's lock
	}

	t.Run("log", func(t *testing.T) {
		stepClock()
		code, out, errOut := patrol(t, args...)
		if code != exitOK || !strings.Contains(out, dets[0]+" (live): windows=1 results=") {
			t.Fatalf("backtest: exit %d\n%s\n%s", code, out, errOut)
		}
		if strings.ContainsAny(errOut, "\r\x1b") {
			t.Fatalf("terminal codes in a log: %q", errOut)
		}
		// The detection lines, then one count line per object read (the
		// count rising by one each time), then the summary.
		lines := strings.Split(strings.TrimSuffix(withoutLogLines(errOut), "\n"), "\n")
		var reads []int // objects read after each detection's line
		read := 0
		for i, l := range lines {
			if i == len(lines)-1 {
				if m := summary.FindStringSubmatch(l); m == nil || m[1] != fmt.Sprint(read) || read < 10 {
					t.Errorf("summary after %d objects: %q", read, l)
				}
				continue
			}
			if m := counts.FindStringSubmatch(l); m != nil && m[1] == fmt.Sprint(read+1) && len(reads) > 0 {
				read++
				reads[len(reads)-1]++
				continue
			}
			if n := len(reads); n < len(dets) && l == fmt.Sprintf("backtest: detection %d/%d %s (1 window(s))", n+1, len(dets), dets[n]) {
				reads = append(reads, 0)
				continue
			}
			t.Errorf("line %d out of place: %q", i+1, l)
		}
		if len(reads) != len(dets) || slices.Contains(reads, 0) {
			t.Errorf("want each detection's line followed by its reads, got:\n%s", errOut)
		}
	})

	t.Run("terminal", func(t *testing.T) {
		stepClock()
		var out, errOut terminal
		if code := dispatch(context.Background(), args, &out, &errOut); code != exitOK {
			t.Fatalf("backtest: exit %d\n%s\n%q", code, out.String(), errOut.String())
		}
		// Everything before the summary is redrawn in place: no line ends,
		// and the counts carry the detection and window they belong to.
		e := withoutLogLines(errOut.String())
		cut := strings.LastIndex(e, "\r\x1b[K")
		if cut < 0 || !summary.MatchString(strings.TrimSuffix(e[cut+len("\r\x1b[K"):], "\n")) {
			t.Fatalf("no summary after the erased line: %q", e)
		}
		live := regexp.MustCompile(`^\rbacktest: detection [12]/2 (\S+), window 1/1(: \d+/\d+ objects, [^\r\n]*)?\x1b\[K$`)
		withCounts := 0
		for _, draw := range strings.SplitAfter(e[:cut], "\x1b[K") {
			if draw == "\r\x1b[K" || draw == "" {
				continue
			}
			m := live.FindStringSubmatch(draw)
			if m == nil || (m[1] != dets[0] && m[1] != dets[1]) {
				t.Errorf("not a redrawn progress line: %q", draw)
				continue
			}
			if m[2] != "" {
				withCounts++
			}
		}
		if withCounts < 10 {
			t.Errorf("%d progress lines with counts:\n%q", withCounts, e)
		}
	})
}

// withoutLogLines drops whole log records (the warning that the test's
// endpoint is plain http) from stderr, leaving the progress output.
func withoutLogLines(s string) string {
	var keep []string
	for _, l := range strings.SplitAfter(s, "\n") {
		if !strings.HasPrefix(l, `{"time":`) && !strings.HasPrefix(l, "time=") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}
