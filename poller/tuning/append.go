package tuning

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/patrolsec/patrol/detections"
)

// NewSilence is what `patrol silence add` asks for.
type NewSilence struct {
	ID         string // "" makes one from the first detection and the start
	Detections []string
	Match      map[string][]string
	Starts     time.Time // zero: always
	Expires    time.Time
	Owner      string
	Reason     string
}

// silencesHeader starts a silences file patrol creates.
const silencesHeader = `# Silences: while one is in force, the alerts it covers are recorded
# (and counted against it) without a ticket, a message or an action.
# Keys: id, detections (ids or globs), match (optional), starts (optional),
# expires, owner, reason. See README.md, "Silences".
`

// AppendSilence adds s to the silences file at path as a new [[silence]]
// block, appended as text: the file's comments, layout and other silences
// are kept as they are. The file with the block added must parse, and the
// id must be new. It returns the silence as the file now holds it.
func AppendSilence(path string, s NewSilence, now time.Time) (Silence, error) {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return Silence{}, err
	}
	existing, err := ParseSilences(path, string(old))
	if err != nil {
		return Silence{}, fmt.Errorf("%s does not parse as it is; fix it first: %w", path, err)
	}
	taken := map[string]bool{}
	for _, e := range existing {
		taken[e.ID] = true
	}
	if s.ID == "" {
		s.ID = newSilenceID(s, taken)
	} else if taken[s.ID] {
		return Silence{}, fmt.Errorf("%s already has a silence with id %q", path, s.ID)
	}
	var block strings.Builder
	if len(old) > 0 && old[len(old)-1] != '\n' {
		block.WriteByte('\n')
	}
	if len(old) == 0 {
		block.WriteString(silencesHeader)
	}
	block.WriteString(renderSilence(s, now))
	text := string(old) + block.String()
	all, err := ParseSilences(path, text)
	if err != nil {
		return Silence{}, fmt.Errorf("the new silence would not parse: %w", err)
	}
	added := all[len(all)-1]
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return Silence{}, err
	}
	if _, err := f.WriteString(block.String()); err != nil {
		f.Close()
		return Silence{}, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return Silence{}, err
	}
	return added, f.Close()
}

// newSilenceID names a silence by its first detection and its start,
// with a suffix when that is taken.
func newSilenceID(s NewSilence, taken map[string]bool) string {
	base := "silence"
	if len(s.Detections) > 0 {
		base = strings.Trim(strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' {
				return r
			}
			return '-'
		}, strings.ToLower(s.Detections[0])), "-")
	}
	start := s.Starts
	if start.IsZero() {
		start = s.Expires
	}
	id := base + "-" + start.UTC().Format("20060102T1504Z")
	for n := 2; taken[id]; n++ {
		id = fmt.Sprintf("%s-%s-%d", base, start.UTC().Format("20060102T1504Z"), n)
	}
	return id
}

func renderSilence(s NewSilence, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n# added with 'patrol silence add' at %s\n[[silence]]\n", now.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "id = %s\n", detections.TOMLString(s.ID))
	quoted := make([]string, len(s.Detections))
	for i, d := range s.Detections {
		quoted[i] = detections.TOMLString(d)
	}
	fmt.Fprintf(&b, "detections = [%s]\n", strings.Join(quoted, ", "))
	if len(s.Match) > 0 {
		b.WriteString("match = { " + detections.InlineMatch(s.Match) + " }\n")
	}
	if !s.Starts.IsZero() {
		fmt.Fprintf(&b, "starts = %s\n", s.Starts.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(&b, "expires = %s\n", s.Expires.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "owner = %s\n", detections.TOMLString(s.Owner))
	fmt.Fprintf(&b, "reason = %s\n", detections.TOMLString(s.Reason))
	return b.String()
}
