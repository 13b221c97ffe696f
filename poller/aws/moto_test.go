package aws

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller/aws/awstest"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// defaultAccount is the account moto gives static test credentials.
const defaultAccount = awstest.DefaultAccount

func TestMain(m *testing.M) {
	awstest.IsolateEnv()
	code := m.Run()
	awstest.Stop()
	os.Exit(code)
}

// motoURL returns the emulator's URL (one per test binary).
func motoURL(t *testing.T) string { return awstest.URL(t) }

var seq atomic.Int64

// uniq names a resource uniquely within the run: tests share one emulator.
func uniq(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid()%10000, seq.Add(1))
}

var testCreds = awstest.Creds

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *testClock {
	return &testClock{t: time.Date(2026, 3, 14, 9, 26, 53, 500_000_000, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// motoProvider is a provider pointed at the emulator with dry run off.
func motoProvider(t *testing.T, mod func(*Config, *Options)) *Provider {
	t.Helper()
	cfg := Defaults()
	cfg.EndpointURL = motoURL(t)
	cfg.AllowInsecureHTTP = true // moto speaks http
	cfg.DryRun = false
	cfg.MaxAttempts = 2
	opts := Options{Credentials: testCreds, Now: newClock().Now}
	if mod != nil {
		mod(&cfg, &opts)
	}
	p, err := New(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// adminConfig is an SDK config acting in account on the emulator, for
// setting up and inspecting resources behind the provider's back.
func adminConfig(t *testing.T, account string) aws.Config { return awstest.Config(t, account) }

// must turns a (value, error) result into the value, failing the test on
// error: must(c.CreateUser(ctx, in))(t).
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// noErr fails the test on err.
func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErrCode checks that err is an *Error with AWS code and that the code
// is in its text.
func wantErrCode(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error with code %s, got nil", code)
	}
	var e *Error
	if !errors.As(err, &e) || e.Code != code || !strings.Contains(err.Error(), code) {
		t.Fatalf("want AWS error %s, got %v", code, err)
	}
}
