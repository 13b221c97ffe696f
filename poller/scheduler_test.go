package poller

import (
	"bytes"
	"context"
	"errors"
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
