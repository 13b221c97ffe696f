package tuning

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/patrolsec/patrol/detections"
)

// Silence is one [[silence]] of silences.toml: while it is in force, the
// alerts of the detections it covers whose results satisfy its match are
// recorded (and counted against it) without a ticket, a message or an
// action.
type Silence struct {
	ID         string
	Detections []string            // ids or globs
	Match      map[string][]string // optional: every field must match
	Starts     time.Time           // zero: always
	Expires    time.Time
	Owner      string
	Reason     string
	Line       int

	match Match
	globs [][]rune // Detections, lowercased
}

// ActiveAt reports whether the silence is in force at t.
func (s Silence) ActiveAt(t time.Time) bool {
	return (s.Starts.IsZero() || !t.Before(s.Starts)) && t.Before(s.Expires)
}

// Covers reports whether the silence names the detection (by id or glob).
func (s Silence) Covers(id string) bool {
	id = strings.ToLower(id)
	if s.globs == nil {
		for _, p := range s.Detections {
			if Glob([]rune(strings.ToLower(p)), id) {
				return true
			}
		}
		return false
	}
	for _, g := range s.globs {
		if Glob(g, id) {
			return true
		}
	}
	return false
}

// State says whether the silence is "active", "future" or "expired" at t.
func (s Silence) State(t time.Time) string {
	switch {
	case s.ActiveAt(t):
		return "active"
	case !t.Before(s.Expires):
		return "expired"
	}
	return "future"
}

type rawSilences struct {
	Silence []rawSilence `toml:"silence"`
}

type rawSilence struct {
	ID         string         `toml:"id"`
	Detections []string       `toml:"detections"`
	Match      map[string]any `toml:"match"`
	Starts     any            `toml:"starts"`
	Expires    any            `toml:"expires"`
	Owner      string         `toml:"owner"`
	Reason     string         `toml:"reason"`
}

// ParseSilences reads silences.toml's text. The error joins a
// *detections.Problem (file, line, key) for every problem found.
func ParseSilences(file, src string) ([]Silence, error) {
	r := &detections.Reporter{File: file, Lines: detections.ScanKeyLines(src)}
	var raw rawSilences
	if !detections.DecodeStrict(r, src, &raw) {
		return nil, r.Err()
	}
	var out []Silence
	ids := map[string]int{}
	for i, rs := range raw.Silence {
		key := fmt.Sprintf("silence[%d]", i+1)
		s := Silence{ID: strings.TrimSpace(rs.ID), Owner: strings.TrimSpace(rs.Owner), Reason: strings.TrimSpace(rs.Reason),
			Detections: rs.Detections, Match: map[string][]string{}, Line: r.Lines.Line(key)}
		ok := true
		need := func(k, v, what string) {
			if v == "" {
				r.Add(key+"."+k, "is required: %s", what)
				ok = false
			}
		}
		need("id", s.ID, "a unique name, like \"maint-2026-12-10\"")
		need("owner", s.Owner, "who answers for the silence")
		need("reason", s.Reason, "why these alerts need no ticket now")
		if prev, dup := ids[s.ID]; dup && s.ID != "" {
			r.Add(key+".id", "%q is also the id of silence %d: ids must be unique", s.ID, prev)
			ok = false
		}
		if _, dup := ids[s.ID]; !dup {
			ids[s.ID] = i + 1
		}
		if len(s.Detections) == 0 {
			r.Add(key+".detections", "is required: the detection ids or globs it silences, like [\"ec2-*\"]")
			ok = false
		}
		for _, d := range s.Detections {
			if strings.TrimSpace(d) == "" {
				r.Add(key+".detections", "has an empty entry")
				ok = false
			}
		}
		fields := make([]string, 0, len(rs.Match))
		for f := range rs.Match {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		for _, f := range fields {
			vals, err := detections.MatchValues(rs.Match[f])
			if err != nil {
				r.Add(key+".match."+f, "%v", err)
				ok = false
				continue
			}
			s.Match[f] = vals
		}
		if rs.Starts != nil {
			t, err := detections.ParseTime(rs.Starts, false)
			if err != nil {
				r.Add(key+".starts", "%v", err)
				ok = false
			}
			s.Starts = t
		}
		if rs.Expires == nil {
			r.Add(key+".expires", "is required: a date-time like 2026-12-11T04:00:00Z (a date means the end of that day, UTC)")
			ok = false
		} else if t, err := detections.ParseExpiry(rs.Expires); err != nil {
			r.Add(key+".expires", "%v", err)
			ok = false
		} else {
			s.Expires = t
		}
		if ok && !s.Starts.IsZero() && !s.Starts.Before(s.Expires) {
			r.Add(key+".expires", "%s is not after starts (%s)", s.Expires.Format(time.RFC3339), s.Starts.Format(time.RFC3339))
			ok = false
		}
		if ok {
			s.match = CompileMatch(s.Match)
			for _, d := range s.Detections {
				s.globs = append(s.globs, []rune(strings.ToLower(d)))
			}
			out = append(out, s)
		}
	}
	return out, r.Err()
}

// LoadSilences reads the silences file at path; a missing file holds none.
func LoadSilences(path string) ([]Silence, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &detections.Problem{File: path, Msg: err.Error()}
	}
	return ParseSilences(path, string(b))
}

// SilenceFile is the silences file as the daemon uses it: read at start,
// read again on SIGHUP and whenever it changes on disk (a `patrol silence
// add` takes effect before the next search, without a reload). A version
// that does not parse is logged and the previous one stays in force.
type SilenceFile struct {
	Path   string
	Logger *slog.Logger

	mu       sync.Mutex
	silences []Silence
	stamp    fileStamp
	checked  time.Time
	bad      fileStamp // the stamp of a version already reported as broken
}

type fileStamp struct {
	mod  time.Time
	size int64
	ok   bool
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size(), ok: true}
}

// OpenSilences reads the silences file at path, or reports its problems.
func OpenSilences(path string, log *slog.Logger) (*SilenceFile, error) {
	f := &SilenceFile{Path: path, Logger: log}
	if err := f.Reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// Reload reads the file again; on error the silences in force stay.
func (f *SilenceFile) Reload() error {
	stamp := stampOf(f.Path)
	ss, err := LoadSilences(f.Path)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checked = time.Now()
	if err != nil {
		f.bad = stamp
		return err
	}
	f.silences, f.stamp = ss, stamp
	return nil
}

// Current returns the silences in force, reading the file again when it
// changed (checked at most once a second).
func (f *SilenceFile) Current() []Silence {
	f.mu.Lock()
	stale := time.Since(f.checked) >= time.Second
	f.mu.Unlock()
	if stale {
		f.refresh()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.silences
}

func (f *SilenceFile) refresh() {
	stamp := stampOf(f.Path)
	f.mu.Lock()
	f.checked = time.Now()
	same := stamp == f.stamp || stamp == f.bad
	f.mu.Unlock()
	if same {
		return
	}
	if err := f.Reload(); err != nil && f.Logger != nil {
		f.Logger.Error("silences file changed but does not parse: the silences read before stay in force", "file", f.Path, "err", err)
	}
}
