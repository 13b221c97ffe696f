package jira

import (
	"sort"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	good := Defaults()
	good.URL, good.UserEnv, good.TokenEnv, good.Project = "https://example.atlassian.net", "JIRA_USER", "JIRA_TOKEN", "SEC"
	if errs := good.Validate(); len(errs) != 0 {
		t.Fatalf("good config: %v", errs)
	}
	dc := good
	dc.Flavor, dc.UserEnv = FlavorDataCenter, ""
	if errs := dc.Validate(); len(errs) != 0 {
		t.Fatalf("datacenter with a PAT: %v", errs)
	}
	tests := []struct {
		name string
		mod  func(*Config)
		keys string
	}{
		{"empty", func(c *Config) { *c = Config{} }, "flavor,index_lag,issue_type,page_size,project,timeout,token_env,url"},
		{"cloud without user", func(c *Config) { c.UserEnv = "" }, "user_env"},
		{"bad url", func(c *Config) { c.URL = "example.atlassian.net" }, "url"},
		{"http url", func(c *Config) { c.URL = "http://jira.example.com" }, "url"},
		{"http url allowed", func(c *Config) { c.URL, c.AllowInsecureHTTP = "http://127.0.0.1:8080", true }, ""},
		{"credentials in the url", func(c *Config) { c.URL = "https://bot:token@example.atlassian.net" }, "url"},
		{"bad flavor", func(c *Config) { c.Flavor = "server" }, "flavor"},
		{"both token sources", func(c *Config) { c.TokenFile = "jira.token" }, "token_file"},
		{"project with space", func(c *Config) { c.Project = "SEC X" }, "project"},
		{"bad field id", func(c *Config) { c.Fields = map[string]string{"src": "custom field 1"} }, "fields.src"},
		{"bad durations", func(c *Config) { c.Timeout, c.IndexLag = "0s", "soon" }, "index_lag,timeout"},
		{"bad numbers", func(c *Config) { c.MaxRetries, c.PageSize = 11, 0 }, "max_retries,page_size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.mod(&c)
			var keys []string
			for _, e := range c.Validate() {
				keys = append(keys, e.Key)
				if e.Msg == "" {
					t.Errorf("%s: empty message", e.Key)
				}
			}
			sort.Strings(keys)
			if got := strings.Join(keys, ","); got != tt.keys {
				t.Errorf("keys = %s, want %s", got, tt.keys)
			}
		})
	}
}
