package s3

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/local"
	"github.com/patrolsec/patrol/poller/local/s3/s3test"
	"github.com/patrolsec/patrol/state"
)

func trailFile(trail string, eventTime, at time.Time) s3test.Object {
	return s3test.TrailFile("444455556666", trail, eventTime, at)
}

// putAfter uploads o so that it arrives after `after`.
func putAfter(t *testing.T, c *s3.Client, bucket string, o s3test.Object, after time.Time) time.Time {
	t.Helper()
	lm, err := s3test.UploadAfter(context.Background(), c, bucket, o, after)
	if err != nil {
		t.Fatal(err)
	}
	return lm
}

// window runs one detect window of detection as the detect job does:
// staging cleared, the search, then the checkpoint with what it read.
// crash stops before the checkpoint.
func window(t *testing.T, s *local.Searcher, db *state.DB, detection string, w poller.Window, crash bool) []string {
	t.Helper()
	ctx := context.Background()
	if err := db.ClearHits(ctx, detection); err != nil {
		t.Fatal(err)
	}
	var trails []string
	q := poller.Query{Detection: detection, SPL: "sourcetype=aws:cloudtrail eventName=StopLogging | table requestParameters.name", Window: w, Remember: true}
	err := s.Search(ctx, q, func(r poller.Result) error {
		trails = append(trails, r.Get("requestParameters.name"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !crash {
		if err := db.CompleteWindow(ctx, detection, w.End); err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(trails)
	return trails
}

// Windows follow arrival: a file delivered after the window that holds its
// events is found by the window it arrived in ("late"), and a file that
// arrived in a window but became visible only after that window listed is
// found by the next one ("early"). Each is read once: the state remembers
// what was read, with each window's checkpoint, so a crash before the
// checkpoint loses nothing.
func TestLateDeliveriesFoundOnce(t *testing.T) {
	c, bucket := newBucket(t)
	db := ledger(t)
	src, rec := newSource(t, []string{"s3://" + bucket + "/"}, Defaults(), db)
	s := local.NewSearcher(local.Options{Remotes: []local.Remote{src}, Host: "h"})

	now := time.Now().UTC().Truncate(time.Second)
	arrivedA := putAfter(t, c, bucket, trailFile("alpha", now.Add(-10*time.Minute), now), time.Time{})
	// "late" searches up to alpha's arrival; "early" ends 30s later, so
	// the files uploaded next arrive inside its first window, after it
	// listed.
	late1 := poller.Window{Start: arrivedA.Add(-time.Minute), End: arrivedA}
	early1 := poller.Window{Start: arrivedA.Add(-time.Minute), End: arrivedA.Add(30 * time.Second)}
	for det, w := range map[string]poller.Window{"late": late1, "early": early1} {
		if got := window(t, s, db, det, w, false); fmt.Sprint(got) != "[alpha]" {
			t.Fatalf("%s window 1: %q", det, got)
		}
	}
	// beta and gamma hold events of the windows above and arrive after
	// "late"'s window 1; delta holds an event older than event_time_span
	// (7d) before the windows: dropped, as on Splunk.
	putAfter(t, c, bucket, trailFile("beta", arrivedA.Add(-5*time.Minute), arrivedA), arrivedA)
	arrivedG := putAfter(t, c, bucket, trailFile("gamma", arrivedA.Add(-10*time.Second), arrivedA), arrivedA)
	putAfter(t, c, bucket, trailFile("delta", arrivedA.AddDate(0, 0, -8), arrivedA), arrivedA)
	if arrivedG.After(early1.End) {
		t.Skip("the emulator took over 30s to accept three uploads")
	}

	// "late", window 2: a crash after reading, before the checkpoint.
	late2 := poller.Window{Start: late1.End, End: arrivedG.Add(time.Second)}
	if got := window(t, s, db, "late", late2, true); fmt.Sprint(got) != "[beta gamma]" {
		t.Fatalf("late window 2: %q", got)
	}
	// The retried window reads them again (nothing was lost), and alpha,
	// which its listing reaches back to, is not read again.
	rec.gets = 0
	if got := window(t, s, db, "late", late2, false); fmt.Sprint(got) != "[beta gamma]" {
		t.Fatalf("late window 2 after the crash: %q", got)
	}
	if rec.gets != 3 { // beta, gamma and delta; not alpha
		t.Fatalf("late window 2 fetched %d objects", rec.gets)
	}
	// "early", window 2: what arrived inside window 1 but after it listed
	// is found by reaching back (overlap, 15m); alpha is not read again.
	rec.gets = 0
	early2 := poller.Window{Start: early1.End, End: early1.End.Add(time.Minute)}
	if got := window(t, s, db, "early", early2, false); fmt.Sprint(got) != "[beta gamma]" || rec.gets != 3 {
		t.Fatalf("early window 2: %q (%d fetched)", got, rec.gets)
	}
	// Third windows reach back over all of them and read none again.
	rec.gets = 0
	for det, w := range map[string]poller.Window{"late": {Start: late2.End, End: late2.End.Add(time.Minute)}, "early": {Start: early2.End, End: early2.End.Add(time.Minute)}} {
		if got := window(t, s, db, det, w, false); len(got) != 0 {
			t.Fatalf("%s window 3 read again: %q", det, got)
		}
	}
	if rec.gets != 0 {
		t.Fatalf("third windows fetched %d objects", rec.gets)
	}
	// Ad-hoc searches remember nothing and follow the window exactly.
	var adhoc []string
	err := s.Search(context.Background(), poller.Query{SPL: "eventName=StopLogging | table requestParameters.name | sort requestParameters.name", Window: poller.Window{Start: late1.Start, End: late2.End}},
		func(r poller.Result) error { adhoc = append(adhoc, r.Get("requestParameters.name")); return nil })
	if err != nil || fmt.Sprint(adhoc) != "[alpha beta gamma]" {
		t.Fatalf("ad hoc: %q %v", adhoc, err)
	}
	// In event time, the window bounds when events happened.
	var byEvent []string
	err = s.Search(context.Background(), poller.Query{SPL: "eventName=StopLogging | table requestParameters.name", TimeMode: poller.EventTime,
		Window: poller.Window{Start: arrivedA.Add(-time.Minute), End: arrivedA}},
		func(r poller.Result) error { byEvent = append(byEvent, r.Get("requestParameters.name")); return nil })
	if err != nil || fmt.Sprint(byEvent) != "[gamma]" {
		t.Fatalf("event time: %q %v", byEvent, err)
	}
}

// An object rewritten between its listing and its download is an error
// (the window is searched again), never a silent mix of two versions.
func TestRewrittenObjectFailsTheSearch(t *testing.T) {
	c, bucket := newBucket(t)
	src, _ := newSource(t, []string{"s3://" + bucket + "/"}, Defaults(), nil)
	now := time.Now().UTC()
	o := trailFile("alpha", now, now)
	upload(t, c, bucket, []s3test.Object{o})
	l, err := src.List(context.Background(), poller.Query{SPL: "*"})
	if err != nil || len(l.Objects) != 1 {
		t.Fatalf("%v %v", l, err)
	}
	o.Body = append(o.Body, ' ')
	upload(t, c, bucket, []s3test.Object{o})
	err = src.Fetch(context.Background(), l.Objects, func(local.Object, io.Reader) error { return nil })
	if err == nil || !strings.Contains(err.Error(), l.Objects[0].Name) || !strings.Contains(err.Error(), "PreconditionFailed") {
		t.Fatalf("fetch of a rewritten object: %v", err)
	}
}
