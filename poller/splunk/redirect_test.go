package splunk

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/patrolsec/patrol/poller/splunk/splunktest"
)

// TestRedirectCarriesNoCredentials: a splunkd (or something in front of
// it) answering 307 to another port must not receive patrol's token,
// password or session key there.
func TestRedirectCarriesNoCredentials(t *testing.T) {
	var mu sync.Mutex
	var seen []string // what reached the other port
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
			mu.Lock()
			defer mu.Unlock()
			for _, s := range seen {
				if strings.Contains(s, testToken) || strings.Contains(s, testPassword) || strings.Contains(s, "auth=Basic") || strings.Contains(s, "auth=Splunk") {
					t.Errorf("credentials reached the other port: %s", s)
				}
			}
			if len(seen) > 0 {
				t.Errorf("patrol followed the redirect: %q", seen)
			}
			seen = nil
		})
	}
}
