package spl

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// epochTime converts epoch seconds (with a fraction) to a time in loc.
func epochTime(sec float64, loc *time.Location) time.Time {
	whole := math.Floor(sec)
	ns := int64(math.Round((sec - whole) * 1e9))
	return time.Unix(int64(whole), ns).In(loc)
}

// timeEpoch converts a time to epoch seconds with a fraction.
func timeEpoch(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

// Strftime formats epoch seconds with a C strftime format as Splunk
// does (%Y-%m-%dT%H:%M:%S.%3N%:z and friends), in loc.
func Strftime(sec float64, format string, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	return strftime(epochTime(sec, loc), format)
}

func strftime(t time.Time, f string) string {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '%' || i+1 >= len(f) {
			b.WriteByte(c)
			continue
		}
		i++
		// optional width for subseconds: %3N, %6Q
		width := 0
		for i < len(f) && isDigit(f[i]) {
			width = width*10 + int(f[i]-'0')
			i++
		}
		if i >= len(f) {
			break
		}
		switch f[i] {
		case 'Y':
			fmt.Fprintf(&b, "%04d", t.Year())
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'e':
			fmt.Fprintf(&b, "%2d", t.Day())
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'k':
			fmt.Fprintf(&b, "%2d", t.Hour())
		case 'I':
			fmt.Fprintf(&b, "%02d", (t.Hour()+11)%12+1)
		case 'l':
			fmt.Fprintf(&b, "%2d", (t.Hour()+11)%12+1)
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 'p':
			if t.Hour() < 12 {
				b.WriteString("AM")
			} else {
				b.WriteString("PM")
			}
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case 'a':
			b.WriteString(t.Weekday().String()[:3])
		case 'A':
			b.WriteString(t.Weekday().String())
		case 'b', 'h':
			b.WriteString(t.Month().String()[:3])
		case 'B':
			b.WriteString(t.Month().String())
		case 'w':
			fmt.Fprintf(&b, "%d", int(t.Weekday()))
		case 'u':
			fmt.Fprintf(&b, "%d", (int(t.Weekday())+6)%7+1)
		case 'V':
			_, w := t.ISOWeek()
			fmt.Fprintf(&b, "%02d", w)
		case 'U':
			fmt.Fprintf(&b, "%02d", (t.YearDay()+6-int(t.Weekday()))/7)
		case 'Z':
			name, _ := t.Zone()
			b.WriteString(name)
		case 'z':
			b.WriteString(t.Format("-0700"))
		case ':':
			if i+1 < len(f) && f[i+1] == 'z' {
				i++
				b.WriteString(t.Format("-07:00"))
			} else {
				b.WriteString("%:")
			}
		case 's':
			fmt.Fprintf(&b, "%d", t.Unix())
		case 'N', 'Q':
			if width == 0 {
				width = 3
				if f[i] == 'N' {
					width = 9
				}
			}
			ns := fmt.Sprintf("%09d", t.Nanosecond())
			if width > 9 {
				width = 9
			}
			b.WriteString(ns[:width])
		case 'F':
			b.WriteString(t.Format("2006-01-02"))
		case 'T':
			b.WriteString(t.Format("15:04:05"))
		case 'D':
			b.WriteString(t.Format("01/02/06"))
		case 'c':
			b.WriteString(t.Format("Mon Jan  2 15:04:05 2006"))
		case 'x':
			b.WriteString(t.Format("01/02/06"))
		case 'X':
			b.WriteString(t.Format("15:04:05"))
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(f[i])
		}
	}
	return b.String()
}

