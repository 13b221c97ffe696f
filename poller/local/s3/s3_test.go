package s3

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/aws/awstest"
	"github.com/patrolsec/patrol/poller/local"
	"github.com/patrolsec/patrol/poller/local/s3/s3test"
	"github.com/patrolsec/patrol/state"
)

func TestMain(m *testing.M) {
	awstest.IsolateEnv()
	code := m.Run()
	awstest.Stop()
	os.Exit(code)
}

const samples = "../../../detections/samples"

var buckets struct {
	sync.Mutex
	n int
}

// newBucket creates an empty bucket on the emulator (which lives as long
// as the test binary: names are unique).
func newBucket(t testing.TB) (*s3.Client, string) {
	t.Helper()
	client := s3.NewFromConfig(awstest.Config(t, awstest.DefaultAccount), func(o *s3.Options) { o.UsePathStyle = true })
	buckets.Lock()
	buckets.n++
	name := fmt.Sprintf("patrol-logs-%d", buckets.n)
	buckets.Unlock()
	if _, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	return client, name
}

// upload puts objects into bucket and returns the latest arrival.
func upload(t testing.TB, c *s3.Client, bucket string, objs []s3test.Object) time.Time {
	t.Helper()
	ctx := context.Background()
	if err := s3test.Upload(ctx, c, bucket, objs); err != nil {
		t.Fatal(err)
	}
	last, err := s3test.LastArrival(ctx, c, bucket)
	if err != nil {
		t.Fatal(err)
	}
	return last
}

// sampleBucket is a new bucket holding the samples as AWS delivers them,
// once per delivery time given; it returns the bucket and the objects.
func sampleBucket(t testing.TB, deliveries ...time.Time) (string, []s3test.Object) {
	t.Helper()
	c, bucket := newBucket(t)
	var all []s3test.Object
	for _, at := range deliveries {
		objs, err := s3test.Samples(samples, at)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, objs...)
	}
	upload(t, c, bucket, all)
	return bucket, all
}

// recorder passes calls to the real client and records every listing.
type recorder struct {
	api
	mu    sync.Mutex
	lists []string // "prefix" or "prefix (all)" for an undelimited listing
	gets  int
}

func (r *recorder) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, o ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	r.mu.Lock()
	p := aws.ToString(in.Prefix)
	if in.Delimiter == nil {
		p += " (all)"
	}
	r.lists = append(r.lists, p)
	r.mu.Unlock()
	return r.api.ListObjectsV2(ctx, in, o...)
}

func (r *recorder) GetObject(ctx context.Context, in *s3.GetObjectInput, o ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	r.mu.Lock()
	r.gets++
	r.mu.Unlock()
	return r.api.GetObject(ctx, in, o...)
}

func (r *recorder) listed() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]string(nil), r.lists...)
	sort.Strings(out)
	r.lists = nil
	return out
}

// newSource reads urls on the emulator through a recorder.
func newSource(t testing.TB, urls []string, cfg Config, ledger Ledger) (*Source, *recorder) {
	t.Helper()
	cfg.EndpointURL = awstest.URL(t)
	cfg.AllowInsecureHTTP = true // moto speaks http
	s, err := New(context.Background(), cfg, urls, Options{Region: "us-east-1", Ledger: ledger, Credentials: awstest.Creds})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{api: s.api}
	s.api = rec
	s.listings.reuse = 0 // every search lists (TestListingsShared turns it back on)
	return s, rec
}

// counts runs spl over the searcher and returns "k=v ..." rows, sorted.
func counts(t *testing.T, s *local.Searcher, q poller.Query, fields ...string) []string {
	t.Helper()
	var out []string
	err := s.Search(context.Background(), q, func(r poller.Result) error {
		var parts []string
		for _, f := range fields {
			parts = append(parts, f+"="+strings.Join(r[f], "|"))
		}
		out = append(out, strings.Join(parts, " "))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// The samples read from S3, delivered under every layout, give exactly the
// events they give from disk; digests and files outside AWSLogs/ are not
// read.
func TestSamplesFromS3MatchTheFolder(t *testing.T) {
	bucket, _ := sampleBucket(t, time.Now())
	src, rec := newSource(t, s3test.URLs(bucket), Defaults(), nil)
	fromS3 := local.NewSearcher(local.Options{Remotes: []local.Remote{src}, Host: "h"})
	fromDisk := local.NewSearcher(local.Options{Paths: []string{samples}, Host: "h"})

	for _, q := range []struct {
		spl    string
		fields []string
	}{
		{"* | stats count by sourcetype", []string{"sourcetype", "count"}},
		{"sourcetype=aws:cloudtrail | stats count dc(eventID) AS ids by recipientAccountId awsRegion", []string{"recipientAccountId", "awsRegion", "count", "ids"}},
		{"sourcetype=aws:cloudwatchlogs:vpcflow | stats count sum(bytes) AS bytes by account_id action", []string{"account_id", "action", "count", "bytes"}},
		{"sourcetype=aws:route53:resolver | stats count by query_name | sort - count | head 5", []string{"query_name", "count"}},
	} {
		disk := counts(t, fromDisk, poller.Query{SPL: q.spl}, q.fields...)
		s3 := counts(t, fromS3, poller.Query{SPL: q.spl}, q.fields...)
		if len(disk) == 0 || !reflect.DeepEqual(s3, disk) {
			t.Errorf("%s:\n S3:   %q\n disk: %q", q.spl, s3, disk)
		}
	}
	regions := counts(t, fromS3, poller.Query{SPL: "sourcetype=aws:cloudtrail | stats count by awsRegion"}, "awsRegion")
	if !reflect.DeepEqual(regions, []string{"awsRegion=ap-southeast-1", "awsRegion=us-east-1"}) {
		t.Errorf("regions: %q", regions)
	}
	sources := counts(t, fromS3, poller.Query{SPL: "* | stats count by source"}, "source")
	for _, s := range sources {
		if strings.Contains(s, "Digest") || strings.Contains(s, "other-data") || !strings.HasPrefix(s, "source=s3://"+bucket+"/") {
			t.Errorf("read %s", s)
		}
	}
	for _, l := range rec.listed() {
		if strings.Contains(l, "Digest") || strings.Contains(l, "other-data") || l == "" || l == " (all)" {
			t.Errorf("listed %q", l)
		}
	}
}

// A CloudTrail-only search fetches no flow or resolver log: the delivery
// layout says what each object holds.
func TestSearchFetchesOnlyObjectsOfItsSourcetype(t *testing.T) {
	bucket, objs := sampleBucket(t, time.Now())
	src, rec := newSource(t, s3test.URLs(bucket), Defaults(), nil)
	s := local.NewSearcher(local.Options{Remotes: []local.Remote{src}, Host: "h"})
	counts(t, s, poller.Query{SPL: "sourcetype=aws:cloudtrail eventName=StopLogging | stats count"}, "count")
	cloudtrail := 0
	for _, o := range objs {
		if strings.Contains(o.Key, "/CloudTrail/") {
			cloudtrail++
		}
	}
	if rec.gets != cloudtrail {
		t.Fatalf("fetched %d objects, want the %d CloudTrail ones", rec.gets, cloudtrail)
	}
}

// ledger is the state file's memory of objects read.
func ledger(t *testing.T) *state.DB {
	t.Helper()
	db, err := state.Open(filepath.Join(t.TempDir(), "patrol.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
