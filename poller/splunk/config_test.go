package splunk

import (
	"reflect"
	"sort"
	"testing"
	"time"
)

func validConfig() Config {
	c := Defaults()
	c.URL = "https://splunk.example.com:8089"
	c.TokenEnv = "SPLUNK_TOKEN"
	return c
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		keys []string
	}{
		{"defaults with url and token", func(*Config) {}, nil},
		{"basic auth", func(c *Config) { c.TokenEnv, c.UsernameEnv, c.PasswordFile = "", "SPLUNK_USER", "splunk.pw" }, nil},
		{"session auth", func(c *Config) { c.Auth, c.TokenEnv, c.Username, c.PasswordEnv = "session", "", "svc", "PW" }, nil},
		{"nothing set", func(c *Config) { *c = Config{} }, []string{
			"event_time_ahead", "event_time_span", "max_concurrent", "max_count", "page_size", "poll_interval", "search_level", "timeout", "token_env", "url"}},
		{"relative url", func(c *Config) { c.URL = "splunk:8089" }, []string{"url"}},
		{"ftp url", func(c *Config) { c.URL = "ftp://splunk:8089" }, []string{"url"}},
		{"http url", func(c *Config) { c.URL = "http://splunk:8089" }, []string{"url"}},
		{"http url allowed", func(c *Config) { c.URL, c.AllowInsecureHTTP = "http://127.0.0.1:8089", true }, nil},
		{"user:password in the url", func(c *Config) { c.URL = "https://admin:changeme@splunk:8089" }, []string{"url"}},
		{"user without password", func(c *Config) { c.TokenEnv, c.UsernameEnv = "", "U" }, []string{"password_env"}},
		{"unknown auth", func(c *Config) { c.Auth = "kerberos" }, []string{"auth"}},
		{"token mode without token", func(c *Config) { c.Auth, c.TokenEnv, c.Username, c.PasswordEnv = "token", "", "u", "P" }, []string{"token_env"}},
		{"session without user", func(c *Config) { c.Auth, c.PasswordEnv = "session", "P" }, []string{"username_env"}},
		{"both token sources", func(c *Config) { c.TokenFile = "t" }, []string{"token_file"}},
		{"insecure with ca", func(c *Config) { c.InsecureSkipVerify, c.CAFile = true, "ca.pem" }, []string{"insecure_skip_verify"}},
		{"app with slash", func(c *Config) { c.App = "a/b" }, []string{"app"}},
		{"owner without app", func(c *Config) { c.Owner = "nobody" }, []string{"owner"}},
		{"bad spans", func(c *Config) {
			c.EventTimeSpan, c.EventTimeAhead, c.Timeout, c.PollInterval = "7 days", "-1h", "0", "0"
		},
			[]string{"event_time_ahead", "event_time_span", "poll_interval", "timeout"}},
		{"page size over the cap", func(c *Config) { c.PageSize = 50001 }, []string{"page_size"}},
		{"negative retries", func(c *Config) { c.MaxRetries = -1 }, []string{"max_retries"}},
		{"search level", func(c *Config) { c.SearchLevel = "slow" }, []string{"search_level"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.edit(&c)
			var keys []string
			for _, e := range c.Validate() {
				keys = append(keys, e.Key)
				if e.Msg == "" {
					t.Errorf("%s: empty message", e.Key)
				}
			}
			sort.Strings(keys)
			keys = dedupe(keys)
			if !reflect.DeepEqual(keys, tc.keys) {
				t.Errorf("problems in %v, want %v (%v)", keys, tc.keys, c.Validate())
			}
		})
	}
}

func dedupe(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func TestParseSpan(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"0": 0, "7d": 7 * 24 * time.Hour, "1d": 24 * time.Hour, "90s": 90 * time.Second, "2h30m": 150 * time.Minute, " 500ms ": 500 * time.Millisecond,
	} {
		if got, err := parseSpan(in); err != nil || got != want {
			t.Errorf("parseSpan(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "-1d", "1.5d", "7 days", "-5m", "soon"} {
		if _, err := parseSpan(in); err == nil {
			t.Errorf("parseSpan(%q) accepted", in)
		}
	}
}
