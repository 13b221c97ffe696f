package poller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"
)

// Scheduler runs jobs on cron schedules. A job whose schedule fires while its
// previous run is still going is skipped, never stacked, and the skip is
// reported by name (OnSkip, or a log line); a panic is recovered and logged;
// each run gets a context with a timeout. Only the daemon uses it: `patrol
// once` and tests call the jobs directly.
type Scheduler struct {
	c       *cron.Cron
	log     *slog.Logger
	mu      sync.Mutex
	ids     map[string]cron.EntryID
	running map[string]*atomic.Bool // by name: kept when a job is replaced
	base    context.Context
	// OnSkip, when set, hears every skipped run (instead of the log line).
	OnSkip func(name string)
}

// NewScheduler returns a stopped scheduler.
func NewScheduler(log *slog.Logger) *Scheduler {
	// The skip and the recover are done in wrap, the recover inside the
	// skip: cron v3.0.1's SkipIfStillRunning stops a job for good after one
	// panic otherwise, and it cannot say which job it skipped.
	c := cron.New(cron.WithLogger(cronLogger{log}))
	return &Scheduler{c: c, log: log, ids: map[string]cron.EntryID{}, running: map[string]*atomic.Bool{}, base: context.Background()}
}

// Add schedules job under a unique name, replacing a job of the same name.
func (s *Scheduler) Add(name string, sched cron.Schedule, timeout time.Duration, job func(ctx context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.ids[name]; ok {
		s.c.Remove(id)
	}
	if s.running[name] == nil {
		s.running[name] = &atomic.Bool{}
	}
	s.ids[name] = s.c.Schedule(sched, s.wrap(name, s.running[name], timeout, job))
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

// wrap makes a cron job of job: one run per name at a time (a run that
// would overlap is skipped and reported), panics recovered, a timeout.
func (s *Scheduler) wrap(name string, running *atomic.Bool, timeout time.Duration, job func(ctx context.Context) error) cron.Job {
	return cron.FuncJob(func() {
		if !running.CompareAndSwap(false, true) {
			if s.OnSkip != nil {
				s.OnSkip(name)
			} else {
				s.log.Warn("previous run still going: this run is skipped", "job", name)
			}
			return
		}
		defer running.Store(false)
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("job panicked", "job", name, "err", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
		}()
		ctx, cancel := context.WithTimeout(s.base, timeout)
		defer cancel()
		switch err := job(ctx); {
		case err == nil:
		case errors.Is(err, ErrCancelled) || Cancelled(ctx):
			s.log.Info("job cancelled", "job", name, "err", err)
		default:
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
	l.log.Debug("cron "+msg, kv...)
}

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron "+msg, append(kv, "err", err)...)
}
