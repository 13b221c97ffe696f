package s3

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/local/s3/s3test"
)

// A window lists the folders of the layout down to the date folders its
// span of delivery needs, and no others: not other days, not other hours,
// not digests, not folders outside AWSLogs/, never the bucket as a whole.
func TestListsOnlyTheDateFoldersAWindowNeeds(t *testing.T) {
	at := time.Date(2026, 11, 1, 10, 5, 0, 0, time.UTC)
	// With deliveries of other days and hours, which the window must not list.
	bucket, _ := sampleBucket(t, at, at.AddDate(0, 0, -12), at.AddDate(0, 0, 2), at.Add(-3*time.Hour))
	src, rec := newSource(t, s3test.URLs(bucket), Defaults(), nil)

	// (10:00, 10:05]: files delivered from 09:00 (the upload slack) to 10:05.
	if _, err := src.List(context.Background(), poller.Query{SPL: "*", Window: poller.Window{Start: at.Add(-5 * time.Minute), End: at}}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"AWSLogs/",
		"AWSLogs/444455556666/",
		"AWSLogs/444455556666/CloudTrail/",
		"AWSLogs/444455556666/CloudTrail/ap-southeast-1/2026/11/01/",
		"AWSLogs/444455556666/CloudTrail/us-east-1/2026/11/01/",
		"AWSLogs/444455556666/vpcdnsquerylogs/",
		"AWSLogs/444455556666/vpcdnsquerylogs/vpc-0a1b2c3d4e5f60718/2026/11/01/",
		"AWSLogs/444455556666/vpcflowlogs/",
		"AWSLogs/444455556666/vpcflowlogs/us-east-1/2026/11/01/",
		"AWSLogs/aws-account-id=111122223333/",
		"AWSLogs/aws-account-id=111122223333/aws-service=vpcflowlogs/",
		"AWSLogs/aws-account-id=111122223333/aws-service=vpcflowlogs/aws-region=us-east-1/year=2026/month=11/day=01/",
		"AWSLogs/aws-account-id=111122223333/aws-service=vpcflowlogs/aws-region=us-east-1/year=2026/month=11/day=01/hour=10/ (all)",
		"org-trail/AWSLogs/",
		"org-trail/AWSLogs/o-a1b2c3d4e5/",
		"org-trail/AWSLogs/o-a1b2c3d4e5/111122223333/",
		"org-trail/AWSLogs/o-a1b2c3d4e5/111122223333/CloudTrail/",
		"org-trail/AWSLogs/o-a1b2c3d4e5/111122223333/CloudTrail/us-east-1/2026/11/01/",
	}
	if got := rec.listed(); !reflect.DeepEqual(got, want) {
		t.Fatalf("listed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A window across midnight needs both days, and nothing more.
	midnight := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	if _, err := src.List(context.Background(), poller.Query{SPL: "*", Window: poller.Window{Start: midnight.Add(-2 * time.Minute), End: midnight.Add(3 * time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	var days []string
	for _, l := range rec.listed() {
		if strings.HasPrefix(l, "AWSLogs/444455556666/CloudTrail/us-east-1/") {
			days = append(days, l)
		}
	}
	if want := []string{"AWSLogs/444455556666/CloudTrail/us-east-1/2026/11/01/", "AWSLogs/444455556666/CloudTrail/us-east-1/2026/11/02/"}; !reflect.DeepEqual(days, want) {
		t.Fatalf("across midnight: %q", days)
	}

	// With no start (a first run over everything), the dates are found
	// by listing years, months and days, still one folder at a time.
	if _, err := src.List(context.Background(), poller.Query{SPL: "*", Window: poller.Window{End: at}}); err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, l := range rec.listed() {
		if strings.HasSuffix(l, "(all)") && !strings.Contains(l, "/hour=") {
			t.Errorf("listed everything below %s", l)
		}
		if strings.HasPrefix(l, "AWSLogs/444455556666/CloudTrail/us-east-1/") {
			found = append(found, l)
		}
	}
	// 2026-11-03 was delivered after the window's end: not listed.
	if want := []string{
		"AWSLogs/444455556666/CloudTrail/us-east-1/",
		"AWSLogs/444455556666/CloudTrail/us-east-1/2026/",
		"AWSLogs/444455556666/CloudTrail/us-east-1/2026/10/",
		"AWSLogs/444455556666/CloudTrail/us-east-1/2026/10/20/",
		"AWSLogs/444455556666/CloudTrail/us-east-1/2026/11/",
		"AWSLogs/444455556666/CloudTrail/us-east-1/2026/11/01/",
	}; !reflect.DeepEqual(found, want) {
		t.Fatalf("first run listed:\n%s", strings.Join(found, "\n"))
	}
}

// A prefix deeper in the layout reads only that part of it.
func TestPrefixInsideTheLayout(t *testing.T) {
	bucket, _ := sampleBucket(t, time.Now())
	src, rec := newSource(t, []string{"s3://" + bucket + "/AWSLogs/444455556666/CloudTrail/"}, Defaults(), nil)
	l, err := src.List(context.Background(), poller.Query{SPL: "*"})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Objects) != 3 { // two deliveries in us-east-1, one of them also in ap-southeast-1
		t.Fatalf("objects: %+v", l.Objects)
	}
	for _, o := range l.Objects {
		if o.Sourcetype != stCloudTrail || !strings.Contains(o.Name, "/444455556666/CloudTrail/") {
			t.Errorf("object %+v", o)
		}
	}
	for _, p := range rec.listed() {
		if !strings.HasPrefix(p, "AWSLogs/444455556666/CloudTrail/") {
			t.Errorf("listed %s", p)
		}
	}
}

// Wrong locations fail with an error that names them; they never read as
// "no events".
func TestLocationErrors(t *testing.T) {
	bucket, _ := sampleBucket(t, time.Now())
	for _, tc := range []struct{ url, want string }{
		{"s3://" + bucket + "/typo-trail/", "s3://" + bucket + "/typo-trail/: nothing under typo-trail/AWSLogs/: give the prefix the logs are delivered under"},
		{"s3://no-such-bucket-patrol/", "NoSuchBucket"},
	} {
		src, _ := newSource(t, []string{tc.url}, Defaults(), nil)
		_, err := src.List(context.Background(), poller.Query{SPL: "*"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.url, err, tc.want)
		}
	}
	for _, tc := range []struct{ url, want string }{
		{"s3://Bad_Bucket/", `"Bad_Bucket" is not an S3 bucket name`},
		{"s3://b-b-b/AWSLogs/111122223333/elasticloadbalancing/", `"elasticloadbalancing" is not a folder of the AWS log delivery layout here`},
		{"s3://b-b-b/AWSLogs/111122223333/CloudTrail/us-east-1/2026/13/", `"13" is not a folder`},
		{"s3://b-b-b/logs/*/", "no empty parts, no wildcards"},
	} {
		if _, err := ParseURL(tc.url); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.url, err, tc.want)
		}
	}
}

// Searches that run together (detections on the same tick) list each folder
// once between them; a window that ends after a listing started lists anew.
func TestListingsShared(t *testing.T) {
	c, bucket := newBucket(t)
	objs, err := s3test.Samples(samples, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	arrived := upload(t, c, bucket, objs)
	src, rec := newSource(t, s3test.URLs(bucket), Defaults(), nil)
	src.listings.reuse = listingReuse
	ctx := context.Background()
	w := poller.Window{Start: arrived.Add(-5 * time.Minute), End: arrived} // ended before the searches list
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if l, err := src.List(ctx, poller.Query{SPL: "*", Window: w}); err != nil || len(l.Objects) == 0 {
				t.Errorf("list: %v, %v", l, err)
			}
		}()
	}
	wg.Wait()
	once := rec.listed()
	seen := map[string]bool{}
	for _, p := range once {
		if seen[p] {
			t.Errorf("listed %s twice", p)
		}
		seen[p] = true
	}
	// A window ending after those listings started needs a new one.
	if _, err := src.List(ctx, poller.Query{SPL: "*", Window: poller.Window{Start: w.End, End: time.Now().Add(time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	if again := rec.listed(); len(again) == 0 {
		t.Fatal("a later window reused listings taken before it ended")
	}
}
