package sequence_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/state"
)

// BenchmarkEvaluate measures one sequence run over a ledger holding 5,000
// alerts of each step (every key created, half of them used within the
// span): step alerts read per second, and the instances it fires.
func BenchmarkEvaluate(b *testing.B) {
	const keys = 5_000
	for i := 0; i < b.N; i++ {
		w := newWorld(b)
		ctx := context.Background()
		add := func(det string, at time.Time, r poller.Result) {
			raw, _ := json.Marshal(r)
			if _, err := w.DB.CreatePendingAlert(ctx, state.Alert{Detection: det, Fingerprint: fmt.Sprintf("%s-%v", det, r),
				FirstSeen: at, LastSeen: at, Count: 1, Result: string(raw)}); err != nil {
				b.Fatal(err)
			}
		}
		for k := 0; k < keys; k++ {
			key := fmt.Sprintf("AKIA%016d", k)
			add("key-created", t0.Add(time.Duration(k)*time.Second), created("111122223333", key))
			at := t0.Add(time.Duration(k)*time.Second + time.Hour)
			if k%2 == 1 {
				at = at.Add(25 * time.Hour)
			}
			add("key-used", at, used("111122223333", key, "192.0.2.66"))
		}
		for _, step := range []string{"key-created", "key-used"} {
			if err := w.DB.CompleteWindow(ctx, step, t0.Add(30*time.Hour)); err != nil {
				b.Fatal(err)
			}
		}
		d := w.Detections["key-created-then-used"]
		e := kinds(w.DB)[0]
		fired := 0
		start := time.Now()
		err := e.SearcherFor(d).Search(ctx, poller.Query{Detection: d.ID, Window: poller.Window{End: t0.Add(30 * time.Hour)}}, func(poller.Result) error {
			fired++
			return nil
		})
		elapsed := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(2*keys)/elapsed.Seconds(), "step-alerts/s")
		b.ReportMetric(float64(fired), "fired")
	}
}
