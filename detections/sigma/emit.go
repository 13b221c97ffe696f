package sigma

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// Defaults of imported detections.
const (
	importSchedule = "*/10 * * * *"
	importSettle   = "2m"
	importLookback = "30m"
	importSuppress = "24h"
)

// groupBy makes one alert per account, principal and API call.
var groupBy = []string{"recipientAccountId", "userIdentity.arn", "eventName"}

// emit writes the detection file.
func emit(file, id string, r *Rule, search string, cond expr, stage string) []byte {
	var b strings.Builder
	sev, prio, note := severity(r.Level)
	attack, otherTags := techniques(r.Tags)
	title := oneLine(r.Title)
	if title == "" {
		title = id
	}

	head := fmt.Sprintf("Imported by `patrol import sigma` from the Sigma rule %s: %q", filepath.Base(file), title)
	if r.ID != "" {
		head += " (id " + r.ID
		if r.Status != "" {
			head += ", status " + r.Status
		}
		head += ")"
	}
	if r.Author != "" {
		head += ", by " + r.Author
	}
	if r.Date != "" {
		head += ", " + r.Date
		if r.Modified != "" {
			head += ", modified " + r.Modified
		}
	}
	head += ". Keep the author's attribution (SigmaHQ's rules are under the Detection Rule License 1.1). " +
		"The search runs the rule's logic as written: review it, and the false positives below, before it opens tickets."
	comment(&b, head)
	var notes []string
	if len(otherTags) > 0 {
		notes = append(notes, "Other Sigma tags: "+strings.Join(otherTags, ", ")+".")
	}
	if note != "" {
		notes = append(notes, "Severity: "+note+".")
	}
	notes = append(notes, fieldLikeValues(cond)...)
	for _, n := range notes {
		b.WriteString("#\n")
		comment(&b, n)
	}
	if len(r.FalsePositives) > 0 {
		b.WriteString("#\n# False positives (from the rule):\n")
		for _, fp := range r.FalsePositives {
			comment(&b, "- "+oneLine(fp))
		}
	}

	kv(&b, "id", tomlString(id))
	kv(&b, "title", tomlString(title))
	if d := strings.TrimSpace(r.Description); d != "" {
		kv(&b, "description", tomlMultiline(d))
	}
	kv(&b, "severity", tomlString(sev))
	kv(&b, "schedule", tomlString(importSchedule))
	kv(&b, "settle", tomlString(importSettle))
	kv(&b, "lookback", tomlString(importLookback))
	if stage != "" {
		kv(&b, "stage", tomlString(stage))
	}
	kv(&b, "attack", tomlArray(attack))
	var refs []string
	for _, ref := range r.References {
		if ref = strings.TrimSpace(ref); ref != "" && !strings.ContainsAny(ref, "\r\n") {
			refs = append(refs, ref)
		}
	}
	if len(refs) > 0 {
		kv(&b, "references", tomlArrayLines(refs))
	}
	if id := strings.TrimSpace(r.ID); id != "" && !strings.ContainsAny(id, " \t\r\n") {
		kv(&b, "sigma_id", tomlString(id))
	}
	kv(&b, "search", tomlSearch(search))
	b.WriteString("# One alert per account, principal and API call.\n")
	kv(&b, "group_by", tomlArray(groupBy))
	kv(&b, "suppress", tomlString(importSuppress))

	b.WriteString("\n[ticket]\n")
	kv(&b, "summary", tomlString(escapeTemplate(title)+": {eventName} by {userIdentity.arn} in {recipientAccountId}"))
	kv(&b, "priority", tomlString(prio))
	kv(&b, "labels", tomlArray([]string{"sigma"}))
	kv(&b, "description", tomlMultiline(ticketDescription(title, r, cond)))
	return []byte(b.String())
}

func ticketDescription(title string, r *Rule, cond expr) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Sigma rule %q matched {eventName} ({eventSource}) by {userIdentity.arn} ({userIdentity.type}) in account {recipientAccountId}, region {awsRegion}, from {sourceIPAddress} ({userAgent}); result {errorCode}.\n",
		escapeTemplate(title))
	if d := strings.TrimSpace(r.Description); d != "" {
		b.WriteString("\n" + escapeTemplate(d) + "\n")
	}
	var fs []string
	for _, f := range matchedFields(cond) {
		if strings.ContainsAny(f, "{}") {
			// an array field: templates cannot name it; the table shows it
			fs = append(fs, escapeTemplate(f))
			continue
		}
		fs = append(fs, f+"={"+f+"}")
	}
	b.WriteString("\nFields the rule tests: " + strings.Join(fs, "; ") + "\n")
	if len(r.FalsePositives) > 0 {
		b.WriteString("\nKnown false positives (from the rule):\n")
		for _, fp := range r.FalsePositives {
			b.WriteString("- " + escapeTemplate(oneLine(fp)) + "\n")
		}
	}
	return b.String()
}

var fieldLikeRE = regexp.MustCompile(`^(requestParameters|responseElements|userIdentity|additionalEventData|resources)\.[A-Za-z0-9_.{}]+$`)

// fieldLikeValues notes values that look like a CloudTrail field name: a
// rule that means to compare two fields needs |fieldref, and without it the
// value is compared as text.
func fieldLikeValues(cond expr) []string {
	var out []string
	walk(cond, func(l leaf) {
		if l.kind != kindPattern {
			return
		}
		var lit strings.Builder
		for _, p := range l.glob {
			lit.WriteString(p.lit)
		}
		if fieldLikeRE.MatchString(lit.String()) {
			out = append(out, fmt.Sprintf("Note: %s is compared with the text %q, which looks like a field name; Sigma compares two fields only with |fieldref, so the rule matches that text, as written.", l.field, lit.String()))
		}
	})
	return out
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func escapeTemplate(s string) string {
	return strings.NewReplacer("{", "{{", "}", "}}").Replace(s)
}

func comment(b *strings.Builder, text string) {
	const width = 100
	line := "#"
	for _, w := range strings.Fields(stripControl(text)) {
		if len(line)+1+len(w) > width && line != "#" {
			b.WriteString(line + "\n")
			line = "#"
		}
		line += " " + w
	}
	b.WriteString(line + "\n")
}

func stripControl(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func kv(b *strings.Builder, key, val string) { b.WriteString(key + " = " + val + "\n") }

// tomlString writes a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// tomlMultiline writes a TOML multi-line basic string.
func tomlMultiline(s string) string {
	var b strings.Builder
	b.WriteString("\"\"\"\n")
	for i, r := range s {
		switch {
		case r == '\\', r == '"' && (i == len(s)-1 || s[i+1] == '"'):
			// a quote is escaped where it could close the string
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	if !strings.HasSuffix(s, "\n") {
		b.WriteByte('\n')
	}
	b.WriteString(`"""`)
	return b.String()
}

// tomlSearch writes the search as a multi-line literal string, as the
// shipped pack does, unless it holds what a literal string cannot.
func tomlSearch(s string) string {
	if !strings.Contains(s, "'''") && !hasControl(strings.ReplaceAll(s, "\n", "")) {
		return "'''\n" + s + "\n'''"
	}
	return tomlMultiline(s)
}

func tomlArray(vs []string) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = tomlString(v)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func tomlArrayLines(vs []string) string {
	var b strings.Builder
	b.WriteString("[\n")
	for _, v := range vs {
		b.WriteString("    " + tomlString(v) + ",\n")
	}
	b.WriteString("]")
	return b.String()
}
