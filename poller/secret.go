package poller

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// CredentialsDir is where an installed patrol keeps its secret files, one
// per secret, readable by root only (see patrol.service: systemd hands them
// to the service through LoadCredential=).
var CredentialsDir = "/etc/patrol/credentials"

// ReadSecret returns a secret from the environment variable env or, when env
// is empty, from file (surrounding space trimmed). A relative file is looked
// up where systemd puts credentials ($CREDENTIALS_DIRECTORY, under
// LoadCredential=), or outside systemd in CredentialsDir, then in baseDir
// (the config file's folder). Errors name the variable or file and where it
// was looked for, never the value.
func ReadSecret(env, file, baseDir string) (string, error) {
	switch {
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || strings.TrimSpace(v) == "" {
			return "", fmt.Errorf("environment variable %s is not set", env)
		}
		return strings.TrimSpace(v), nil
	case file != "":
		path, err := secretPath(file, baseDir)
		if err != nil {
			return "", err
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrPermission) {
			return "", fmt.Errorf("read secret file: %w (the credentials folder is root's: run as root, or as the service gets them, see README.md \"Check as the service\")", err)
		}
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

// secretPath resolves a secret file name: an absolute path as it is, a
// relative one in the first of the credential folders (see ReadSecret)
// where it exists. A folder this user may not look into (root's
// /etc/patrol/credentials, for a pilot run as oneself) is passed over; if
// no other has the file, reading there reports the permission error.
func secretPath(file, baseDir string) (string, error) {
	if filepath.IsAbs(file) {
		return file, nil
	}
	dirs := []string{CredentialsDir, baseDir}
	where := []string{CredentialsDir, baseDir + " (the config's folder)"}
	if cd := os.Getenv("CREDENTIALS_DIRECTORY"); cd != "" {
		dirs[0], where[0] = cd, "$CREDENTIALS_DIRECTORY ("+cd+")"
	}
	denied := ""
	for _, dir := range dirs {
		path := filepath.Join(dir, file)
		_, err := os.Stat(path)
		switch {
		case err == nil:
			return path, nil
		case errors.Is(err, fs.ErrPermission):
			if denied == "" {
				denied = path // not ours to look at (root's credentials folder): a later place may have it
			}
		case !errors.Is(err, fs.ErrNotExist):
			return path, nil // reading it says what is wrong
		}
	}
	if denied != "" {
		return denied, nil // reading it reports the permission error
	}
	return "", fmt.Errorf("secret file %s is not in %s", file, strings.Join(where, " or "))
}
