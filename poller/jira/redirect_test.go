package jira

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/redirecttest"
)

// TestRedirectCarriesNoCredentials: a Jira (or a proxy in front of it)
// answering 307 to another port must not receive patrol's token there.
func TestRedirectCarriesNoCredentials(t *testing.T) {
	redirector := redirecttest.New(t, http.StatusNotFound, "")
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
	if seen := redirector.Seen(); len(seen) > 0 {
		t.Errorf("patrol followed the redirect with its credentials: %q", seen)
	}
}
