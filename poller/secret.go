package poller

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ReadSecret returns a secret from the environment variable env or, when env
// is empty, from file (trailing newline trimmed). A relative file is looked up
// in $CREDENTIALS_DIRECTORY first (systemd LoadCredential=), then against
// baseDir (the config file's folder). Errors name the variable or file, never
// the value.
func ReadSecret(env, file, baseDir string) (string, error) {
	switch {
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || strings.TrimSpace(v) == "" {
			return "", fmt.Errorf("environment variable %s is not set", env)
		}
		return strings.TrimSpace(v), nil
	case file != "":
		path := file
		if !filepath.IsAbs(path) {
			path = filepath.Join(baseDir, file)
			if dir := os.Getenv("CREDENTIALS_DIRECTORY"); dir != "" {
				if _, err := os.Stat(filepath.Join(dir, file)); err == nil {
					path = filepath.Join(dir, file)
				}
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("read secret file: %w", err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("secret file %s is empty", path)
		}
		return v, nil
	}
	return "", errors.New("no secret configured (set an *_env or *_file key)")
}
