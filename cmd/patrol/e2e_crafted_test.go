package main

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// craftedSizes say how big the crafted files are: the test's are small
// enough for the race detector, the benchmark's are the sizes that broke
// patrol before it had limits.
type craftedSizes struct {
	depth    int   // arrays nested in one record
	deepGz   int   // arrays nested in one record of a gzipped file
	elements int   // elements of one array
	bomb     int64 // bytes of one string in a gzip bomb
}

// writeCraftedLogs writes, into dir, ordinary CloudTrail files with one
// StopLogging event each and the crafted files, and returns the crafted
// files' names.
func writeCraftedLogs(t testing.TB, dir string, sz craftedSizes) []string {
	t.Helper()
	rec := func(name, extra string) string {
		return `{"eventVersion":"1.08","eventTime":"2026-11-01T09:00:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"` + name +
			`","awsRegion":"us-east-1","recipientAccountId":"111122223333","requestParameters":{"name":"trail-` + name + `"}` + extra + `}`
	}
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a_ordinary.json", `{"Records":[`+rec("StopLogging", "")+`]}`)
	write("c_deep.json", `{"Records":[`+rec("Deep", `,"x":`+strings.Repeat("[", sz.depth)+strings.Repeat("]", sz.depth))+`,`+rec("StopLogging", "")+`]}`)
	var b strings.Builder
	for i := range sz.elements {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"ARN":"arn:aws:s3:::bucket-%d"}`, i)
	}
	write("d_huge.json", `{"Records":[`+rec("Huge", `,"resources":[`+b.String()+`]`)+`]}`)
	gz := func(name string, parts ...func(w *bufio.Writer)) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		zw, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
		w := bufio.NewWriterSize(zw, 1<<20)
		for _, p := range parts {
			p(w)
		}
		w.Flush()
		zw.Close()
		f.Close()
	}
	repeat := func(s string, n int64) func(w *bufio.Writer) {
		return func(w *bufio.Writer) {
			chunk := strings.Repeat(s, 1<<16)
			for n > 0 {
				k := min(n, int64(len(chunk))/int64(len(s))*int64(len(s)))
				w.WriteString(chunk[:k])
				n -= k
			}
		}
	}
	str := func(s string) func(w *bufio.Writer) { return func(w *bufio.Writer) { w.WriteString(s) } }
	gz("e_deeper.json.gz", str(`{"Records":[`+strings.TrimSuffix(rec("Deeper", ""), "}")+`,"x":`), repeat("[", int64(sz.deepGz)), repeat("]", int64(sz.deepGz)), str("}]}"))
	gz("f_bomb.json.gz", str(`{"Records":[`+strings.TrimSuffix(rec("Bomb", ""), "}")+`,"x":"`), repeat("A", sz.bomb), str(`"}]}`))
	write("g_ordinary.json", `{"Records":[`+rec("StopLogging", "")+`]}`)
	return []string{"c_deep.json", "d_huge.json", "e_deeper.json.gz", "f_bomb.json.gz"}
}

// TestSearchCraftedFiles: crafted files beside ordinary ones; patrol search
// still finds the ordinary events, names each crafted file, and goes on.
// (BenchmarkSearchCraftedFiles measures time and memory at full size.)
func TestSearchCraftedFiles(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	crafted := writeCraftedLogs(t, logs, craftedSizes{depth: 50000, deepGz: 200000, elements: 20000, bomb: 48 << 20})
	conf := filepath.Join(dir, "config.toml")
	os.WriteFile(conf, []byte("[search.local]\npaths = [\"logs\"]\nmax_file_bytes = 16_777_216\n"), 0o644)

	code, out, errOut := patrol(t, "search", "--config", conf, "eventName=StopLogging | table eventName requestParameters.name")
	if code != exitOK {
		t.Fatalf("search: exit %d\n%s", code, errOut)
	}
	if n := strings.Count(out, `"eventName":"StopLogging"`); n != 3 {
		t.Errorf("ordinary events found: %d, want 3\n%s", n, out)
	}
	for _, f := range crafted {
		if !strings.Contains(errOut, filepath.Join(logs, f)) {
			t.Errorf("stderr does not name %s:\n%s", f, errOut)
		}
	}
	var reasons []string
	for _, line := range strings.Split(errOut, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["reason"] != nil {
			reasons = append(reasons, fmt.Sprint(m["reason"]))
		}
	}
	// The bomb is one record as long as the file: the file's limit ends it.
	if got := strings.Join(reasons, ","); got != "depth,values,depth,file_size" {
		t.Errorf("skip reasons logged: %s\n%s", got, errOut)
	}
}

// TestCraftedFilesCountedInTheMetric: what the local engine skips during
// `patrol once` reaches patrol_local_skipped_total{reason} in the metrics
// textfile, one count for each skip logged.
func TestCraftedFilesCountedInTheMetric(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	os.MkdirAll(filepath.Join(dir, "detections"), 0o755)
	os.WriteFile(filepath.Join(dir, "detections", "a_stop.toml"), []byte(e2eStop), 0o644)
	writeCraftedLogs(t, logs, craftedSizes{depth: 500, deepGz: 5000, elements: 20000, bomb: 4 << 20})
	conf := filepath.Join(dir, "config.toml")
	textfile := filepath.Join(dir, "patrol.prom")
	os.WriteFile(conf, []byte(fmt.Sprintf(`[search.macros]
cloudtrail = "sourcetype=aws:cloudtrail"
[search.local]
paths = ["logs"]
first_run = "all"
max_record_bytes = 4_194_304
max_file_bytes = 2_097_152
[tickets]
backend = "local"
[metrics]
textfile = %q
`, textfile)), 0o644)

	code, out, errOut := patrol(t, "once", "--config", conf)
	if code != exitOK {
		t.Fatalf("once: exit %d\n%s%s", code, out, errOut)
	}
	logged := map[string]int{}
	for _, line := range strings.Split(errOut, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["reason"] != nil {
			logged[fmt.Sprint(m["reason"])]++
		}
	}
	if want := map[string]int{"depth": 2, "values": 1, "file_size": 1}; fmt.Sprint(logged) != fmt.Sprint(want) {
		t.Errorf("skips logged %v, want %v\n%s", logged, want, errOut)
	}
	prom, err := os.ReadFile(textfile)
	if err != nil {
		t.Fatal(err)
	}
	for reason, n := range logged {
		want := fmt.Sprintf("patrol_local_skipped_total{reason=%q} %d\n", reason, n)
		if !strings.Contains(string(prom), want) {
			t.Errorf("metrics textfile lacks %q:\n%s", want, prom)
		}
	}
}
