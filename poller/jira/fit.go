package jira

import (
	"fmt"
	"unicode/utf8"

	"github.com/patrolsec/patrol/poller"
)

// fitMessage returns m, or when size(m) exceeds limit, the longest prefix
// of m's text (in reading order) that fits together with a section saying
// how much was cut. Jira rejects a description or comment over its limit
// outright, so a shortened ticket beats none.
func fitMessage(m poller.Message, limit int, size func(poller.Message) int) poller.Message {
	if size(m) <= limit {
		return m
	}
	total := messageRunes(m)
	lo, hi := 0, total
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if size(cutMessage(m, mid, total)) <= limit {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return cutMessage(m, lo, total)
}

func messageRunes(m poller.Message) int {
	n := utf8.RuneCountInString(m.Title)
	for _, s := range m.Sections {
		n += utf8.RuneCountInString(s.Heading) + utf8.RuneCountInString(s.Text) + utf8.RuneCountInString(s.Pre)
		for _, f := range s.Fields {
			n += utf8.RuneCountInString(f.Name) + utf8.RuneCountInString(f.Value)
		}
	}
	return n
}

// cutMessage keeps the first keep runes of m's strings and drops the rest,
// then appends a marker section.
func cutMessage(m poller.Message, keep, total int) poller.Message {
	left := keep
	take := func(s string) string {
		n := utf8.RuneCountInString(s)
		if n <= left {
			left -= n
			return s
		}
		if left == 0 {
			return ""
		}
		i := 0
		for j := 0; j < left; j++ {
			_, w := utf8.DecodeRuneInString(s[i:])
			i += w
		}
		left = 0
		return s[:i] + ellipsis
	}
	out := poller.Message{Title: take(m.Title), Ref: m.Ref}
	for _, s := range m.Sections {
		c := poller.Section{Heading: take(s.Heading), Text: take(s.Text)}
		for _, f := range s.Fields {
			name, value := take(f.Name), take(f.Value)
			if name == "" && value == "" {
				continue
			}
			c.Fields = append(c.Fields, poller.Field{Name: name, Value: value})
		}
		c.Pre = take(s.Pre)
		if c.Heading != "" || c.Text != "" || c.Pre != "" || len(c.Fields) > 0 {
			out.Sections = append(out.Sections, c)
		}
	}
	out.Sections = append(out.Sections, poller.Section{
		Heading: "Truncated",
		Text:    fmt.Sprintf("patrol cut %d of %d characters to fit Jira's field limit.", total-keep, total),
	})
	return out
}
