package firstseen_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/firstseen"
	"github.com/patrolsec/patrol/poller/searchtest"
	"github.com/patrolsec/patrol/state"
)

// BenchmarkFilter measures results/s through the detect job with a
// first-seen filter whose state already holds 10,000 value combinations:
// one window of 100,000 results, 1% of them new.
func BenchmarkFilter(b *testing.B) {
	const n, known = 100_000, 10_000
	for i := 0; i < b.N; i++ {
		r := searchtest.NewRig(b, "testdata", t0, func(db *state.DB, backend poller.Searcher) []poller.Kind {
			return []poller.Kind{&firstseen.Filter{Store: db, Searcher: backend, Logger: searchtest.Quiet}}
		})
		for k := 0; k < known; k++ {
			r.Backend.Add("new-network", t0.Add(-30*time.Minute), call(fmt.Sprintf("p%d", k), "203.0.113.0/24"))
		}
		r.MustRun("new-network") // learns them
		at := t0.Add(8 * day)
		for j := 0; j < n; j++ {
			network := "203.0.113.0/24"
			if j%100 == 0 {
				network = fmt.Sprintf("192.0.%d.0/24", j/100%250)
			}
			r.Backend.Add("new-network", at.Add(-time.Duration(j)*time.Millisecond), call(fmt.Sprintf("p%d", j%known), network))
		}
		r.Now = at
		start := time.Now()
		alerts := r.MustRun("new-network")
		elapsed := time.Since(start)
		b.ReportMetric(float64(n)/elapsed.Seconds(), "results/s")
		b.ReportMetric(float64(alerts), "alerts")
	}
}
