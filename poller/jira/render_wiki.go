package jira

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/patrolsec/patrol/poller"
)

// Jira wiki markup (REST v2, Data Center) interprets almost every
// punctuation character somewhere: [links|url], [~mentions], !images!,
// {macros}, line-leading h1. bq. * # ----, \\ breaks, *bold* and more. So
// patrol writes event data in exactly two ways:
//
//   - paragraphs, fields and preformatted text inside {noformat} blocks,
//     where nothing is interpreted, with any "{noformat" inside the value
//     broken by a zero-width space so that it cannot close the block;
//   - titles and headings (which cannot hold a block) on one line with
//     every character other than a letter, digit or space written as an
//     HTML character reference (&#91; for "["), which Jira prints as the
//     character and never parses as markup.

const zwsp = "\u200b"

// RenderWiki renders m as Jira wiki markup.
func RenderWiki(m poller.Message) string {
	var b strings.Builder
	if t := wikiInline(m.Title); t != "" {
		b.WriteString("h2. " + t + "\n")
	}
	for _, s := range m.Sections {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		if h := wikiInline(s.Heading); h != "" {
			b.WriteString("h3. " + h + "\n")
		}
		if text := strings.Trim(cleanControls(s.Text), "\n"); strings.TrimSpace(text) != "" {
			writeNoformat(&b, text)
		}
		if len(s.Fields) > 0 {
			var f strings.Builder
			for i, fl := range s.Fields {
				if i > 0 {
					f.WriteString("\n")
				}
				f.WriteString(fieldName(fl.Name) + ": ")
				// Indent continuation lines so a value cannot pose as
				// another field.
				f.WriteString(strings.ReplaceAll(strings.Trim(cleanControls(fl.Value), "\n"), "\n", "\n  "))
			}
			writeNoformat(&b, f.String())
		}
		if pre := strings.Trim(cleanControls(s.Pre), "\n"); strings.TrimSpace(pre) != "" {
			writeNoformat(&b, pre)
		}
	}
	if b.Len() == 0 {
		b.WriteString("(no details)\n")
	}
	if ref := wikiInline(m.RefLine()); ref != "" {
		b.WriteString("\n" + ref + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func writeNoformat(b *strings.Builder, s string) {
	b.WriteString("{noformat}\n")
	b.WriteString(noformatSafe(s))
	b.WriteString("\n{noformat}\n")
}

// noformatSafe breaks every "{noformat" (any case) in s, the only thing
// that ends a noformat block early.
func noformatSafe(s string) string {
	const tag = "{noformat"
	var b strings.Builder
	for {
		i := indexFoldASCII(s, tag)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i+1] + zwsp)
		s = s[i+1:]
	}
}

// indexFoldASCII is strings.Index ignoring ASCII case.
func indexFoldASCII(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		match := true
		for j := 0; j < len(sub); j++ {
			if lowerASCII(s[i+j]) != lowerASCII(sub[j]) {
				match = false
				break
			}
		}
		if match {
			return i
		}
	}
	return -1
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// wikiInline makes s safe on a heading line: one line, and every rune
// that is not a letter, digit or plain space becomes a character
// reference. That covers all markup characters, "&" itself, and the ":"
// and "/" a bare URL needs to be auto-linked.
func wikiInline(s string) string {
	s = oneLine(cleanControls(s))
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == ' ', unicode.IsLetter(r), unicode.IsDigit(r):
			b.WriteRune(r)
		default:
			fmt.Fprintf(&b, "&#%d;", r)
		}
	}
	return b.String()
}

// fitWiki renders m within Jira's field limit, cutting it with a marker
// when it is too long.
func fitWiki(m poller.Message) string {
	return RenderWiki(fitMessage(m, maxDescription, func(m poller.Message) int { return jiraLen(RenderWiki(m)) }))
}
