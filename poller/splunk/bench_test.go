package splunk

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller/local"
	"github.com/patrolsec/patrol/state"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/splunk/splunktest"
)

// cloudTrailRows returns a generator of CloudTrail-like results (a 1 KiB
// _raw with JSON escapes, the fields a detection tables, one multivalue
// field). Rows are built ahead and reused, so the fake costs little next to
// the client being measured; eventID still differs per row.
func cloudTrailRows() func(i int) splunktest.Event {
	const pool = 64
	rows := make([]splunktest.Event, pool)
	for p := range rows {
		id := fmt.Sprintf("9f8d2b82-6e9d-45b8-9055-%012x", p)
		raw := `{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAYTOGP2RLEHRX5YWNV",` +
			`"arn":"arn:aws:iam::111111111111:user/ci-deploy","accountId":"111111111111","accessKeyId":"AKIAYTOGP2RLKQ3U2PDY",` +
			`"userName":"ci-deploy"},"eventTime":"2024-05-01T11:26:49Z","eventSource":"cloudtrail.amazonaws.com",` +
			`"eventName":"StopLogging","awsRegion":"us-west-2","sourceIPAddress":"198.51.100.23",` +
			`"userAgent":"aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0 exe/x86_64.ubuntu.22 prompt/off command/cloudtrail.stop-logging",` +
			`"requestParameters":{"name":"arn:aws:cloudtrail:us-west-2:111111111111:trail/main"},"responseElements":null,` +
			`"requestID":"d8b79caa-08d2-4f7e-b93a-73bb7b85f260","eventID":"` + id + `","readOnly":false,` +
			`"resources":[{"accountId":"111111111111","type":"AWS::CloudTrail::Trail","ARN":"arn:aws:cloudtrail:us-west-2:111111111111:trail/main"}],` +
			`"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111111111111","eventCategory":"Management",` +
			`"tlsDetails":{"tlsVersion":"TLSv1.2","cipherSuite":"ECDHE-RSA-AES128-GCM-SHA256","clientProvidedHostHeader":"cloudtrail.us-west-2.amazonaws.com"}}`
		rows[p] = splunktest.Event{Time: t0.Add(-time.Duration(p) * time.Second), Fields: map[string][]string{
			"_raw": {raw}, "eventID": {id}, "eventName": {"StopLogging"}, "eventSource": {"cloudtrail.amazonaws.com"},
			"userIdentity.arn": {"arn:aws:iam::111111111111:user/ci-deploy"}, "sourceIPAddress": {"198.51.100.23"},
			"recipientAccountId": {"111111111111"}, "awsRegion": {"us-west-2"}, "requestParameters.name": {"main"},
			"resources{}.ARN": {"arn:aws:cloudtrail:us-west-2:111111111111:trail/main", "arn:aws:s3:::trail-bucket"},
			"index":           {"aws"}, "sourcetype": {"aws:cloudtrail"}, "host": {"sqs-input-1"}, "source": {"s3://trail-bucket/AWSLogs"},
		}}
	}
	return func(i int) splunktest.Event { return rows[i%pool] }
}

