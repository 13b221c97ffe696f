package poller

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/patrolsec/patrol/state"
)

// genSearcher emits n CloudTrail-like results spread over k fingerprints,
// built one at a time: a stand-in for a backend that streams.
type genSearcher struct{ n, k int }

func (g genSearcher) Search(ctx context.Context, q Query, emit func(Result) error) error {
	at := q.Window.End.Add(-time.Minute)
	for i := 0; i < g.n; i++ {
		r := Result{
			"_time":                  {at.Format(time.RFC3339)},
			"eventName":              {"AuthorizeSecurityGroupIngress"},
			"recipientAccountId":     {"111122223333"},
			"requestParameters.name": {fmt.Sprintf("sg-%08d", i%g.k)},
			"eventID":                {fmt.Sprintf("%08d-0000-4000-8000-000000000000", i)},
			"sourceIPAddress":        {"192.0.2.66"},
			"userIdentity.arn":       {"arn:aws:iam::111122223333:user/mallory"},
		}
		if err := emit(r); err != nil {
			return err
		}
	}
	return nil
}

// peakHeap samples the heap in use until stop is closed.
func peakHeap(stop <-chan struct{}) func() uint64 {
	var peak atomic.Uint64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { wg.Wait(); return peak.Load() }
}

// BenchmarkDetectPipeline measures results/s from a searcher through
// fingerprinting, the window staging and the alert ledger, and the peak
// heap: it must not grow with the result count.
func BenchmarkDetectPipeline(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("results=%d", n), func(b *testing.B) {
			benchPipeline(b, genSearcher{n: n, k: 1000}, n)
		})
	}
}

func benchPipeline(b *testing.B, s Searcher, n int) {
	b.Helper()
	c := newClock()
	for i := 0; i < b.N; i++ {
		db, err := state.Open(filepath.Join(b.TempDir(), "patrol.db"), c.Now)
		if err != nil {
			b.Fatal(err)
		}
		d := testDetection(&testing.T{}, "")
		j := &Detector{Searcher: s, Tracker: newTracker(c), Store: db, Label: "patrol", Now: c.Now,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		runtime.GC()
		stop := make(chan struct{})
		peak := peakHeap(stop)
		start := time.Now()
		st, err := j.Run(context.Background(), d)
		elapsed := time.Since(start)
		close(stop)
		if err != nil {
			b.Fatal(err)
		}
		if st.Results != n {
			b.Fatalf("results = %d", st.Results)
		}
		b.ReportMetric(float64(n)/elapsed.Seconds(), "results/s")
		b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MB")
		b.ReportMetric(float64(st.Alerts), "alerts")
		db.Close()
	}
}
