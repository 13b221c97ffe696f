package s3

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/local"
	"github.com/patrolsec/patrol/poller/local/s3/s3test"
)

// With one request at a time, objects too large to read ahead, a memory
// budget that runs out, and a join whose subsearch reads the bucket inside
// the main search's scan, a search still finishes with every event.
func TestFetchUnderTightLimits(t *testing.T) {
	bucket, _ := sampleBucket(t, time.Now())
	cfg := Defaults()
	cfg.MaxConcurrent = 1
	src, rec := newSource(t, s3test.URLs(bucket), cfg, nil)
	src.prefetchMax = 4 << 10           // the larger samples are streamed
	src.budget = &budget{left: 6 << 10} // and the budget fits one or two small ones
	s := local.NewSearcher(local.Options{Remotes: []local.Remote{src}, Host: "h"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var got []string
	err := s.Search(ctx, poller.Query{SPL: `sourcetype=aws:cloudtrail eventName=StopLogging
		| join recipientAccountId [search sourcetype=aws:cloudtrail | stats count AS events by recipientAccountId]
		| table recipientAccountId events`}, func(r poller.Result) error {
		got = append(got, r.Get("recipientAccountId")+" "+r.Get("events"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"111122223333 169", "444455556666 90"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if src.budget.left != 6<<10 || len(src.requests) != 0 {
		t.Fatalf("limits not given back: budget %d, requests %d", src.budget.left, len(src.requests))
	}
	if rec.gets == 0 {
		t.Fatal("nothing fetched")
	}
}

// Flow logs delivered as Parquet fail the searches that need them, saying
// so; the others still run.
func TestParquetFlowLogsNamed(t *testing.T) {
	c, bucket := newBucket(t)
	now := time.Now().UTC()
	key := "AWSLogs/444455556666/vpcflowlogs/us-east-1/" + now.Format("2006/01/02") + "/444455556666_vpcflowlogs_us-east-1_fl-0a1b2c3d_" + now.Format("20060102T1504Z") + "_a1b2c3d4.log.parquet"
	upload(t, c, bucket, []s3test.Object{{Key: key, Body: []byte("PAR1....PAR1")}, s3test.TrailFile("444455556666", "alpha", now, now)})
	src, _ := newSource(t, []string{"s3://" + bucket + "/"}, Defaults(), nil)
	s := local.NewSearcher(local.Options{Remotes: []local.Remote{src}, Host: "h"})
	err := s.Search(context.Background(), poller.Query{SPL: "sourcetype=aws:cloudwatchlogs:vpcflow"}, func(poller.Result) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "s3://"+bucket+"/"+key+": Parquet is not read") {
		t.Fatalf("flow log search: %v", err)
	}
	n := 0
	err = s.Search(context.Background(), poller.Query{SPL: "sourcetype=aws:cloudtrail"}, func(poller.Result) error { n++; return nil })
	if err != nil || n != 1 {
		t.Fatalf("CloudTrail search: %d results, %v", n, err)
	}
}
