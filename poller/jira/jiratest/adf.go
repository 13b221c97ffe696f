package jiratest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf16"
)

const (
	tooLong            = "The entered text is too long. It exceeds the allowed limit of 32,767 characters."
	unsupportedContent = "We can't create this issue for you right now, it could be due to unsupported content you've entered into one or more of the issue fields. If this situation persists, contact your administrator as they'll be able to access more specific information in the log file."
	maxText            = 32767
)

// javaLen is a string's length as Jira counts it (UTF-16 units).
func javaLen(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// checkBody checks a rich-text field (description, comment body): a wiki
// string on REST v2, an ADF document on v3, at most 32,767 characters.
// It returns the value, a field error, and a request-level error.
func checkBody(version string, raw json.RawMessage) (any, string, string) {
	if version == "2" {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, "Operation value must be a string", ""
		}
		if javaLen(s) > maxText {
			return nil, tooLong, ""
		}
		return s, "", ""
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, "Operation value must be an Atlassian Document (see the Atlassian Document Format)", ""
	}
	if err := checkADF(doc); err != nil {
		return nil, "", unsupportedContent
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err == nil && javaLen(buf.String()) > maxText {
		return nil, tooLong, ""
	}
	return doc, "", ""
}

// adfBlocks and adfInline are the node types the fake accepts, with the
// children each may hold.
var adfChildren = map[string][]string{
	"doc":         {"paragraph", "heading", "codeBlock", "bulletList", "orderedList", "blockquote", "rule", "panel", "table"},
	"paragraph":   {"text", "hardBreak", "mention", "emoji", "inlineCard"},
	"heading":     {"text", "hardBreak", "mention", "emoji", "inlineCard"},
	"codeBlock":   {"text"},
	"bulletList":  {"listItem"},
	"orderedList": {"listItem"},
	"listItem":    {"paragraph", "codeBlock", "bulletList", "orderedList"},
	"blockquote":  {"paragraph", "bulletList", "orderedList", "codeBlock"},
	"panel":       {"paragraph", "heading", "bulletList", "orderedList"},
	"table":       {"tableRow"},
	"tableRow":    {"tableHeader", "tableCell"},
	"tableHeader": {"paragraph"},
	"tableCell":   {"paragraph"},
}

// checkADF validates an ADF document as strictly as Jira does on the
// points that matter: known node types in allowed places, non-empty text
// nodes, no marks in code blocks, heading levels 1 to 6.
func checkADF(doc map[string]any) error {
	if doc["type"] != "doc" || doc["version"] != float64(1) {
		return fmt.Errorf("not an ADF doc")
	}
	return checkNode(doc, "")
}

func checkNode(n map[string]any, parent string) error {
	typ, _ := n["type"].(string)
	if parent != "" {
		allowed := adfChildren[parent]
		ok := false
		for _, a := range allowed {
			ok = ok || a == typ
		}
		if !ok {
			return fmt.Errorf("%s cannot hold %q", parent, typ)
		}
	}
	switch typ {
	case "text":
		text, _ := n["text"].(string)
		if text == "" {
			return fmt.Errorf("a non-empty text property must be provided")
		}
		marks, _ := n["marks"].([]any)
		if parent == "codeBlock" && len(marks) > 0 {
			return fmt.Errorf("marks in a code block")
		}
		for _, m := range marks {
			mm, _ := m.(map[string]any)
			switch mm["type"] {
			case "strong", "em", "code", "strike", "underline", "textColor", "subsup":
			case "link":
				if attrs, _ := mm["attrs"].(map[string]any); attrs == nil || attrs["href"] == nil {
					return fmt.Errorf("link without href")
				}
			default:
				return fmt.Errorf("unknown mark %v", mm["type"])
			}
		}
		return nil
	case "hardBreak", "rule", "mention", "emoji", "inlineCard":
		return nil
	case "heading":
		attrs, _ := n["attrs"].(map[string]any)
		if lvl, _ := attrs["level"].(float64); lvl < 1 || lvl > 6 {
			return fmt.Errorf("heading level")
		}
	}
	if _, known := adfChildren[typ]; !known {
		return fmt.Errorf("unknown node %q", typ)
	}
	content, _ := n["content"].([]any)
	for _, c := range content {
		cm, ok := c.(map[string]any)
		if !ok {
			return fmt.Errorf("content of %s is not a node", typ)
		}
		if err := checkNode(cm, typ); err != nil {
			return err
		}
	}
	return nil
}

// PlainText returns the text of a body as stored: the wiki string itself,
// or an ADF document's text nodes joined (blocks on their own lines). It is
// what the fake returns for an ADF description on REST v2, and what tests
// search for leaked markup.
func PlainText(body any) string {
	switch b := body.(type) {
	case nil:
		return ""
	case string:
		return b
	case map[string]any:
		var sb strings.Builder
		adfText(&sb, b)
		return strings.TrimSpace(sb.String())
	}
	return fmt.Sprint(body)
}

func adfText(sb *strings.Builder, n map[string]any) {
	switch n["type"] {
	case "text":
		s, _ := n["text"].(string)
		sb.WriteString(s)
	case "hardBreak":
		sb.WriteString("\n")
	}
	content, _ := n["content"].([]any)
	for _, c := range content {
		if cm, ok := c.(map[string]any); ok {
			adfText(sb, cm)
		}
	}
	switch n["type"] {
	case "paragraph", "heading", "codeBlock", "listItem":
		sb.WriteString("\n")
	}
}
