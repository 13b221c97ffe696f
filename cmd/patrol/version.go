package main

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// version is set at release builds: go build -ldflags "-X main.version=v1.2.0"
// (make dist does it from git describe). Other builds say "dev".
var version = "dev"

// versionString is what --version prints: the version, the commit and its
// time when the binary was built from a git checkout, and the Go toolchain
// and platform.
func versionString() string {
	parts := []string{version}
	if info, ok := debug.ReadBuildInfo(); ok {
		settings := map[string]string{}
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
		if rev := settings["vcs.revision"]; rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if settings["vcs.modified"] == "true" {
				rev += "-dirty"
			}
			parts = append(parts, "commit "+rev)
		}
		if t := settings["vcs.time"]; t != "" {
			parts = append(parts, t)
		}
	}
	parts = append(parts, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
	return parts[0] + " (" + strings.Join(parts[1:], ", ") + ")"
}
