package slack

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/patrolsec/patrol/poller/redirecttest"
)

// TestRedirectCarriesNoToken: slack-go sends the token in the POST body,
// which Go resends on a 307 to any host: patrol follows no redirect.
func TestRedirectCarriesNoToken(t *testing.T) {
	redirector := redirecttest.New(t, http.StatusOK, `{"ok":true}`)
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
	for _, s := range redirector.Seen() {
		if strings.Contains(s, "xoxb-secret") {
			t.Errorf("the token reached the other port: %s", s)
		}
	}
}
