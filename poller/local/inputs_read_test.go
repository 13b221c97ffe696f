package local

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"testing"
)

// Read-ahead buffers are reused across inputs; no input may ever see
// another's bytes, however many are read at once and however early they
// are closed.
func TestReadAheadBuffersNeverShared(t *testing.T) {
	var plain, zipped [][]byte
	for i := range 6 {
		p := bytes.Repeat([]byte(fmt.Sprintf("input %d;", i)), 80000+i*997) // about 0.7 MB: several chunks
		plain, zipped = append(plain, p), append(zipped, gz(t, string(p)))
	}
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 12 {
				i := (g + j) % len(plain)
				r, release, err := decode(bytes.NewReader(zipped[i]), 1<<40)
				if err != nil {
					t.Error(err)
					return
				}
				if j%3 == 0 { // closed before the end
					io.CopyN(io.Discard, r, int64(len(plain[i])/2))
					release()
					continue
				}
				got, err := io.ReadAll(r)
				release()
				if err != nil || !bytes.Equal(got, plain[i]) {
					t.Errorf("input %d: %d bytes, err %v", i, len(got), err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
