package poller

import (
	"context"
	"time"
)

// SearchStats is what a backend reports about one search it ran: on
// Splunk, the job's scanCount (events scanned) and runDuration.
type SearchStats struct {
	ScanCount   int64
	RunDuration time.Duration
}

type searchStatsKey struct{}

// WithSearchStats returns a context whose searches report their stats to
// fn (a backtest adds up what its searches cost). fn must be safe for
// concurrent use.
func WithSearchStats(ctx context.Context, fn func(SearchStats)) context.Context {
	return context.WithValue(ctx, searchStatsKey{}, fn)
}

// ReportSearchStats hands a search's stats to whoever asked for them in
// ctx; without a taker it does nothing.
func ReportSearchStats(ctx context.Context, st SearchStats) {
	if fn, ok := ctx.Value(searchStatsKey{}).(func(SearchStats)); ok {
		fn(st)
	}
}
