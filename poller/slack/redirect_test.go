package slack

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestRedirectCarriesNoToken: slack-go sends the token in the POST body,
// which Go resends on a 307 to any host: patrol follows no redirect.
func TestRedirectCarriesNoToken(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.URL.Path+" auth="+r.Header.Get("Authorization")+" body="+string(b))
		mu.Unlock()
		w.Write([]byte(`{"ok":true}`))
	}))
	defer other.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	t.Setenv("TEST_SLACK_TOKEN", "xoxb-secret")
	cfg := Defaults()
	cfg.TokenEnv, cfg.Channel, cfg.APIURL, cfg.AllowInsecureHTTP = "TEST_SLACK_TOKEN", "#security-alerts", redirector.URL+"/api", true
	n, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "redirected to") {
		t.Errorf("auth.test through a redirect: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range seen {
		if strings.Contains(s, "xoxb-secret") {
			t.Errorf("the token reached the other port: %s", s)
		}
	}
}
