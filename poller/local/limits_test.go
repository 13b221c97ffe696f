package local

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/patrolsec/patrol/poller"
)

// crafted returns a CloudTrail record whose requestParameters are raw.
func crafted(name, raw string) string {
	return `{"eventTime":"2024-05-01T12:00:00Z","eventSource":"s3.amazonaws.com","eventName":"` + name + `","requestParameters":` + raw + `}`
}

// gzipBomb compresses a record holding a string of n bytes.
func gzipBomb(t *testing.T, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	w.Write([]byte(`{"Records":[{"eventName":"Bomb","x":"`))
	chunk := bytes.Repeat([]byte("A"), 1<<16)
	for written := 0; written < n; written += len(chunk) {
		w.Write(chunk)
	}
	w.Write([]byte(`"}]}`))
	w.Close()
	return b.Bytes()
}

// TestCraftedRecordsAreSkipped: records over a limit are skipped, named and
// counted, and the search goes on with the rest of the file and the next
// files; a file over max_file_bytes is read no further.
func TestCraftedRecordsAreSkipped(t *testing.T) {
	dir := t.TempDir()
	var arr []string
	for i := range 200 {
		arr = append(arr, fmt.Sprintf(`{"ARN":"arn:aws:s3:::b%d"}`, i))
	}
	deep := strings.Repeat("[", 5000) + strings.Repeat("]", 5000)
	records := []string{
		crafted("Deep", `{"x":`+deep+`}`),
		crafted("Huge", `{"resources":[`+strings.Join(arr, ",")+`]}`),
		crafted("Long", `{"x":"`+strings.Repeat(`\"`, 20000)+`"}`),
		recStop,
	}
	writeFile(t, dir, "a_crafted.json", []byte(`{"Records":[`+strings.Join(records, ",")+`]}`))
	writeFile(t, dir, "b_bomb.json.gz", gzipBomb(t, 4<<20))
	writeFile(t, dir, "c_flow.log", []byte("2 111122223333 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1714564800 1714564860 ACCEPT OK\n"+
		strings.Repeat("x", 50000)+"\n2 111122223333 eni-1 10.0.0.1 10.0.0.2 443 49153 6 10 840 1714564800 1714564860 ACCEPT OK\n"))
	writeFile(t, dir, "d_good.json", []byte(recLogin+"\n"))

	var logs bytes.Buffer
	var mu sync.Mutex
	counts := map[string]int{}
	s := NewSearcher(Options{Paths: []string{dir}, Host: "h",
		Limits: Limits{MaxDepth: 50, MaxValues: 100, MaxRecordBytes: 32 << 10, MaxFileBytes: 1 << 20},
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		OnSkip: func(r string) { mu.Lock(); counts[r]++; mu.Unlock() }})
	got, err := search(t, s, "*", poller.Window{})
	if err != nil {
		t.Fatal(err)
	}
	names := strings.Join(pick(got, "eventName"), ",")
	if names != "eventName=StopLogging,,,eventName=ConsoleLogin" { // two flow records between
		t.Errorf("results: %d, %s", len(got), names)
	}
	want := map[string]int{SkipDepth: 1, SkipValues: 1, SkipRecordSize: 2, SkipFileSize: 1}
	for r, n := range want {
		if counts[r] != n {
			t.Errorf("%s skips = %d, want %d (all %v)", r, counts[r], n, counts)
		}
	}
	for _, w := range []string{"a_crafted.json", "nested deeper than 50", "more than 100 elements", "longer than 32768 bytes",
		"b_bomb.json.gz", "rest of file skipped", "c_flow.log"} {
		if !strings.Contains(logs.String(), w) {
			t.Errorf("log lacks %q:\n%s", w, logs.String())
		}
	}
}
