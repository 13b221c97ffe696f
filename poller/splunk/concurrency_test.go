package splunk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/splunk/splunktest"
)

// TestConcurrencyLimit runs more searches than max_concurrent against jobs
// held open by the fake: no more than max_concurrent jobs are ever in
// flight, a search waiting for a slot gives up with its context, and all
// the others finish once the jobs are let go.
func TestConcurrencyLimit(t *testing.T) {
	for _, export := range []bool{false, true} {
		t.Run(fmt.Sprintf("export=%v", export), func(t *testing.T) {
			const searches, limit = 6, 2
			e := newEnv(t, splunktest.Options{}, func(c *Config) { c.MaxConcurrent, c.Export = limit, export })
			e.fake.Add(ev(t0.Add(-time.Minute), "a", "1"))
			hold := make(chan struct{})
			for range searches {
				e.fake.PlanJobs(splunktest.JobPlan{Hold: hold})
			}
			var wg sync.WaitGroup
			errs := make(chan error, searches)
			for i := range searches {
				wg.Add(1)
				go func() {
					defer wg.Done()
					q := query("*")
					q.Detection = fmt.Sprintf("d%d", i)
					_, err := e.search(q)
					errs <- err
				}()
			}
			if err := e.fake.Await(t.Context(), func(s splunktest.Stats) bool { return s.Held == limit }); err != nil {
				t.Fatal(err)
			}
			if st := e.fake.Stats(); st.Dispatched != limit {
				t.Errorf("%d searches dispatched while %d slots are taken", st.Dispatched, limit)
			}
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			_, err := e.searchCtx(ctx, query("*"))
			if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "free search slot") || poller.Retryable(err) {
				t.Errorf("waiting search: err = %v, want it to give up with its context", err)
			}
			close(hold)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			st := e.fake.Stats()
			if st.MaxInFlight != limit {
				t.Errorf("max in flight = %d, limit %d", st.MaxInFlight, limit)
			}
			if st.Dispatched != searches || st.InFlight != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}
