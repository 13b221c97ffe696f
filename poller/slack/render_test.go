package slack

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/golden"
)

// evil carries every markup trick an attacker could put in an event field.
const evil = "[~accountid:5b10ac8d82e05b22cc7d4ef5] [x|http://evil] {noformat} !http://evil/i.png! " +
	"<!channel> <!here> <@U0ADMIN> <#C0SECRET> @here @channel <http://evil|AWS Console> " +
	"`tick` ```fence``` *bold* _it_ ~strike~ https://evil.example/x &amp; &lt;\r\nsecond line"

func hostile() poller.Notification {
	return poller.Notification{
		Ticket:    poller.Ticket{Key: "SEC-1", URL: "https://jira.example/browse/SEC-1", Summary: "StopLogging by " + evil},
		Detection: "cloudtrail-logging-stopped",
		Severity:  "critical",
		Status:    "open <!here>",
		Message: poller.Message{
			Title: "Alert " + evil,
			Sections: []poller.Section{{
				Heading: "Event " + evil,
				Text:    "User agent: " + evil,
				Fields:  []poller.Field{{Name: "userAgent", Value: evil}, {Name: "one line", Value: "`x` <!channel>"}, {Name: "empty"}},
				Pre:     evil,
			}},
		},
	}
}

const link = "<https://jira.example/browse/SEC-1|SEC-1>"

func TestRenderGolden(t *testing.T) {
	n, fake, _ := setup(t)
	ref, err := n.Notify(context.Background(), hostile())
	if err != nil {
		t.Fatal(err)
	}
	upd := hostile()
	upd.Thread = ref
	if _, err := n.Notify(context.Background(), upd); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, c := range fake.Calls() {
		out.WriteString("== " + c.Method + "\ntext: " + c.Args.Get("text") + "\n")
		var blocks any
		if err := json.Unmarshal([]byte(c.Args.Get("blocks")), &blocks); err != nil {
			t.Fatal(err)
		}
		b, _ := json.MarshalIndent(blocks, "", "  ")
		out.Write(b)
		out.WriteString("\n")
		assertInert(t, c.Args.Get("text"), false)
		assertBlocksInert(t, blocksOf(t, json.RawMessage(c.Args.Get("blocks"))))
	}
	golden.Check(t, filepath.Join("testdata", "hostile.blocks.golden"), []byte(out.String()))
}

// assertBlocksInert checks the structure: only section blocks of mrkdwn
// text objects with verbatim set, and no URL-bearing keys.
func assertBlocksInert(t *testing.T, blocks []map[string]any) {
	t.Helper()
	for _, b := range blocks {
		if b["type"] != "section" {
			t.Errorf("block type %v", b["type"])
		}
		for k := range b {
			if k != "type" && k != "text" && k != "fields" {
				t.Errorf("block key %q", k)
			}
		}
		var objs []any
		if b["text"] != nil {
			objs = append(objs, b["text"])
		}
		if f, ok := b["fields"].([]any); ok {
			objs = append(objs, f...)
		}
		for _, o := range objs {
			obj := o.(map[string]any)
			if obj["type"] != "mrkdwn" || obj["verbatim"] != true || len(obj) != 3 {
				t.Errorf("text object %v", obj)
			}
			assertInert(t, obj["text"].(string), true)
		}
	}
}

// assertInert checks a mrkdwn string: the only "<...>" is the ticket link;
// every "@" is defused; backticks come only in pairs of patrol's own
// delimiters around a whole value.
func assertInert(t *testing.T, s string, inBlock bool) {
	t.Helper()
	rest := strings.ReplaceAll(s, link, "")
	if strings.ContainsAny(rest, "<>") {
		t.Errorf("raw < or > in %q", s)
	}
	for i := strings.Index(rest, "@"); i >= 0; i = strings.Index(rest, "@") {
		if !strings.HasPrefix(rest[i+1:], zwsp) {
			t.Errorf("live @ in %q", s)
		}
		rest = rest[i+1:]
	}
	for _, line := range strings.Split(s, "\n") {
		inner := strings.Trim(line, "`")
		if strings.Contains(inner, "`") {
			t.Errorf("a backtick inside a code value: %q", line)
		}
	}
	if !inBlock && strings.Contains(s, "\n") {
		t.Errorf("fallback text spans lines: %q", s)
	}
}

func TestTicketLink(t *testing.T) {
	tests := []struct {
		url, key, want string
	}{
		{"https://jira.example/browse/SEC-1", "SEC-1", link},
		{"javascript:alert(1)", "SEC-1", "`SEC-1`"},
		{"https://jira.example/browse/SEC-1?a=1&b=<x>|y", "SEC-1", "<https://jira.example/browse/SEC-1?a=1&amp;b=%3Cx%3E%7Cy|SEC-1>"},
		{"https://user:pw@jira.example/", "SEC-1", "`SEC-1`"},
		{"https://jira.example/browse/X", "X|<!here>", "<https://jira.example/browse/X|X¦&lt;!here&gt;>"},
		{"", "", "`ticket`"},
	}
	for _, tt := range tests {
		if got := ticketLink(poller.Ticket{URL: tt.url, Key: tt.key}); got != tt.want {
			t.Errorf("ticketLink(%q, %q) = %s, want %s", tt.url, tt.key, got, tt.want)
		}
	}
}

func TestLimits(t *testing.T) {
	long := strings.Repeat("<&>", 5000)
	var fields []poller.Field
	for range 25 {
		fields = append(fields, poller.Field{Name: "f", Value: long})
	}
	blocks := MessageBlocks(poller.Message{Title: long, Sections: []poller.Section{{Text: long, Fields: fields, Pre: long}}})
	if len(blocks) > maxBlocks {
		t.Fatalf("%d blocks", len(blocks))
	}
	total := 0
	for _, b := range blocks {
		total += blockText(b)
	}
	b, _ := json.Marshal(blocks)
	if total > maxMessageText+maxSectionText || !strings.Contains(string(b), "not shown here") {
		t.Errorf("%d characters, no cut marker", total)
	}
	for _, bm := range blocksOf(t, b) {
		if txt, ok := bm["text"].(map[string]any); ok && len([]rune(txt["text"].(string))) > maxSectionText {
			t.Errorf("section text over %d", maxSectionText)
		}
		if strings.Contains(string(mustJSON(bm)), "&am…") || strings.Contains(string(mustJSON(bm)), "&l…") {
			t.Error("an entity was cut in half")
		}
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
