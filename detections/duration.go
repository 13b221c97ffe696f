package detections

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a TOML duration: Go's syntax ("90s", "15m", "1h30m") plus
// days and weeks ("7d", "2w"), which detection authors reach for.
type Duration struct {
	time.Duration
}

// UnmarshalText parses a duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText renders the duration in Go's syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// ParseDuration parses Go durations plus a trailing "d" (24h) or "w" (7d)
// unit, e.g. "7d", "1d12h" is not supported: use "36h".
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	for unit, mult := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, unit); ok {
			if v, err := strconv.ParseFloat(n, 64); err == nil {
				if v < 0 {
					return 0, fmt.Errorf("duration %q is negative", s)
				}
				return time.Duration(v * float64(mult)), nil
			}
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want a number and a unit, like 90s, 15m, 2h or 7d", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	return v, nil
}
