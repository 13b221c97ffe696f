package s3

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/aws/awstest"
	"github.com/patrolsec/patrol/poller/local"
	"github.com/patrolsec/patrol/poller/local/s3/s3test"
)

// The benchmark data: benchObjects gzipped CloudTrail files of about
// benchObjectMB of JSON each (the shipped sample records, repeated), under
// the real layout of two accounts and two regions, uploaded to the emulator
// and written to a folder with the same names.
const (
	benchObjects  = 64
	benchObjectMB = 1
)

var bench struct {
	bucket, dir      string
	raw, stored      int64
	err              error
	client           *s3.Client
	records, objects int
}

// benchData makes the data, once per run of the benchmark (its
// sub-benchmarks share it).
func benchData(b *testing.B) {
	b.Helper()
	func() {
		bench.client, bench.bucket = newBucket(b)
		bench.dir = b.TempDir()
		recs, err := sampleRecords()
		if err != nil {
			bench.err = err
			return
		}
		at := time.Now().UTC().Add(-time.Hour)
		var objs []s3test.Object
		n := 0
		bench.raw, bench.stored = 0, 0
		for i := range benchObjects {
			var body bytes.Buffer
			body.WriteString(`{"Records":[`)
			for j := 0; body.Len() < benchObjectMB<<20; j++ {
				if j > 0 {
					body.WriteByte(',')
				}
				body.Write(recs[n%len(recs)])
				n++
			}
			body.WriteString("]}\n")
			bench.raw += int64(body.Len())
			account := []string{"111122223333", "444455556666"}[i%2]
			region := []string{"us-east-1", "eu-west-1"}[i/2%2]
			key := s3test.CloudTrailKey(account, region, at.Add(time.Duration(i)*time.Minute), fmt.Sprintf("bench%011d", i))
			gz := s3test.Gzip(body.Bytes())
			bench.stored += int64(len(gz))
			objs = append(objs, s3test.Object{Key: key, Body: gz})
			path := filepath.Join(bench.dir, filepath.FromSlash(key))
			if bench.err = os.MkdirAll(filepath.Dir(path), 0o755); bench.err != nil {
				return
			}
			if bench.err = os.WriteFile(path, gz, 0o600); bench.err != nil {
				return
			}
		}
		bench.records, bench.objects = n, len(objs)
		bench.err = s3test.Upload(context.Background(), bench.client, bench.bucket, objs)
	}()
	if bench.err != nil {
		b.Fatal(bench.err)
	}
}

func sampleRecords() ([][]byte, error) {
	files, err := filepath.Glob(filepath.Join(samples, "cloudtrail", "*.json"))
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var doc struct{ Records []json.RawMessage }
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, err
		}
		for _, r := range doc.Records {
			out = append(out, r)
		}
	}
	return out, nil
}

// BenchmarkReadCloudTrail reads the same gzipped CloudTrail files from the
// S3 emulator (one download at a time, and max_concurrent = 8) and from
// disk, with a detection's filter. MB/s is of uncompressed JSON; MB/s-stored
// of the gzipped objects as transferred.
func BenchmarkReadCloudTrail(b *testing.B) {
	benchData(b)
	run := func(b *testing.B, s *local.Searcher) {
		b.SetBytes(bench.raw)
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			err := s.Search(context.Background(), poller.Query{SPL: "sourcetype=aws:cloudtrail eventName=StopLogging | stats count by recipientAccountId"},
				func(poller.Result) error { return nil })
			if err != nil {
				b.Fatal(err)
			}
		}
		secs := time.Since(start).Seconds() / float64(b.N)
		b.ReportMetric(float64(bench.stored)/1e6/secs, "MB/s-stored")
		b.ReportMetric(float64(bench.objects)/secs, "objects/s")
		b.ReportMetric(float64(bench.records)/secs, "events/s")
	}
	b.Run("disk", func(b *testing.B) {
		run(b, local.NewSearcher(local.Options{Paths: []string{bench.dir}, Host: "bench"}))
	})
	// The emulator answers in a few milliseconds; S3 takes tens (first
	// byte of a GET, in region), which is what concurrent downloads hide.
	slow := latencyProxy(b, 20*time.Millisecond)
	for _, lat := range []struct {
		name, endpoint string
	}{{"", ""}, {"-20ms", slow}} {
		for _, conc := range []int{1, 8} {
			b.Run(fmt.Sprintf("s3%s-concurrent-%d", lat.name, conc), func(b *testing.B) {
				cfg := Defaults()
				cfg.MaxConcurrent = conc
				var src *Source
				if lat.endpoint == "" {
					src, _ = newSource(b, []string{"s3://" + bench.bucket + "/"}, cfg, nil)
				} else {
					src = withEndpoint(b, cfg, lat.endpoint)
				}
				run(b, local.NewSearcher(local.Options{Remotes: []local.Remote{src}, Host: "bench"}))
			})
		}
	}
}

// latencyProxy forwards to the emulator after a delay, like a distant S3.
func latencyProxy(b *testing.B, d time.Duration) string {
	target, _ := url.Parse(awstest.URL(b))
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(d) // the round trip being simulated
		proxy.ServeHTTP(w, r)
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

// withEndpoint reads the benchmark bucket through endpoint.
func withEndpoint(b *testing.B, cfg Config, endpoint string) *Source {
	cfg.EndpointURL = endpoint
	cfg.AllowInsecureHTTP = true
	s, err := New(context.Background(), cfg, []string{"s3://" + bench.bucket + "/"}, Options{Region: "us-east-1", Credentials: awstest.Creds})
	if err != nil {
		b.Fatal(err)
	}
	return s
}
