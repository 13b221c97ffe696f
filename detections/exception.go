package detections

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Exception is one [[exception]] of a detection: results whose fields all
// match are dropped before fingerprinting, on every backend, until it
// expires. Its match values are case-insensitive globs (* and ?, with \
// escaping them), or CIDRs that match the addresses inside them; the
// matching itself lives with the rest of tuning (poller/tuning).
type Exception struct {
	// Match maps a result field to the values it may have (any of them).
	Match  map[string][]string
	Reason string
	Owner  string
	Ticket string
	// Expires is when it stops applying. A date is taken as the end of
	// that day, UTC; a date-time without an offset as UTC.
	Expires time.Time
	// File and Line say where it is written; ExpiresLine where its
	// expiry is (validate's warnings).
	File        string
	Line        int
	ExpiresLine int
	// Index is its place among the detection's exceptions, from 1.
	Index int
}

// Key names the exception by what it matches: stable across edits of its
// reason, owner, expiry or position, so that what it muted is counted
// against the same key.
func (e Exception) Key() string {
	h := sha256.New()
	for _, f := range e.Fields() {
		h.Write([]byte(f))
		h.Write([]byte{0x1e})
		vals := append([]string(nil), e.Match[f]...)
		sort.Strings(vals)
		h.Write([]byte(strings.Join(vals, "\x1d")))
		h.Write([]byte{0x1f})
	}
	return "exc-" + hex.EncodeToString(h.Sum(nil))[:10]
}

// Fields returns the matched field names, sorted.
func (e Exception) Fields() []string {
	out := make([]string, 0, len(e.Match))
	for f := range e.Match {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// String renders the match for people: field=value|value, ...
func (e Exception) String() string {
	var parts []string
	for _, f := range e.Fields() {
		parts = append(parts, f+"="+strings.Join(e.Match[f], "|"))
	}
	return strings.Join(parts, ", ")
}

// MaxExceptionSpan is how far ahead an exception may expire: every
// exception is looked at again at least once a year.
const MaxExceptionSpan = 366 * 24 * time.Hour

type rawException struct {
	Match   map[string]any `toml:"match"`
	Reason  string         `toml:"reason"`
	Owner   string         `toml:"owner"`
	Expires any            `toml:"expires"`
	Ticket  string         `toml:"ticket"`
}

func validateStage(r *Reporter, d *Detection, stage string) {
	switch stage {
	case "", StageLive:
		d.Stage = StageLive
	case StageShadow:
		d.Stage = StageShadow
	default:
		d.Stage = StageLive
		r.Add("stage", "%q must be \"live\" or \"shadow\" (shadow runs the detection and records what it would do, without tickets, messages or actions)", stage)
	}
}

func validateExceptions(r *Reporter, d *Detection, raw []rawException, now time.Time) {
	seen := map[string]int{}
	for i, re := range raw {
		key := fmt.Sprintf("exception[%d]", i+1)
		e := Exception{Reason: strings.TrimSpace(re.Reason), Owner: strings.TrimSpace(re.Owner), Ticket: strings.TrimSpace(re.Ticket),
			Match: map[string][]string{}, File: r.File, Line: r.Lines.Line(key), ExpiresLine: r.Lines.Line(key + ".expires"), Index: i + 1}
		ok := true
		if len(re.Match) == 0 {
			r.Add(key+".match", "is required: the fields a result must have to be excepted, e.g. { \"userIdentity.arn\" = \"arn:aws:iam::*:role/scanner-*\" }")
			ok = false
		}
		fields := make([]string, 0, len(re.Match))
		for f := range re.Match {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		for _, field := range fields {
			vals, err := MatchValues(re.Match[field])
			switch {
			case strings.TrimSpace(field) == "":
				r.Add(key+".match", "has an empty field name")
				ok = false
			case err != nil:
				r.Add(key+".match."+field, "%v", err)
				ok = false
			default:
				e.Match[field] = vals
			}
		}
		if e.Reason == "" {
			r.Add(key+".reason", "is required: why these results are expected (it is shown wherever the exception is)")
			ok = false
		}
		if e.Owner == "" {
			r.Add(key+".owner", "is required: who answers for the exception")
			ok = false
		}
		if re.Expires == nil {
			r.Add(key+".expires", "is required: a date (2027-03-31) or date-time, at most a year ahead")
			ok = false
		} else if exp, err := ParseExpiry(re.Expires); err != nil {
			r.Add(key+".expires", "%v", err)
			ok = false
		} else if exp.After(now.Add(MaxExceptionSpan)) {
			r.Add(key+".expires", "%s is more than a year ahead: exceptions are reviewed at least once a year", exp.Format(time.RFC3339))
			ok = false
		} else {
			e.Expires = exp
		}
		if !ok {
			continue
		}
		if prev, dup := seen[e.Key()]; dup {
			r.Add(key+".match", "is the same match as exception %d: merge them", prev)
			continue
		}
		seen[e.Key()] = e.Index
		d.Exceptions = append(d.Exceptions, e)
	}
}

// MatchValues reads a value of a `match` table: one string or a list.
func MatchValues(v any) ([]string, error) {
	switch v := v.(type) {
	case string:
		if v == "" {
			return nil, fmt.Errorf("is empty: give a value, a glob (* and ?) or a CIDR")
		}
		return []string{v}, nil
	case []any:
		if len(v) == 0 {
			return nil, fmt.Errorf("is an empty list")
		}
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok || s == "" {
				return nil, fmt.Errorf("must be a list of non-empty strings (globs or CIDRs)")
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("must be a string or a list of strings (globs or CIDRs), not %T", v)
}

// ParseExpiry reads an expiry as TOML gives it: a local date (the end of
// that day, UTC), a local date-time (UTC), an offset date-time, or a
// string in one of those forms.
func ParseExpiry(v any) (time.Time, error) { return ParseTime(v, true) }

// ParseTime reads a time as TOML gives it (see ParseExpiry). A date alone
// is the start of that day, UTC, or its end with dateEnd.
func ParseTime(v any, dateEnd bool) (time.Time, error) {
	days := 0
	if dateEnd {
		days = 1
	}
	switch v := v.(type) {
	case time.Time:
		switch v.Location().String() {
		case "date-local":
			return time.Date(v.Year(), v.Month(), v.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, days), nil
		case "datetime-local":
			return time.Date(v.Year(), v.Month(), v.Day(), v.Hour(), v.Minute(), v.Second(), v.Nanosecond(), time.UTC), nil
		case "time-local":
			return time.Time{}, fmt.Errorf("is a time of day: give a date (2027-03-31) or a date-time")
		}
		return v.UTC(), nil
	case string:
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t.UTC(), nil
		}
		if t, err := time.Parse("2006-01-02", v); err == nil {
			return t.AddDate(0, 0, days), nil
		}
		return time.Time{}, fmt.Errorf("%q is not a date (2027-03-31) or a date-time (2027-03-31T18:00:00Z)", v)
	}
	return time.Time{}, fmt.Errorf("must be a date (2027-03-31) or a date-time, not %T", v)
}
