package splunk

import (
	"net/http"
	"strings"
	"testing"

	"github.com/patrolsec/patrol/poller/redirecttest"
	"github.com/patrolsec/patrol/poller/splunk/splunktest"
)

// TestRedirectCarriesNoCredentials: a splunkd (or something in front of
// it) answering 307 to another port must not receive patrol's token,
// password or session key there.
func TestRedirectCarriesNoCredentials(t *testing.T) {
	redirector := redirecttest.New(t, http.StatusNotFound, "")

	for _, auth := range []string{AuthToken, AuthBasic, AuthSession} {
		t.Run(auth, func(t *testing.T) {
			e := newEnv(t, splunktest.Options{}, func(c *Config) {
				c.URL, c.Auth, c.AllowInsecureHTTP = redirector.URL, auth, true
				if auth != AuthToken {
					c.TokenEnv, c.Username, c.PasswordEnv = "", testUser, passwordEnv
				}
			})
			_, err := e.search(query("index=aws"))
			if err == nil || !strings.Contains(err.Error(), "redirect") {
				t.Errorf("err = %v, want the redirect named", err)
			}
			seen := redirector.Seen() // what reached the other port
			for _, s := range seen {
				if strings.Contains(s, testToken) || strings.Contains(s, testPassword) || strings.Contains(s, "auth=Basic") || strings.Contains(s, "auth=Splunk") {
					t.Errorf("credentials reached the other port: %s", s)
				}
			}
			if len(seen) > 0 {
				t.Errorf("patrol followed the redirect: %q", seen)
			}
		})
	}
}