// benchSearcher points a Searcher at a fake serving n generated rows.
func benchSearcher(tb testing.TB, n int, export bool) *Searcher {
	tb.Helper()
	fake := splunktest.New(tb, splunktest.Options{Token: testToken})
	fake.Generate(n, cloudTrailRows())
	tb.Setenv(tokenEnv, testToken)
	cfg := Defaults()
	cfg.URL, cfg.TokenEnv, cfg.Export, cfg.AllowInsecureHTTP = fake.URL, tokenEnv, export, true
	s, err := New(cfg, tb.TempDir(), slog.New(slog.DiscardHandler),
		WithSleep(func(ctx context.Context, _ time.Duration) error { return ctx.Err() }))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// heapPeak runs a search whose emit samples the heap every `every`
// results; with gc it collects first, so the figure is live memory only.
func heapPeak(tb testing.TB, s *Searcher, every int, gc bool) (results int, peak uint64) {
	tb.Helper()
	var ms runtime.MemStats
	sample := func() {
		if gc {
			runtime.GC()
		}
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	}
	err := s.Search(context.Background(), query("index=aws"), func(r poller.Result) error {
		results++
		if results%every == 0 {
			sample()
		}
		if r.Get("eventName") != "StopLogging" {
			return fmt.Errorf("row %d: %v", results, r)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	sample()
	return results, peak
}

// BenchmarkSearch measures results per second from the fake through the
// Searcher (dispatch, poll, page, decode, emit) and the heap it needs.
// allocs and B/op are per search and include the fake's share, which the
// prebuilt rows and hand-written encoder keep small.
func BenchmarkSearch(b *testing.B) {
	for _, tc := range []struct {
		rows   int
		export bool
	}{{10_000, false}, {100_000, false}, {100_000, true}} {
		name := "jobs/rows=" + strconv.Itoa(tc.rows)
		if tc.export {
			name = "export/rows=" + strconv.Itoa(tc.rows)
		}
		b.Run(name, func(b *testing.B) {
			s := benchSearcher(b, tc.rows, tc.export)
			b.ReportAllocs()
			var peak uint64
			total := 0
			for b.Loop() {
				n, p := heapPeak(b, s, 10_000, false)
				total += n
				peak = max(peak, p)
			}
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "results/s")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		})
	}
}

// TestMemoryFlat shows memory does not grow with the result count: the
// live heap while emitting the 100,000th result is about what it is while
// emitting the 10,000th (2,000 and 20,000 under -race). A client holding
// the results would need over 100 MiB more: each row is over 1 KiB.
func TestMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 110,000 results")
	}
	small, large := 10_000, 100_000
	if raceDetector {
		small, large = 2_000, 20_000
	}
	for _, export := range []bool{false, true} {
		t.Run(fmt.Sprintf("export=%v", export), func(t *testing.T) {
			_, heapSmall := heapPeak(t, benchSearcher(t, small, export), small/4, true)
			n, heapLarge := heapPeak(t, benchSearcher(t, large, export), large/4, true)
			if n != large {
				t.Fatalf("%d results", n)
			}
			t.Logf("live heap peak: %.1f MiB for %d results, %.1f MiB for %d", float64(heapSmall)/(1<<20), small, float64(heapLarge)/(1<<20), large)
			const slack = 8 << 20
			if heapLarge > heapSmall+slack {
				t.Errorf("live heap grew from %d to %d bytes with 10x the results", heapSmall, heapLarge)
			}
		})
	}
}

// BenchmarkDetectPipeline measures results/s from the fake through the
// Searcher, fingerprinting, the window staging and the alert ledger (SQLite),
// with the peak heap: `patrol once` on a 100k-result window.
func BenchmarkDetectPipeline(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("results=%d", n), func(b *testing.B) {
			s := benchSearcher(b, n, false)
			d := &detections.Detection{ID: "stop-logging", Title: "t", Severity: "high", Suppress: time.Hour,
				Expanded: "index=aws", TimeMode: detections.TimeIndex, GroupBy: []string{"eventID"}}
			d.Ticket.Summary, _ = detections.ParseTemplate("StopLogging {eventID}")
			for i := 0; i < b.N; i++ {
				db, err := state.Open(filepath.Join(b.TempDir(), "patrol.db"), nil)
				if err != nil {
					b.Fatal(err)
				}
				j := &poller.Detector{Searcher: s, Tracker: &local.Tracker{DB: db, Label: "patrol"}, Store: db, Label: "patrol",
					FirstRunAll: true, Logger: slog.New(slog.DiscardHandler)}
				var peak atomic.Uint64
				stop := make(chan struct{})
				sampled := make(chan struct{})
				go func() {
					defer close(sampled)
					var ms runtime.MemStats
					for {
						runtime.ReadMemStats(&ms)
						peak.Store(max(peak.Load(), ms.HeapInuse))
						select {
						case <-stop:
							return
						case <-time.After(5 * time.Millisecond):
						}
					}
				}()
				start := time.Now()
				st, err := j.Run(context.Background(), d)
				elapsed := time.Since(start)
				close(stop)
				<-sampled
				if err != nil || st.Results != n {
					b.Fatalf("run: %v, %d results", err, st.Results)
				}
				b.ReportMetric(float64(n)/elapsed.Seconds(), "results/s")
				b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
				b.ReportMetric(float64(st.Alerts), "alerts")
				db.Close()
			}
		})
	}
}
