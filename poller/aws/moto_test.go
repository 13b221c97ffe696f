package aws

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// The AWS integration tests run the real SDK clients against one
// moto_server per package run, started on first use on a free loopback
// port and stopped by TestMain.
var moto struct {
	once    sync.Once
	url     string
	missing bool
	err     error
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
}

// defaultAccount is the account moto gives static test credentials.
const defaultAccount = "123456789012"

func TestMain(m *testing.M) {
	// Keep the SDK away from whoever runs the tests: their profiles, keys
	// and instance metadata must not leak into what the tests exercise.
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION"} {
		os.Unsetenv(k)
	}
	os.Setenv("AWS_CONFIG_FILE", os.DevNull)
	os.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	code := m.Run()
	stopMoto()
	os.Exit(code)
}

// motoURL returns the emulator's URL, starting it on first use. Without
// moto_server installed the test is skipped, loudly.
func motoURL(t *testing.T) string {
	t.Helper()
	moto.once.Do(startMoto)
	if moto.missing {
		t.Skip("SKIP: moto_server is not installed (pip install 'moto[server]'); AWS integration tests need it")
	}
	if moto.err != nil {
		t.Fatalf("moto_server: %v", moto.err)
	}
	return moto.url
}

func startMoto() {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		moto.missing = true
		return
	}
	port, err := freePort()
	if err != nil {
		moto.err = err
		return
	}
	logf, err := os.CreateTemp("", "patrol-moto-*.log")
	if err != nil {
		moto.err = err
		return
	}
	moto.logPath = logf.Name()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: moto_server may be a wrapper script whose
	// children must be stopped with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		moto.err = err
		return
	}
	logf.Close()
	moto.cmd = cmd
	moto.exited = make(chan struct{})
	go func() { cmd.Wait(); close(moto.exited) }()
	moto.url = fmt.Sprintf("http://127.0.0.1:%d", port)
	moto.err = waitReady(moto.url, 30*time.Second)
}

// waitReady polls the emulator until it answers HTTP, it exits, or the
// deadline passes.
func waitReady(url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := client.Get(url + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-moto.exited:
			log, _ := os.ReadFile(moto.logPath)
			return fmt.Errorf("exited before it was ready: %s", log)
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %v", within, err)
		}
	}
}

func stopMoto() {
	if moto.cmd == nil {
		return
	}
	pgid := moto.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-moto.exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-moto.exited
	}
	os.Remove(moto.logPath)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var seq atomic.Int64

// uniq names a resource uniquely within the run: tests share one emulator.
func uniq(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid()%10000, seq.Add(1))
}

var testCreds = credentials.NewStaticCredentialsProvider("AKIAPATROLTEST000001", "test-secret", "")

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
func adminConfig(t *testing.T, account string) aws.Config {
	t.Helper()
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  testCreds,
		BaseEndpoint: aws.String(motoURL(t)),
	}
	if account == defaultAccount {
		return cfg
	}
	out, err := sts.NewFromConfig(cfg).AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn:         aws.String("arn:aws:iam::" + account + ":role/patrol-test-admin"),
		RoleSessionName: aws.String("patrol-test-setup"),
	})
	if err != nil {
		t.Fatalf("assume into %s: %v", account, err)
	}
	c := out.Credentials
	cfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	return cfg
}

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
