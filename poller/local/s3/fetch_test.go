package s3

import (
	"context"
	"reflect"
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
	if want := []string{"111122223333 164", "444455556666 90"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if src.budget.left != 6<<10 || len(src.requests) != 0 {
		t.Fatalf("limits not given back: budget %d, requests %d", src.budget.left, len(src.requests))
	}
	if rec.gets == 0 {
		t.Fatal("nothing fetched")
	}
}
