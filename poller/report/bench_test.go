package report

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/patrolsec/patrol/state"
)

// BenchmarkBuildQuarter builds the report of a busy quarter: 5,000 alerts
// and tickets, 2,000 remediation attempts, 50,000 detection runs, and
// writes the page. It prints the state file's size and the page's.
func BenchmarkBuildQuarter(b *testing.B) {
	path := filepath.Join(b.TempDir(), "quarter.db")
	s := &scenario{ctx: context.Background()}
	db, err := state.Open(path, func() time.Time { return s.now })
	if err != nil {
		b.Fatal(err)
	}
	s.db = db
	start := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	dets := []string{"d-crit", "d-high", "d-low", "gone-det"}
	for i := range 5000 {
		first := start.Add(time.Duration(i) * 90 * 24 * time.Hour / 5000)
		s.now = first.Add(time.Minute)
		a, err := db.CreatePendingAlert(s.ctx, state.Alert{Detection: dets[i%4], Fingerprint: fmt.Sprint("fp", i), FirstSeen: first, LastSeen: first,
			Count: 1, WindowStart: first, Result: result(fmt.Sprint(100000000000+i%40), fmt.Sprintf("arn:aws:iam::1:user/u%d", i%300), fmt.Sprintf("192.0.2.%d", i%250))})
		if err != nil {
			b.Fatal(err)
		}
		key := fmt.Sprint("SEC-", i)
		s.now = first.Add(2 * time.Minute)
		if err := db.OpenAlert(s.ctx, a.ID, state.TicketRow{Key: key, ID: key, Detection: dets[i%4], Status: "Open"}, nil); err != nil {
			b.Fatal(err)
		}
		if i%5 < 2 {
			at := first.Add(10 * time.Minute)
			for _, ph := range []string{"planned", "started", "succeeded"} {
				if _, err := db.AppendAction(s.ctx, state.ActionEvent{Attempt: key, TicketKey: key, Action: "iam.disable_access_key", Target: key, Phase: ph, At: at}); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	for i := range 50000 {
		at := start.Add(time.Duration(i) * 90 * 24 * time.Hour / 50000)
		s.now = at
		id, err := db.StartRun(s.ctx, state.Run{Job: "detect", Detection: dets[i%4], WindowEnd: at.Add(-2 * time.Minute)})
		if err != nil {
			b.Fatal(err)
		}
		s.now = at.Add(time.Second)
		if err := db.FinishRun(state.Run{ID: id, Job: "detect", Detection: dets[i%4], WindowEnd: at.Add(-2 * time.Minute)}); err != nil {
			b.Fatal(err)
		}
	}
	db.Close()
	fi, _ := os.Stat(path)
	opt := scenarioOptions()
	opt.From, opt.To, opt.Now = start, start.Add(92*24*time.Hour), start.Add(92*24*time.Hour)
	page := filepath.Join(b.TempDir(), "q.html")
	b.ResetTimer()
	for range b.N {
		ro, err := state.OpenReadOnly(path)
		if err != nil {
			b.Fatal(err)
		}
		rep, err := Build(context.Background(), ro, opt)
		if err != nil {
			b.Fatal(err)
		}
		if err := rep.WriteFile(page, "html"); err != nil {
			b.Fatal(err)
		}
		ro.Close()
	}
	b.StopTimer()
	pi, _ := os.Stat(page)
	b.ReportMetric(float64(fi.Size())/1e6, "state-MB")
	b.ReportMetric(float64(pi.Size())/1e6, "page-MB")
}
