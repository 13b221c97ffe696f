package poller

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// Scheduler runs jobs on cron schedules. A job whose schedule fires while its
// previous run is still going is skipped and logged, never stacked; a panic
// is recovered and logged; each run gets a context with a timeout. Only the
// daemon uses it: `patrol once` and tests call the jobs directly.
type Scheduler struct {
	c    *cron.Cron
	log  *slog.Logger
	mu   sync.Mutex
	ids  map[string]cron.EntryID
	base context.Context
}

// NewScheduler returns a stopped scheduler.
func NewScheduler(log *slog.Logger) *Scheduler {
	cl := cronLogger{log}
	// SkipIfStillRunning then Recover: cron v3.0.1 stops a skipping job for
	// good after one panic unless the recover sits inside the skip.
	c := cron.New(cron.WithLogger(cl), cron.WithChain(cron.SkipIfStillRunning(cl), cron.Recover(cl)))
	return &Scheduler{c: c, log: log, ids: map[string]cron.EntryID{}, base: context.Background()}
}

// Add schedules job under a unique name, replacing a job of the same name.
func (s *Scheduler) Add(name string, sched cron.Schedule, timeout time.Duration, job func(ctx context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.ids[name]; ok {
		s.c.Remove(id)
	}
	s.ids[name] = s.c.Schedule(sched, s.wrap(name, timeout, job))
}

// Remove unschedules the named job (a run in progress finishes).
func (s *Scheduler) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.ids[name]; ok {
		s.c.Remove(id)
		delete(s.ids, name)
	}
}

// Names lists the scheduled jobs.
func (s *Scheduler) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.ids))
	for n := range s.ids {
		out = append(out, n)
	}
	return out
}

func (s *Scheduler) wrap(name string, timeout time.Duration, job func(ctx context.Context) error) cron.Job {
	return cron.FuncJob(func() {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("job panicked", "job", name, "err", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
		}()
		ctx, cancel := context.WithTimeout(s.base, timeout)
		defer cancel()
		if err := job(ctx); err != nil {
			s.log.Error("job failed", "job", name, "err", err)
		}
	})
}

// Start runs the scheduler until Stop; ctx is the parent of every run's
// context (cancelled at shutdown, so running jobs abandon their work).
func (s *Scheduler) Start(ctx context.Context) {
	s.base = ctx
	s.c.Start()
}

// Stop stops scheduling and waits for running jobs to return.
func (s *Scheduler) Stop() {
	<-s.c.Stop().Done()
}

type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) {
	if msg == "skip" {
		l.log.Warn("previous run still going: this run is skipped", kv...)
		return
	}
	l.log.Debug("cron "+msg, kv...)
}

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron "+msg, append(kv, "err", err)...)
}
