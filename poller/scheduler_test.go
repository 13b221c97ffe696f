package poller

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestSchedulerSkipsOverlapAndRecoversPanics(t *testing.T) {
	var logs syncBuffer
	s := NewScheduler(slog.New(slog.NewTextHandler(&logs, nil)))
	started, release := make(chan struct{}), make(chan struct{})
	var runs atomic.Int32
	var deadline atomic.Bool
	s.Add("slow", cron.Every(time.Hour), time.Minute, func(ctx context.Context) error {
		_, ok := ctx.Deadline()
		deadline.Store(ok)
		runs.Add(1)
		started <- struct{}{}
		<-release
		return nil
	})
	job := s.c.Entry(s.ids["slow"]).WrappedJob
	done := make(chan struct{})
	go func() { job.Run(); close(done) }()
	<-started
	job.Run() // fires while the first run is going: skipped, returns at once
	close(release)
	<-done
	if runs.Load() != 1 || !deadline.Load() {
		t.Errorf("runs = %d, deadline set = %v", runs.Load(), deadline.Load())
	}
	if !strings.Contains(logs.String(), "this run is skipped") {
		t.Errorf("skip not logged: %s", logs.String())
	}

	var panics atomic.Int32
	s.Add("boom", cron.Every(time.Hour), time.Minute, func(ctx context.Context) error {
		panics.Add(1)
		panic("nil map")
	})
	boom := s.c.Entry(s.ids["boom"]).WrappedJob
	boom.Run()
	boom.Run() // a job that panicked still runs next time
	if panics.Load() != 2 || !strings.Contains(logs.String(), "job panicked") {
		t.Errorf("panics = %d, logs %s", panics.Load(), logs.String())
	}

	s.Add("fails", cron.Every(time.Hour), time.Minute, func(ctx context.Context) error { return errors.New("splunk down") })
	s.c.Entry(s.ids["fails"]).WrappedJob.Run()
	if !strings.Contains(logs.String(), "splunk down") {
		t.Error("job error not logged")
	}
	s.Remove("fails")
	if len(s.Names()) != 2 {
		t.Errorf("names = %v", s.Names())
	}
}

// soon fires once, right away.
type soon struct{ fired atomic.Bool }

func (s *soon) Next(t time.Time) time.Time {
	if s.fired.Swap(true) {
		return t.Add(24 * time.Hour)
	}
	return t.Add(time.Millisecond)
}

func TestSchedulerStopWaitsForRunningJob(t *testing.T) {
	s := NewScheduler(slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))
	started, release := make(chan struct{}), make(chan struct{})
	var finished atomic.Bool
	s.Add("job", &soon{}, time.Minute, func(ctx context.Context) error {
		close(started)
		<-release
		finished.Store(true)
		return nil
	})
	s.Start(context.Background())
	<-started
	stopped := make(chan struct{})
	go func() { s.Stop(); close(stopped) }()
	close(release)
	<-stopped
	if !finished.Load() {
		t.Error("Stop returned before the running job finished")
	}
}

// Each skip is reported by job name; a cancelled run is logged at Info, not
// as a failure.
func TestSchedulerReportsSkipsByNameAndCancellations(t *testing.T) {
	var logs syncBuffer
	s := NewScheduler(slog.New(slog.NewJSONHandler(&logs, nil)))
	var skipped []string
	s.OnSkip = func(name string) { skipped = append(skipped, name) }
	started, release := make(chan struct{}), make(chan struct{})
	s.Add("detect:a", cron.Every(time.Hour), time.Minute, func(ctx context.Context) error {
		close(started)
		<-release
		return fmt.Errorf("a: %w: patrol is stopping", ErrCancelled)
	})
	job := s.c.Entry(s.ids["detect:a"]).WrappedJob
	done := make(chan struct{})
	go func() { job.Run(); close(done) }()
	<-started
	// A reload replaces the entry: the running flag is the name's, so the
	// new entry's firing is skipped too.
	s.Add("detect:a", cron.Every(time.Hour), time.Minute, func(ctx context.Context) error { return nil })
	s.c.Entry(s.ids["detect:a"]).WrappedJob.Run()
	close(release)
	<-done
	if len(skipped) != 1 || skipped[0] != "detect:a" {
		t.Errorf("skips reported: %v", skipped)
	}
	out := logs.String()
	if !strings.Contains(out, `"level":"INFO","msg":"job cancelled","job":"detect:a"`) || strings.Contains(out, "ERROR") {
		t.Errorf("logs:\n%s", out)
	}
}
