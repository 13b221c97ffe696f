package poller

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadSecretLooksWhereTheServiceKeepsThem(t *testing.T) {
	base, creds, systemd := t.TempDir(), t.TempDir(), t.TempDir()
	old := CredentialsDir
	CredentialsDir = creds
	t.Cleanup(func() { CredentialsDir = old })
	write := func(dir, name, v string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(base, "beside", "from-config-dir")
	write(creds, "token", "from-credentials-dir")
	write(base, "token", "shadowed")
	write(systemd, "token", "from-systemd")

	t.Setenv("CREDENTIALS_DIRECTORY", "")
	os.Unsetenv("CREDENTIALS_DIRECTORY")
	for file, want := range map[string]string{"token": "from-credentials-dir", "beside": "from-config-dir"} {
		if got, err := ReadSecret("", file, base); err != nil || got != want {
			t.Errorf("outside systemd, %s = %q %v, want %q", file, got, err, want)
		}
	}
	t.Setenv("CREDENTIALS_DIRECTORY", systemd)
	if got, err := ReadSecret("", "token", base); err != nil || got != "from-systemd" {
		t.Errorf("under systemd = %q %v", got, err)
	}
	_, err := ReadSecret("", "missing", base)
	if err == nil || !strings.Contains(err.Error(), "$CREDENTIALS_DIRECTORY ("+systemd+")") || !strings.Contains(err.Error(), base) {
		t.Errorf("missing secret: %v, want both places named", err)
	}
}
