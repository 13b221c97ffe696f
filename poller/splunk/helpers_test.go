package splunk

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/splunk/splunktest"
)

const (
	testToken    = "tok-9f8d2b82-6e9d-45b8-SECRET"
	testUser     = "svc_patrol"
	testPassword = "pw-correct-horse-SECRET"
	tokenEnv     = "PATROL_TEST_SPLUNK_TOKEN"
	passwordEnv  = "PATROL_TEST_SPLUNK_PASSWORD"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is a Searcher wired to a fake, with captured logs and sleeps.
type env struct {
	t    *testing.T
	fake *splunktest.Server
	s    *Searcher
	cfg  Config
	logs *syncBuffer

	mu     sync.Mutex
	sleeps []time.Duration
}

// newEnv starts a fake (token auth, jobs that go through 204 → RUNNING →
// DONE) and a Searcher for it; edit may change either before they start.
func newEnv(t *testing.T, opts splunktest.Options, edit func(*Config)) *env {
	t.Helper()
	if opts.Token == "" {
		opts.Token = testToken
	}
	if opts.Username == "" {
		opts.Username, opts.Password = testUser, testPassword
	}
	if reflect.ValueOf(opts.Plan).IsZero() {
		opts.Plan = splunktest.JobPlan{Queued: 2, Running: 2}
	}
	t.Setenv(tokenEnv, testToken)
	t.Setenv(passwordEnv, testPassword)
	e := &env{t: t, fake: splunktest.New(t, opts), logs: &syncBuffer{}}
	cfg := Defaults()
	cfg.URL = e.fake.URL
	cfg.AllowInsecureHTTP = true // the fake is plain HTTP on loopback
	cfg.TokenEnv = tokenEnv
	if edit != nil {
		edit(&cfg)
	}
	e.cfg = cfg
	e.s = e.newSearcher(t.TempDir())
	return e
}

func (e *env) newSearcher(baseDir string) *Searcher {
	e.t.Helper()
	s, err := e.tryNew(baseDir)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	return s
}

func (e *env) tryNew(baseDir string) (*Searcher, error) {
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return New(e.cfg, baseDir, logger, WithSleep(e.sleep))
}

// sleep records the wait and returns at once: tests never wait on wall time.
func (e *env) sleep(ctx context.Context, d time.Duration) error {
	e.mu.Lock()
	e.sleeps = append(e.sleeps, d)
	e.mu.Unlock()
	return ctx.Err()
}

func (e *env) recordedSleeps() []time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]time.Duration(nil), e.sleeps...)
}

// search runs q and collects what it emitted, also when it fails.
func (e *env) search(q poller.Query) ([]poller.Result, error) {
	e.t.Helper()
	return e.searchCtx(context.Background(), q)
}

func (e *env) searchCtx(ctx context.Context, q poller.Query) ([]poller.Result, error) {
	var got []poller.Result
	err := e.s.Search(ctx, q, func(r poller.Result) error {
		got = append(got, r)
		return nil
	})
	return got, err
}

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// query is a one-hour index-time window ending at t0.
func query(spl string) poller.Query {
	return poller.Query{Detection: "test", SPL: spl, Window: poller.Window{Start: t0.Add(-time.Hour), End: t0}}
}

func ev(at time.Time, fields ...string) splunktest.Event {
	f := map[string][]string{}
	for i := 0; i+1 < len(fields); i += 2 {
		f[fields[i]] = append(f[fields[i]], fields[i+1])
	}
	return splunktest.Event{Time: at, Fields: f}
}

// sharedDir finds the project's shared/ folder (specs and their samples),
// which lives beside the repository, not in it: the nearest ancestor of the
// module root holding shared/specs. Tests that need it skip without it.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("module root not found")
		}
		dir = parent
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		if st, err := os.Stat(filepath.Join(d, "shared", "specs", "samples", "splunk")); err == nil && st.IsDir() {
			return filepath.Join(d, "shared")
		}
		if filepath.Dir(d) == d {
			t.Skip("shared/specs/samples/splunk not found beside the repository")
		}
	}
}

func sample(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sharedDir(t), "specs", "samples", "splunk", rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
