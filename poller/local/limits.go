package local

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"

	"github.com/patrolsec/patrol/detections/spl"
)

// Limits bound what one log file, or one record in it, may cost. Log files
// are written by whoever can write to the bucket or folder they come from,
// so a crafted one must neither exhaust memory nor stall the search. They
// apply to any stream the reader is handed (a file, an object body).
type Limits struct {
	// MaxDepth is the deepest a JSON record may nest (the record itself is
	// level 1).
	MaxDepth int
	// MaxValues is the most elements one JSON array may hold, and the most
	// values one field keeps (a multivalue field from nested arrays).
	MaxValues int
	// MaxRecordBytes is the longest record: a JSON object or a text line.
	MaxRecordBytes int
	// MaxFileBytes is the most bytes read from one file, after
	// decompression.
	MaxFileBytes int64
}

// DefaultLimits are far above what AWS writes (CloudTrail nests a dozen
// levels, keeps records well under 1 MB, and delivers files of tens of MB)
// and far below what hurts.
var DefaultLimits = Limits{MaxDepth: 100, MaxValues: 10000, MaxRecordBytes: 1 << 20, MaxFileBytes: 1 << 30}

func (l Limits) orDefault() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxValues <= 0 {
		l.MaxValues = DefaultLimits.MaxValues
	}
	if l.MaxRecordBytes <= 0 {
		l.MaxRecordBytes = DefaultLimits.MaxRecordBytes
	}
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = DefaultLimits.MaxFileBytes
	}
	return l
}

// json is what the engine's JSON extraction is bounded by.
func (l Limits) json() spl.JSONLimits {
	return spl.JSONLimits{MaxDepth: l.MaxDepth, MaxValues: l.MaxValues}
}

// Reasons a record or the rest of a file is skipped; the metric's labels.
const (
	SkipDepth      = "depth"
	SkipValues     = "values"
	SkipRecordSize = "record_size"
	SkipFileSize   = "file_size"
)

// skipError is a record over a limit: the reader has read past it and the
// next record can be read.
type skipError struct {
	Offset int64
	Reason string
	Detail string
}

func (e *skipError) Error() string {
	return fmt.Sprintf("record at byte %d skipped: %s", e.Offset, e.Detail)
}

// errFileLimit ends a stream that reached MaxFileBytes.
var errFileLimit = errors.New("file limit reached")

// limitReader reads at most n bytes of r, then fails with errFileLimit
// (not io.EOF: the rest of the file is skipped, not the end of it).
type limitReader struct {
	r io.Reader
	n int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errFileLimit
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// skips tallies what a search left out of one file, and is the one place
// that names it (in the log) and counts it (OnSkip).
type skips struct {
	log    *slog.Logger
	onSkip func(reason string)
	file   string
	n      map[string]int
	total  int
}

// maxNamedSkips is how many skipped records of one file are logged one by
// one; the rest are summed up when the file is done.
const maxNamedSkips = 3

func (s *skips) record(e *skipError) {
	s.add(e.Reason)
	if s.total <= maxNamedSkips {
		s.log.Warn("local search: record skipped", "file", s.file, "offset", e.Offset, "reason", e.Reason, "detail", e.Detail)
	}
}

func (s *skips) rest(read int64) {
	s.add(SkipFileSize)
	s.log.Warn("local search: rest of file skipped", "file", s.file, "reason", SkipFileSize,
		"detail", fmt.Sprintf("read %d bytes (after decompression), the most one file may give (search.local.max_file_bytes)", read))
}

func (s *skips) add(reason string) {
	if s.n == nil {
		s.n = map[string]int{}
	}
	s.n[reason]++
	s.total++
	if s.onSkip != nil {
		s.onSkip(reason)
	}
}

// done sums up a file's skipped records past the ones named.
func (s *skips) done() {
	if s.total <= maxNamedSkips {
		return
	}
	var parts []string
	for r, n := range s.n {
		parts = append(parts, fmt.Sprintf("%s: %d", r, n))
	}
	sort.Strings(parts)
	s.log.Warn("local search: records skipped in file", "file", s.file, "skipped", s.total, "by_reason", strings.Join(parts, ", "))
}
