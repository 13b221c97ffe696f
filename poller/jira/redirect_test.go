package jira

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/patrolsec/patrol/poller"
)

// TestRedirectCarriesNoCredentials: a Jira (or a proxy in front of it)
// answering 307 to another port must not receive patrol's token there.
func TestRedirectCarriesNoCredentials(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" auth="+r.Header.Get("Authorization")+" body="+string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusNotFound)
	}))
	defer other.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	t.Setenv("TEST_JIRA_TOKEN", "s3cret-token")
	t.Setenv("TEST_JIRA_USER", "bot@example.com")
	cfg := Defaults()
	cfg.URL, cfg.AllowInsecureHTTP, cfg.TokenEnv, cfg.UserEnv, cfg.Project = redirector.URL, true, "TEST_JIRA_TOKEN", "TEST_JIRA_USER", "SEC"
	tr, err := New(cfg, Options{Label: "patrol", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "redirected to") {
		t.Errorf("check: %v", err)
	}
	err = tr.Comment(context.Background(), "SEC-1", poller.Message{Title: "x"})
	if err == nil || !strings.Contains(err.Error(), "redirected to") {
		t.Errorf("comment: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) > 0 {
		t.Errorf("patrol followed the redirect with its credentials: %q", seen)
	}
}
