package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckSecretsSlackAppToken: the app-level token is checked offline
// like the other secrets once it turns Socket Mode on, never printed, and
// not asked for when Slack is not the notifier.
func TestCheckSecretsSlackAppToken(t *testing.T) {
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	os.Unsetenv("CREDENTIALS_DIRECTORY")
	t.Setenv("SLACK_BOT", "xoxb-bot-secret")
	t.Setenv("SLACK_APP_EMPTY", "")
	os.Unsetenv("SLACK_APP_EMPTY")
	t.Setenv("SLACK_APP_BOT", "xoxb-pasted-in-the-wrong-place")
	t.Setenv("SLACK_APP", "xapp-1-app-secret")
	tests := []struct {
		name, backend, appKeys string
		want                   string // "" for no problem
	}{
		{"readable env", "slack", `app_token_env = "SLACK_APP"`, ""},
		{"readable file", "slack", `app_token_file = "app-token"`, ""},
		{"env not set", "slack", `app_token_env = "SLACK_APP_EMPTY"`, "c.toml:8: notify.slack.app_token_env: environment variable SLACK_APP_EMPTY is not set"},
		{"file missing", "slack", `app_token_file = "no-such-app-token"`, "c.toml:8: notify.slack.app_token_file: secret file no-such-app-token is not in"},
		{"a bot token", "slack", `app_token_env = "SLACK_APP_BOT"`, "c.toml:8: notify.slack.app_token_env: the secret does not start with xapp-"},
		{"no socket mode", "slack", "", ""},
		{"slack not the notifier", "log", `app_token_file = "no-such-app-token"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
			os.WriteFile(filepath.Join(dir, "app-token"), []byte("xapp-1-file-secret\n"), 0o600)
			path := filepath.Join(dir, "c.toml")
			os.WriteFile(path, []byte(`[search.local]
paths = ["logs"]
[notify]
backend = "`+tt.backend+`"
[notify.slack]
token_env = "SLACK_BOT"
channel = "#security-alerts"
`+tt.appKeys+"\n"), 0o644)
			cfg, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			err = CheckSecrets(cfg)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected problem: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "secret-") || err != nil && strings.Contains(err.Error(), "wrong-place") {
				t.Errorf("a secret was printed: %v", err)
			}
		})
	}
}