// strptime parses s with a strftime format; zone-less times are in loc.
func strptime(s, f string, loc *time.Location) (time.Time, bool) {
	year, month, day, hour, min, sec, nsec := 1970, 1, 1, 0, 0, 0, 0
	pm, hasPM := false, false
	zone := loc
	epoch := int64(math.MinInt64)
	i := 0
	num := func(max int) (int, bool) {
		j := i
		if j < len(s) && (s[j] == '+' || s[j] == '-') && max > 4 {
			j++
		}
		for j < len(s) && j-i < max && isDigit(s[j]) {
			j++
		}
		if j == i {
			return 0, false
		}
		n, err := strconv.Atoi(s[i:j])
		i = j
		return n, err == nil
	}
	for k := 0; k < len(f); k++ {
		c := f[k]
		if c == ' ' {
			for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
				i++
			}
			continue
		}
		if c != '%' || k+1 >= len(f) {
			if i >= len(s) || s[i] != c {
				return time.Time{}, false
			}
			i++
			continue
		}
		k++
		width := 0
		for k < len(f) && isDigit(f[k]) {
			width = width*10 + int(f[k]-'0')
			k++
		}
		if k >= len(f) {
			return time.Time{}, false
		}
		var ok bool
		switch f[k] {
		case 'Y':
			year, ok = num(4)
		case 'y':
			year, ok = num(2)
			year += 1900
			if year < 1969 {
				year += 100
			}
		case 'm':
			month, ok = num(2)
		case 'd', 'e':
			for i < len(s) && s[i] == ' ' {
				i++
			}
			day, ok = num(2)
		case 'H', 'k':
			hour, ok = num(2)
		case 'I', 'l':
			hour, ok = num(2)
		case 'M':
			min, ok = num(2)
		case 'S':
			sec, ok = num(2)
		case 'j':
			var yd int
			yd, ok = num(3)
			month, day = 1, yd
		case 's':
			var e int
			e, ok = num(12)
			epoch = int64(e)
		case 'N', 'Q':
			j := i
			for i < len(s) && isDigit(s[i]) && (width == 0 || i-j < width) {
				i++
			}
			if ok = i > j; ok {
				frac := s[j:i]
				if len(frac) > 9 {
					frac = frac[:9]
				}
				nsec, _ = strconv.Atoi(frac + strings.Repeat("0", 9-len(frac)))
			}
		case 'p':
			if i+2 <= len(s) {
				switch strings.ToUpper(s[i : i+2]) {
				case "AM":
					ok, hasPM = true, true
				case "PM":
					ok, hasPM, pm = true, true, true
				}
				i += 2
			}
		case 'b', 'B', 'h':
			month, ok = parseName(s, &i, monthNames)
			month++
		case 'a', 'A':
			_, ok = parseName(s, &i, dayNames)
		case 'Z':
			j := i
			for i < len(s) && (s[i] >= 'A' && s[i] <= 'Z' || s[i] >= 'a' && s[i] <= 'z') {
				i++
			}
			name := s[j:i]
			ok = i > j
			if name == "UTC" || name == "GMT" || name == "Z" {
				zone = time.UTC
			}
		case 'z', ':':
			if f[k] == ':' {
				k++
			}
			zone, ok = parseOffset(s, &i)
		case 'F':
			ok = sub(s, &i, "%Y-%m-%d", &year, &month, &day)
		case 'T':
			ok = sub(s, &i, "%H:%M:%S", &hour, &min, &sec)
		case '%':
			ok = i < len(s) && s[i] == '%'
			i++
		default:
			return time.Time{}, false
		}
		if !ok {
			return time.Time{}, false
		}
	}
	if epoch != math.MinInt64 {
		return time.Unix(epoch, int64(nsec)), true
	}
	if hasPM {
		hour %= 12
		if pm {
			hour += 12
		}
	}
	if month < 1 || month > 12 || day < 1 || hour > 24 || min > 59 || sec > 60 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, min, sec, nsec, zone), true
}

// sub parses a fixed three-number part (%F, %T) into its fields.
func sub(s string, i *int, f string, a, b, c *int) bool {
	sep := f[2]
	parts := []*int{a, b, c}
	for k, p := range parts {
		j := *i
		for *i < len(s) && isDigit(s[*i]) {
			*i++
		}
		if *i == j {
			return false
		}
		*p, _ = strconv.Atoi(s[j:*i])
		if k < 2 {
			if *i >= len(s) || s[*i] != sep {
				return false
			}
			*i++
		}
	}
	return true
}

var (
	monthNames = []string{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"}
	dayNames   = []string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}
)

func parseName(s string, i *int, names []string) (int, bool) {
	rest := strings.ToLower(s[*i:])
	for k, n := range names {
		if strings.HasPrefix(rest, n) {
			*i += len(n)
			return k, true
		}
	}
	for k, n := range names {
		if strings.HasPrefix(rest, n[:3]) {
			*i += 3
			return k, true
		}
	}
	return 0, false
}

func parseOffset(s string, i *int) (*time.Location, bool) {
	if *i < len(s) && s[*i] == 'Z' {
		*i++
		return time.UTC, true
	}
	if *i >= len(s) || s[*i] != '+' && s[*i] != '-' {
		return nil, false
	}
	sign := 1
	if s[*i] == '-' {
		sign = -1
	}
	*i++
	digits := ""
	for *i < len(s) && len(digits) < 4 && (isDigit(s[*i]) || s[*i] == ':') {
		if s[*i] != ':' {
			digits += string(s[*i])
		}
		*i++
	}
	if len(digits) != 4 && len(digits) != 2 {
		return nil, false
	}
	h, _ := strconv.Atoi(digits[:2])
	m := 0
	if len(digits) == 4 {
		m, _ = strconv.Atoi(digits[2:])
	}
	off := sign * (h*3600 + m*60)
	if off == 0 {
		return time.UTC, true
	}
	return time.FixedZone("", off), true
}
