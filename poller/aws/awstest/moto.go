// Package awstest runs moto_server, a real AWS API emulator, for tests: one
// per test binary, started on first use on a free loopback port, stopped by
// Stop (call it from TestMain). Tests run the real SDK clients against it.
package awstest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

var moto struct {
	once    sync.Once
	url     string
	missing bool
	err     error
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
}

// DefaultAccount is the account moto gives static test credentials.
const DefaultAccount = "123456789012"

// IsolateEnv keeps the SDK away from whoever runs the tests: their
// profiles, keys and instance metadata must not leak into what is tested.
func IsolateEnv() {
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION"} {
		os.Unsetenv(k)
	}
	os.Setenv("AWS_CONFIG_FILE", os.DevNull)
	os.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// URL returns the emulator's URL, starting it on first use. Without
// moto_server installed the test is skipped, loudly.
func URL(t testing.TB) string {
	t.Helper()
	moto.once.Do(start)
	if moto.missing {
		t.Skip("SKIP: moto_server is not installed (pip install 'moto[server]'); AWS integration tests need it")
	}
	if moto.err != nil {
		t.Fatalf("moto_server: %v", moto.err)
	}
	return moto.url
}

func start() {
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

// Stop stops the emulator if it was started.
func Stop() {
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

// Creds are the static credentials tests use against the emulator.
var Creds = credentials.NewStaticCredentialsProvider("AKIAPATROLTEST000001", "test-secret", "")

// Config returns an SDK config for account on the emulator: the default
// account directly, any other through an assumed role (moto scopes calls by
// the assumed account).
func Config(t testing.TB, account string) aws.Config {
	t.Helper()
	cfg := aws.Config{Region: "us-east-1", Credentials: Creds, BaseEndpoint: aws.String(URL(t))}
	if account == DefaultAccount {
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
