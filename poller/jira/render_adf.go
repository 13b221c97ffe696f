package jira

import (
	"encoding/json"
	"strings"

	"github.com/patrolsec/patrol/poller"
)

// ADF (Atlassian Document Format) is what Jira Cloud's REST v3 takes for
// descriptions and comments. It is safe by construction as long as event
// data only ever lands in text nodes: a text node is never parsed for
// markup, mentions or macros. Links and mentions exist only as explicit
// nodes and marks, and patrol builds neither: adfMark has no attrs, so a
// link mark (which needs an href) cannot even be expressed.

// ADFDoc is an ADF document.
type ADFDoc struct {
	Type    string    `json:"type"`    // always "doc"
	Version int       `json:"version"` // always 1
	Content []ADFNode `json:"content"`
}

// ADFNode is one node of the few kinds patrol builds: heading, paragraph,
// text, hardBreak, codeBlock, bulletList, listItem.
type ADFNode struct {
	Type    string    `json:"type"`
	Attrs   *ADFAttrs `json:"attrs,omitempty"`
	Content []ADFNode `json:"content,omitempty"`
	Text    string    `json:"text,omitempty"`
	Marks   []ADFMark `json:"marks,omitempty"`
}

// ADFAttrs holds a heading's level.
type ADFAttrs struct {
	Level int `json:"level,omitempty"`
}

// ADFMark is a text style. Only "strong" and "code" are used, and only by
// patrol's own layout, never derived from data.
type ADFMark struct {
	Type string `json:"type"`
}

var (
	markStrong = ADFMark{Type: "strong"}
	markCode   = ADFMark{Type: "code"}
)

// adfText returns a text node, or nothing for an empty string: ADF rejects
// empty text nodes ("a non-empty text property must be provided").
func adfText(s string, marks ...ADFMark) []ADFNode {
	if s == "" {
		return nil
	}
	return []ADFNode{{Type: "text", Text: s, Marks: marks}}
}

// adfLines turns multi-line text into inline nodes: newlines are not
// allowed inside paragraph text, hardBreak nodes are.
func adfLines(s string, marks ...ADFMark) []ADFNode {
	var out []ADFNode
	for i, line := range strings.Split(s, "\n") {
		if i > 0 {
			out = append(out, ADFNode{Type: "hardBreak"})
		}
		out = append(out, adfText(line, marks...)...)
	}
	return out
}

func adfHeading(level int, s string) []ADFNode {
	s = oneLine(s)
	if s == "" {
		return nil
	}
	return []ADFNode{{Type: "heading", Attrs: &ADFAttrs{Level: level}, Content: adfText(s)}}
}

func adfParagraph(inline []ADFNode) ADFNode {
	return ADFNode{Type: "paragraph", Content: inline}
}

// RenderADF renders m as an ADF document. Event values sit only in text
// nodes; Pre becomes a code block (no marks, no links possible).
func RenderADF(m poller.Message) ADFDoc {
	doc := ADFDoc{Type: "doc", Version: 1}
	doc.Content = append(doc.Content, adfHeading(2, cleanControls(m.Title))...)
	for _, s := range m.Sections {
		doc.Content = append(doc.Content, adfHeading(3, cleanControls(s.Heading))...)
		for _, para := range paragraphs(cleanControls(s.Text)) {
			doc.Content = append(doc.Content, adfParagraph(adfLines(para)))
		}
		if len(s.Fields) > 0 {
			list := ADFNode{Type: "bulletList"}
			for _, f := range s.Fields {
				inline := adfText(fieldName(f.Name)+": ", markStrong)
				inline = append(inline, adfLines(cleanControls(f.Value), markCode)...)
				list.Content = append(list.Content, ADFNode{Type: "listItem", Content: []ADFNode{adfParagraph(inline)}})
			}
			doc.Content = append(doc.Content, list)
		}
		if pre := strings.TrimRight(cleanControls(s.Pre), "\n"); strings.TrimSpace(pre) != "" {
			doc.Content = append(doc.Content, ADFNode{Type: "codeBlock", Content: adfText(pre)})
		}
	}
	if len(doc.Content) == 0 {
		doc.Content = []ADFNode{adfParagraph(adfText("(no details)"))}
	}
	if ref := m.RefLine(); ref != "" {
		doc.Content = append(doc.Content, adfParagraph(adfText(cleanControls(ref))))
	}
	return doc
}

// adfSize is the document's length as the field limit sees it: the
// characters of its JSON as sent (with "<" written as \u003c, an upper
// bound on however Jira re-serialises it).
func adfSize(doc ADFDoc) int {
	b, _ := json.Marshal(doc)
	return jiraLen(string(b))
}

// fitADF renders m within Jira's field limit, cutting it with a marker
// when it is too long.
func fitADF(m poller.Message) ADFDoc {
	return RenderADF(fitMessage(m, maxDescription, func(m poller.Message) int { return adfSize(RenderADF(m)) }))
}

// paragraphs splits text on blank lines, dropping empty ones.
func paragraphs(s string) []string {
	var out []string
	for _, p := range strings.Split(s, "\n\n") {
		if p = strings.Trim(p, "\n"); strings.TrimSpace(p) != "" {
			out = append(out, p)
		}
	}
	return out
}

// oneLine collapses whitespace, newlines included, for headings.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func fieldName(s string) string {
	if s = oneLine(cleanControls(s)); s == "" {
		return "(unnamed)"
	}
	return s
}
