package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const benchArgsEnv = "PATROL_BENCH_ARGS"

// runChild runs patrol with args in a child process and returns its
// stdout, stderr, wall time and peak resident memory.
func runChild(b *testing.B, args ...string) (string, string, time.Duration, int64) {
	b.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), benchArgsEnv+"="+strings.Join(args, "\x1f"))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		b.Fatalf("patrol %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return out.String(), errOut.String(), wall, ru.Maxrss * 1024 // Linux reports KiB
}

// BenchmarkSearchCraftedFiles runs `patrol search` with the default limits
// over the crafted files that used to exhaust it (one record nested 50,000
// arrays deep; one nested 10 million deep in a few KB of gzip; a
// 100,000-element array; a 2 GiB gzip bomb) beside ordinary files, and
// prints its wall time and peak RSS.
func BenchmarkSearchCraftedFiles(b *testing.B) {
	dir := b.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	writeCraftedLogs(b, logs, craftedSizes{depth: 50000, deepGz: 10_000_000, elements: 100000, bomb: 2 << 30})
	conf := filepath.Join(dir, "config.toml")
	os.WriteFile(conf, []byte("[search.local]\npaths = [\"logs\"]\n"), 0o644)
	var size int64
	entries, _ := os.ReadDir(logs)
	for _, e := range entries {
		info, _ := e.Info()
		size += info.Size()
	}
	b.ResetTimer()
	for range b.N {
		out, errOut, wall, rss := runChild(b, "search", "--config", conf, "eventName=StopLogging | table eventName")
		found := strings.Count(out, "StopLogging")
		skipped := strings.Count(errOut, "skipped")
		b.ReportMetric(wall.Seconds(), "s/search")
		b.ReportMetric(float64(rss)/(1<<20), "peakRSS_MB")
		fmt.Printf("patrol search over %d files (%.1f MB on disk, crafted + ordinary): %.2fs, peak RSS %d MB, %d ordinary events found, %d skips logged\n",
			len(entries), float64(size)/(1<<20), wall.Seconds(), rss>>20, found, skipped)
	}
}
