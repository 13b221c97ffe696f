package tuning

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/state"
)

// results emits n CloudTrail-like results over k fingerprints, one in ten
// from a scanner's address.
type results struct{ n, k int }

func (g results) Search(ctx context.Context, q poller.Query, emit func(poller.Result) error) error {
	at := q.Window.End.Add(-time.Minute)
	for i := 0; i < g.n; i++ {
		ip := "192.0.2.66"
		if i%10 == 0 {
			ip = fmt.Sprintf("198.51.100.%d", i%250)
		}
		r := poller.Result{
			"_time": {at.Format(time.RFC3339)}, "eventName": {"AuthorizeSecurityGroupIngress"},
			"recipientAccountId": {"111122223333"}, "requestParameters.name": {fmt.Sprintf("sg-%08d", i%g.k)},
			"sourceIPAddress": {ip}, "userIdentity.arn": {"arn:aws:iam::111122223333:role/scanner-prod/session"},
		}
		if err := emit(r); err != nil {
			return err
		}
	}
	return nil
}

type noTracker struct{}

func (noTracker) Create(_ context.Context, nt poller.NewTicket) (poller.Ticket, error) {
	return poller.Ticket{Key: "X-" + nt.Fingerprint}, nil
}
func (noTracker) Find(context.Context, string) ([]poller.Ticket, error)    { return nil, nil }
func (noTracker) Poll(context.Context, time.Time) ([]poller.Ticket, error) { return nil, nil }
func (noTracker) Get(context.Context, string) (poller.Ticket, error)       { return poller.Ticket{}, nil }
func (noTracker) Comment(context.Context, string, poller.Message) error    { return nil }
func (noTracker) Transition(context.Context, string, string) error         { return nil }
func (noTracker) SetRoute(context.Context, string, poller.Route) error     { return nil }
func (noTracker) Approvals(context.Context, string, string) ([]poller.Approval, error) {
	return nil, nil
}

// BenchmarkTunedPipeline measures results/s through the detect job with
// no tuning, and with 20 exceptions (one excepting a tenth of the results
// by CIDR, the others globs that match nothing) and 20 silences in force
// that match nothing: what exceptions and silences cost per result.
func BenchmarkTunedPipeline(b *testing.B) {
	const n = 100_000
	var exc strings.Builder
	for i := range 19 {
		fmt.Fprintf(&exc, "[[exception]]\nmatch = { \"userIdentity.arn\" = \"arn:aws:iam::*:role/other-%d-*\" }\nreason = \"r\"\nowner = \"o\"\nexpires = 2027-01-01\n", i)
	}
	exc.WriteString("[[exception]]\nmatch = { \"sourceIPAddress\" = \"198.51.100.0/24\" }\nreason = \"scanner\"\nowner = \"o\"\nexpires = 2027-01-01\n")
	var sil strings.Builder
	for i := range 20 {
		fmt.Fprintf(&sil, "[[silence]]\nid = \"s%d\"\ndetections = [\"other-%d-*\", \"sg-*\"]\nmatch = { \"recipientAccountId\" = \"4444555566%02d\" }\nexpires = 2027-01-01\nowner = \"o\"\nreason = \"r\"\n", i, i, i)
	}
	for _, tuned := range []bool{false, true} {
		b.Run(fmt.Sprintf("tuned=%v", tuned), func(b *testing.B) {
			dir := b.TempDir()
			src := `id = "sg-open"
title = "t"
severity = "high"
schedule = "@every 5m"
search = "x"
group_by = ["requestParameters.name"]
[ticket]
summary = "{requestParameters.name}"
`
			var tuner poller.Tuner
			if tuned {
				src += exc.String()
				os.WriteFile(filepath.Join(dir, "silences.toml"), []byte(sil.String()), 0o644)
				f, err := OpenSilences(filepath.Join(dir, "silences.toml"), nil)
				if err != nil {
					b.Fatal(err)
				}
				tuner = &Tuner{Silences: f}
			}
			os.WriteFile(filepath.Join(dir, "d.toml"), []byte(src), 0o644)
			d, err := detections.LoadFile(filepath.Join(dir, "d.toml"), detections.LoadOptions{
				Now: func() time.Time { return time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC) }})
			if err != nil {
				b.Fatal(err)
			}
			now := func() time.Time { return time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC) }
			for i := 0; i < b.N; i++ {
				db, err := state.Open(filepath.Join(b.TempDir(), "patrol.db"), now)
				if err != nil {
					b.Fatal(err)
				}
				j := &poller.Detector{Searcher: results{n: n, k: 1000}, Tracker: noTracker{}, Store: db, Label: "patrol", Tuner: tuner,
					Now: now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
				start := time.Now()
				st, err := j.Run(context.Background(), d)
				elapsed := time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				if tuned && st.Excepted != n/10 {
					b.Fatalf("excepted %d", st.Excepted)
				}
				b.ReportMetric(float64(n)/elapsed.Seconds(), "results/s")
				db.Close()
			}
		})
	}
}

// BenchmarkTunerPerResult is the cost per result of checking 20 exceptions
// and 20 silences that do not match (the common case).
func BenchmarkTunerPerResult(b *testing.B) {
	d := &detections.Detection{ID: "sg-open"}
	for i := range 20 {
		d.Exceptions = append(d.Exceptions, detections.Exception{Expires: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
			Match: map[string][]string{"userIdentity.arn": {fmt.Sprintf("arn:aws:iam::*:role/other-%d-*", i)}, "sourceIPAddress": {"10.0.0.0/8"}}})
	}
	var src strings.Builder
	for i := range 20 {
		fmt.Fprintf(&src, "[[silence]]\nid = \"s%d\"\ndetections = [\"sg-*\"]\nmatch = { \"recipientAccountId\" = \"4444555566%02d\" }\nexpires = 2027-01-01\nowner = \"o\"\nreason = \"r\"\n", i, i)
	}
	ss, err := ParseSilences("silences.toml", src.String())
	if err != nil {
		b.Fatal(err)
	}
	f := &SilenceFile{checked: time.Now().Add(time.Hour), silences: ss}
	tu := &Tuner{Silences: f}
	r := poller.Result{"recipientAccountId": {"111122223333"}, "sourceIPAddress": {"192.0.2.66"},
		"userIdentity.arn": {"arn:aws:iam::111122223333:role/scanner-prod/session"}}
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok := tu.Except(d, r, at); ok {
			b.Fatal("excepted")
		}
		if _, ok := tu.Silence(d, r, at); ok {
			b.Fatal("silenced")
		}
	}
}
