package s3

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/aws/awstest"
	"github.com/patrolsec/patrol/poller/local/s3/s3test"
)

// With role_arn, the reader assumes the log-archive role once and signs
// every S3 request with its session, not with the ambient credentials.
// The emulator lets any credentials read any bucket, so a recording proxy
// in front of it shows what the real client sends.
func TestReadsThroughTheLogArchiveRole(t *testing.T) {
	c, bucket := newBucket(t)
	now := time.Now().UTC()
	upload(t, c, bucket, []s3test.Object{s3test.TrailFile("444455556666", "alpha", now, now)})

	target, _ := url.Parse(awstest.URL(t))
	var mu sync.Mutex
	var assumed []url.Values
	var s3Keys []string
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		mu.Lock()
		if form, _ := url.ParseQuery(string(body)); form.Get("Action") == "AssumeRole" {
			assumed = append(assumed, form)
		} else {
			cred := r.Header.Get("Authorization")
			if i := strings.Index(cred, "Credential="); i >= 0 {
				cred = strings.SplitN(cred[i+len("Credential="):], "/", 2)[0]
			}
			if r.Header.Get("X-Amz-Security-Token") == "" {
				cred += " (no session token)"
			}
			s3Keys = append(s3Keys, cred)
		}
		mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()

	cfg := Defaults()
	cfg.EndpointURL = srv.URL
	cfg.AllowInsecureHTTP = true
	cfg.RoleARN = "arn:aws:iam::999988887777:role/patrol-log-reader"
	src, err := New(context.Background(), cfg, []string{"s3://" + bucket + "/"}, Options{Region: "us-east-1", Credentials: awstest.Creds})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		l, err := src.List(context.Background(), poller.Query{SPL: "*"})
		if err != nil || len(l.Objects) != 1 {
			t.Fatalf("list: %v %v", l, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(assumed) != 1 || assumed[0].Get("RoleArn") != cfg.RoleARN || assumed[0].Get("RoleSessionName") != "patrol-log-reader" {
		t.Fatalf("AssumeRole calls: %v", assumed)
	}
	if len(s3Keys) == 0 {
		t.Fatal("no S3 request went through the proxy")
	}
	for _, k := range s3Keys {
		if k == "AKIAPATROLTEST000001" || strings.Contains(k, "no session token") {
			t.Errorf("S3 request signed with %s, not the role's session", k)
		}
	}
}
