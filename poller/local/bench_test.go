package local

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
)

// Benchmark data is generated, never committed: real CloudTrail records
// from shared/testdata when it is there (else this package's own sample
// records), repeated into one {"Records":[...]} file of the wanted size.

// sampleRecords returns CloudTrail records, one JSON object each.
func sampleRecords() [][]byte {
	root := filepath.Join("..", "..", "..", "shared")
	if env := os.Getenv("PATROL_SHARED"); env != "" {
		root = env
	}
	var out [][]byte
	for _, f := range []string{
		"testdata/stratus_red_team/stratus_all_records.ndjson",
		"testdata/panther/cloudtrail_rule_tests.events.ndjson",
		"testdata/security_content/data_source_example_logs.cloudtrail.ndjson",
		"testdata/otrf_security_datasets/ec2_proxy_s3_exfiltration_2020-09-14011940.json",
	} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			continue
		}
		for _, l := range bytes.Split(b, []byte("\n")) {
			if l = bytes.TrimSpace(l); len(l) > 0 {
				out = append(out, l)
			}
		}
	}
	if len(out) == 0 {
		out = repoSamples()
	}
	if len(out) == 0 {
		for _, r := range []string{recStop, recLogin, recSG} {
			out = append(out, []byte(r))
		}
	}
	return out
}

// repoSamples reads the shipped sample CloudTrail (detections/samples), from
// the package folder (go test) or the repository root (bench.sh).
func repoSamples() [][]byte {
	var out [][]byte
	for _, dir := range []string{"../../detections/samples/cloudtrail", "detections/samples/cloudtrail"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			var doc struct{ Records []json.RawMessage }
			if json.Unmarshal(b, &doc) != nil {
				continue
			}
			for _, r := range doc.Records {
				out = append(out, []byte(r))
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	return out
}

// generate writes a CloudTrail file of at least size bytes and returns
// its record count.
func generate(path string, size int64, gz bool) (int, error) {
	recs := sampleRecords()
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var w *bufio.Writer
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(f)
		w = bufio.NewWriterSize(zw, 1<<20)
	} else {
		w = bufio.NewWriterSize(f, 1<<20)
	}
	w.WriteString(`{"Records":[`)
	n := 0
	var written int64
	for written < size {
		r := recs[n%len(recs)]
		if n > 0 {
			w.WriteByte(',')
		}
		w.Write(r)
		written += int64(len(r)) + 1
		n++
	}
	w.WriteString("]}\n")
	if err := w.Flush(); err != nil {
		return 0, err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return 0, err
		}
	}
	return n, f.Close()
}

func benchSearch(b *testing.B, spl string, gz bool) {
	path := filepath.Join(b.TempDir(), "ct.json")
	if gz {
		path += ".gz"
	}
	const size = 32 << 20
	if _, err := generate(path, size, gz); err != nil {
		b.Fatal(err)
	}
	s := NewSearcher(Options{Paths: []string{path}, Host: "bench"})
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		err := s.Search(context.Background(), poller.Query{SPL: spl}, func(poller.Result) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
	}
}

const (
	benchFilter = `sourcetype=aws:cloudtrail eventName=StopLogging`
	benchStats  = `sourcetype=aws:cloudtrail | stats count by eventName`
)

func BenchmarkFilter(b *testing.B)     { benchSearch(b, benchFilter, false) }
func BenchmarkFilterGzip(b *testing.B) { benchSearch(b, benchFilter, true) }
func BenchmarkStats(b *testing.B)      { benchSearch(b, benchStats, false) }
func BenchmarkStatsGzip(b *testing.B)  { benchSearch(b, benchStats, true) }

// TestBenchGenerate and TestBenchRun are the steps of poller/local/bench.sh,
// driven by environment variables; they skip in ordinary test runs.
func TestBenchGenerate(t *testing.T) {
	out := os.Getenv("PATROL_BENCH_GENERATE")
	if out == "" {
		t.Skip("set PATROL_BENCH_GENERATE=file (poller/local/bench.sh does)")
	}
	mb, _ := strconv.Atoi(os.Getenv("PATROL_BENCH_MB"))
	if mb == 0 {
		mb = 256
	}
	n, err := generate(out, int64(mb)<<20, strings.HasSuffix(out, ".gz"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("generated %s: %d records\n", out, n)
}

func TestBenchRun(t *testing.T) {
	file, spl := os.Getenv("PATROL_BENCH_FILE"), os.Getenv("PATROL_BENCH_SPL")
	if file == "" || spl == "" {
		t.Skip("set PATROL_BENCH_FILE and PATROL_BENCH_SPL (poller/local/bench.sh does)")
	}
	raw, _ := strconv.ParseInt(os.Getenv("PATROL_BENCH_RAW_BYTES"), 10, 64)
	s := NewSearcher(Options{Paths: []string{file}, Host: "bench"})
	results := 0
	start := time.Now()
	err := s.Search(context.Background(), poller.Query{SPL: spl}, func(poller.Result) error {
		results++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	secs := time.Since(start).Seconds()
	events, _ := strconv.ParseFloat(os.Getenv("PATROL_BENCH_EVENTS"), 64)
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("%-55s %8.2fs %10.0f events/s %8.1f MB/s  results=%d  max RSS %d MB  heap peak-ish %d MB\n",
		spl, secs, events/secs, float64(raw)/1e6/secs, results, ru.Maxrss/1024, ms.HeapSys>>20)
}
