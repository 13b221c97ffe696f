package spl

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// RelativeTime applies a Splunk relative time modifier ("-24h", "-1d@d",
// "@w1", "+30m", "now") to t.
func RelativeTime(t time.Time, spec string) (time.Time, error) {
	s := strings.TrimSpace(spec)
	if s == "" || s == "now" {
		return t, nil
	}
	orig := s
	for s != "" {
		snap := false
		switch s[0] {
		case '@':
			snap = true
			s = s[1:]
		case '+', '-':
		default:
			return t, fmt.Errorf("bad relative time %q", orig)
		}
		sign := 1
		n := 1
		if !snap {
			if s[0] == '-' {
				sign = -1
			}
			s = s[1:]
			j := 0
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			if j > 0 {
				n, _ = strconv.Atoi(s[:j])
				s = s[j:]
			}
		}
		j := 0
		for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || snap && isDigit(s[j])) {
			j++
		}
		unit := strings.ToLower(s[:j])
		s = s[j:]
		var err error
		if snap {
			t, err = snapTime(t, unit)
		} else {
			t, err = addUnits(t, sign*n, unit)
		}
		if err != nil {
			return t, fmt.Errorf("bad relative time %q: %v", orig, err)
		}
	}
	return t, nil
}

func unitName(u string) string {
	switch u {
	case "s", "sec", "secs", "second", "seconds":
		return "s"
	case "m", "min", "mins", "minute", "minutes":
		return "m"
	case "h", "hr", "hrs", "hour", "hours":
		return "h"
	case "d", "day", "days":
		return "d"
	case "w", "week", "weeks":
		return "w"
	case "mon", "month", "months":
		return "mon"
	case "q", "qtr", "qtrs", "quarter", "quarters":
		return "q"
	case "y", "yr", "yrs", "year", "years":
		return "y"
	}
	return ""
}

func addUnits(t time.Time, n int, unit string) (time.Time, error) {
	switch unitName(unit) {
	case "s":
		return t.Add(time.Duration(n) * time.Second), nil
	case "m":
		return t.Add(time.Duration(n) * time.Minute), nil
	case "h":
		return t.Add(time.Duration(n) * time.Hour), nil
	case "d":
		return t.AddDate(0, 0, n), nil
	case "w":
		return t.AddDate(0, 0, 7*n), nil
	case "mon":
		return t.AddDate(0, n, 0), nil
	case "q":
		return t.AddDate(0, 3*n, 0), nil
	case "y":
		return t.AddDate(n, 0, 0), nil
	}
	return t, fmt.Errorf("unknown time unit %q", unit)
}

func snapTime(t time.Time, unit string) (time.Time, error) {
	y, mo, d := t.Date()
	loc := t.Location()
	if strings.HasPrefix(unit, "w") && len(unit) == 2 && isDigit(unit[1]) {
		want := int(unit[1]-'0') % 7
		start := time.Date(y, mo, d, 0, 0, 0, 0, loc)
		back := (int(start.Weekday()) - want + 7) % 7
		return start.AddDate(0, 0, -back), nil
	}
	switch unitName(unit) {
	case "s":
		return t.Truncate(time.Second), nil
	case "m":
		return time.Date(y, mo, d, t.Hour(), t.Minute(), 0, 0, loc), nil
	case "h":
		return time.Date(y, mo, d, t.Hour(), 0, 0, 0, loc), nil
	case "d":
		return time.Date(y, mo, d, 0, 0, 0, 0, loc), nil
	case "w":
		return snapTime(t, "w0")
	case "mon":
		return time.Date(y, mo, 1, 0, 0, 0, 0, loc), nil
	case "q":
		return time.Date(y, mo-(mo-1)%3, 1, 0, 0, 0, 0, loc), nil
	case "y":
		return time.Date(y, 1, 1, 0, 0, 0, 0, loc), nil
	}
	return t, fmt.Errorf("unknown snap unit %q", unit)
}

// ParseTimeModifier reads an earliest=/latest= value: epoch seconds, a
// relative modifier, or an absolute %m/%d/%Y:%H:%M:%S time in loc.
func ParseTimeModifier(s string, now time.Time, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	if n, ok := parseNumber(s); ok {
		return epochTime(n, loc), nil
	}
	if t, ok := strptime(s, "%m/%d/%Y:%H:%M:%S", loc); ok {
		return t, nil
	}
	return RelativeTime(now.In(loc), s)
}

func fnNow(c *evalCtx, _ getter, _ *callExpr) (Value, error) {
	return Num(float64(c.now.Unix())), nil
}

func fnTime(c *evalCtx, _ getter, _ *callExpr) (Value, error) {
	return Num(timeEpoch(c.now)), nil
}

func fnRelativeTime(c *evalCtx, g getter, call *callExpr) (Value, error) {
	vs, err := evalArgs(c, g, call)
	if err != nil || vs[0].IsNull() || vs[1].IsNull() {
		return Null, err
	}
	n, ok := vs[0].Number()
	if !ok {
		return Null, nil
	}
	t, err := RelativeTime(epochTime(n, c.loc), vs[1].String())
	if err != nil {
		return Null, err
	}
	return Num(timeEpoch(t)), nil
}

func fnStrftime(c *evalCtx, g getter, call *callExpr) (Value, error) {
	vs, err := evalArgs(c, g, call)
	if err != nil || vs[0].IsNull() || vs[1].IsNull() {
		return Null, err
	}
	n, ok := vs[0].Number()
	if !ok {
		return Null, nil
	}
	return Str(strftime(epochTime(n, c.loc), vs[1].String())), nil
}

func fnStrptime(c *evalCtx, g getter, call *callExpr) (Value, error) {
	vs, err := evalArgs(c, g, call)
	if err != nil || vs[0].IsNull() || vs[1].IsNull() {
		return Null, err
	}
	t, ok := strptime(vs[0].String(), vs[1].String(), c.loc)
	if !ok {
		return Null, nil
	}
	return Num(timeEpoch(t)), nil
}
