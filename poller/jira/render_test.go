package jira

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/golden"
)

// evil carries every markup trick an attacker could put in an event field.
const evil = "[~accountid:5b10ac8d82e05b22cc7d4ef5] [x|http://evil] {noformat} {NoFormat:title=x} " +
	"!http://evil/i.png! <!channel> @here <http://evil|x> `tick` ```fence``` {code}x{code} " +
	"{color:red}red{color} \\\\ *bold* https://evil.example/path\n" +
	"h1. heading\n----\n* bullet\n& &amp; <b>\r\nend"

func hostileMessage() poller.Message {
	return poller.Message{
		Title: "StopLogging by " + evil,
		Sections: []poller.Section{
			{
				Heading: "Event " + evil,
				Text:    "User agent: " + evil,
				Fields: []poller.Field{
					{Name: "userAgent", Value: evil},
					{Name: "name with\nnewline [~x]", Value: "multi\nline {noformat}\nh1. x"},
					{Name: "empty", Value: ""},
				},
				Pre: evil + "\n{noformat}\nafter the block",
			},
			{Heading: "Plain", Text: "nothing special"},
		},
	}
}

func TestRenderWikiGolden(t *testing.T) {
	got := RenderWiki(hostileMessage())
	golden.Check(t, filepath.Join("testdata", "hostile.wiki.golden"), []byte(got+"\n"))
	assertWikiInert(t, got, "[~accountid:5b10ac8d82e05b22cc7d4ef5]", "[x|http://evil]", "!http://evil/i.png!", "{noformat}\nafter the block", "<!channel>")
}

// inlineSafe is all a heading line may hold outside noformat: letters,
// digits, spaces and character references.
var inlineSafe = regexp.MustCompile(`^(?:[\p{L}\p{N} ]|&#[0-9]+;)*$`)

// assertWikiInert parses the markup the way Jira's renderer would see its
// structure: noformat blocks, where nothing is interpreted and nothing may
// close the block early, and lines outside them, which may only be
// patrol's own heading prefixes followed by inert text.
func assertWikiInert(t *testing.T, wiki string, values ...string) {
	t.Helper()
	in := false
	var inside strings.Builder
	for _, line := range strings.Split(wiki, "\n") {
		if line == "{noformat}" {
			in = !in
			continue
		}
		if in {
			if strings.Contains(strings.ToLower(line), "{noformat") {
				t.Errorf("a noformat tag survives inside a block: %q", line)
			}
			inside.WriteString(line + "\n")
			continue
		}
		rest, ok := strings.CutPrefix(line, "h2. ")
		if !ok {
			rest, ok = strings.CutPrefix(line, "h3. ")
		}
		if line == "" {
			continue
		}
		if !ok || !inlineSafe.MatchString(rest) {
			t.Errorf("markup outside noformat: %q", line)
		}
	}
	if in {
		t.Error("a noformat block is left open")
	}
	// The data is all there, only defused.
	text := strings.ReplaceAll(inside.String(), zwsp, "")
	for _, want := range values {
		if !strings.Contains(text, want) {
			t.Errorf("value %q lost", want)
		}
	}
}

func TestRenderADFGolden(t *testing.T) {
	doc := RenderADF(hostileMessage())
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "hostile.adf.golden"), append(b, '\n'))

	var generic map[string]any
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	var texts []string
	assertADFInert(t, generic, "doc", &texts)
	all := strings.Join(texts, "\n")
	for _, want := range []string{"[~accountid:5b10ac8d82e05b22cc7d4ef5]", "[x|http://evil]", "<http://evil|x>", "{noformat}"} {
		if !strings.Contains(all, want) {
			t.Errorf("value %q lost", want)
		}
	}
}

// assertADFInert walks an ADF tree: only patrol's node types, text nodes
// non-empty, marks only strong and code, no attrs but a heading level, so
// no link, mention, card or image can exist.
func assertADFInert(t *testing.T, n map[string]any, path string, texts *[]string) {
	t.Helper()
	typ, _ := n["type"].(string)
	allowed := map[string]bool{"doc": true, "heading": true, "paragraph": true, "text": true, "hardBreak": true, "codeBlock": true, "bulletList": true, "listItem": true}
	if !allowed[typ] {
		t.Errorf("%s: node type %q", path, typ)
	}
	for k, v := range n {
		switch k {
		case "type", "version", "content", "text":
		case "attrs":
			a, _ := v.(map[string]any)
			if _, ok := a["level"]; typ != "heading" || len(a) != 1 || !ok {
				t.Errorf("%s: attrs %v", path, v)
			}
		case "marks":
			for _, m := range v.([]any) {
				mm := m.(map[string]any)
				if (mm["type"] != "strong" && mm["type"] != "code") || len(mm) != 1 {
					t.Errorf("%s: mark %v", path, m)
				}
			}
		default:
			t.Errorf("%s: key %q", path, k)
		}
	}
	if typ == "text" {
		s, _ := n["text"].(string)
		if s == "" {
			t.Errorf("%s: empty text node", path)
		}
		*texts = append(*texts, s)
	}
	content, _ := n["content"].([]any)
	for _, c := range content {
		assertADFInert(t, c.(map[string]any), path+"/"+typ, texts)
	}
}

func TestFitMessage(t *testing.T) {
	m := poller.Message{Title: "t", Sections: []poller.Section{{Text: strings.Repeat("ab\n", 20000), Pre: strings.Repeat("x", 40000)}}}
	w := fitWiki(m)
	if jiraLen(w) > maxDescription || !strings.Contains(w, "to fit Jira") {
		t.Errorf("wiki: %d chars", jiraLen(w))
	}
	assertWikiInert(t, w)
	a := fitADF(m)
	if n := adfSize(a); n > maxDescription || n < maxDescription-200 {
		t.Errorf("adf: %d chars, want close to the limit", n)
	}
	small := poller.Message{Title: "t"}
	if RenderWiki(fitMessage(small, 100, func(m poller.Message) int { return len(RenderWiki(m)) })) != "h2. t" {
		t.Error("a short message was changed")
	}
}
