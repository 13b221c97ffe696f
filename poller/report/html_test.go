package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/patrolsec/patrol/state"
)

// Attacker-controlled values (from events and the tracker) that must stay
// text on the page.
const (
	hostileTarget    = `<img src="http://evil.example/t.png">`
	hostilePrincipal = `"><script src=https://evil.example/x.js></script>`
	hostileDetail    = `</style><link rel=stylesheet href=//evil.example/s.css>`
)

// hostileScenario adds an alert and an action carrying hostile values.
func hostileScenario(t *testing.T) string {
	t.Helper()
	path := buildScenario(t)
	now := at(6, 15, 0)
	db, err := state.Open(path, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	a, err := db.CreatePendingAlert(ctx, state.Alert{Detection: "d-high", Fingerprint: "fp-evil", FirstSeen: now, LastSeen: now, Count: 1,
		WindowStart: now, Result: result("=HYPERLINK(\"http://evil.example\")", hostilePrincipal, "javascript:alert(1)")})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.OpenAlert(ctx, a.ID, state.TicketRow{Key: "SEC-66", ID: "66", Detection: "d-high"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AppendAction(ctx, state.ActionEvent{Attempt: "x", TicketKey: "SEC-66", Action: "ec2.revoke_open_ingress", Target: hostileTarget,
		Phase: state.PhaseFailed, Detail: hostileDetail, At: now}); err != nil {
		t.Fatal(err)
	}
	return path
}

func renderHTML(t *testing.T, rep *Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := rep.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// externalRefs lists everything in a parsed page that could make a request:
// elements that load, attributes that name a resource, CSS url() and
// @import. In-page links (#id) are fine.
func externalRefs(doc *html.Node) []string {
	var out []string
	loaders := map[string]bool{"script": true, "link": true, "iframe": true, "frame": true, "object": true, "embed": true, "img": true,
		"image": true, "audio": true, "video": true, "source": true, "track": true, "base": true, "form": true, "use": true, "foreignobject": true}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			if loaders[strings.ToLower(n.Data)] {
				out = append(out, "element <"+n.Data+">")
			}
			for _, a := range n.Attr {
				k, v := strings.ToLower(a.Key), strings.TrimSpace(a.Val)
				switch {
				case k == "href" && !strings.HasPrefix(v, "#"):
					out = append(out, "href="+v)
				case k == "src" || k == "srcset" || k == "action" || k == "formaction" || k == "poster" || k == "data" || k == "background" || a.Namespace != "":
					out = append(out, k+"="+v)
				case k == "style" && cssLoads(v):
					out = append(out, "style="+v)
				case k == "http-equiv":
					out = append(out, "meta http-equiv="+v)
				case strings.HasPrefix(k, "on"):
					out = append(out, "handler "+k)
				}
			}
			if n.Data == "style" && n.FirstChild != nil && cssLoads(n.FirstChild.Data) {
				out = append(out, "stylesheet loads something")
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

func cssLoads(css string) bool {
	css = strings.ToLower(css)
	return strings.Contains(css, "url(") || strings.Contains(css, "@import") || strings.Contains(css, "image-set(")
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode && (n.Parent == nil || n.Parent.Data != "style") {
			b.WriteString(n.Data)
			b.WriteString(" ")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

func TestHTMLParsesAndLoadsNothing(t *testing.T) {
	rep := buildReport(t, hostileScenario(t), scenarioOptions())
	page := renderHTML(t, rep)
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	if refs := externalRefs(doc); len(refs) > 0 {
		t.Errorf("the page refers outside itself: %q", refs)
	}
	text := textOf(doc)
	for _, w := range []string{hostileTarget, hostilePrincipal, hostileDetail, "javascript:alert(1)",
		"Time to detect (median)", "10m", "Alerts per day, by severity", "Audit trail", "LOCAL-1", "alice", "(respond job)"} {
		if !strings.Contains(text, w) {
			t.Errorf("page text lacks %q", w)
		}
	}
	// Every section has its anchor, and the navigation points at them only.
	for _, s := range rep.Sections {
		if !bytes.Contains(page, []byte(`id="`+s.ID+`"`)) || !bytes.Contains(page, []byte(`href="#`+s.ID+`"`)) {
			t.Errorf("section %s has no anchor or link", s.ID)
		}
	}
	// Days without alerts are left off the page's table, not off the chart's scale.
	if !bytes.Contains(page, []byte(">2026-11-05</th>")) || bytes.Contains(page, []byte(">2026-11-08</th>")) {
		t.Error("a day without alerts is listed on the page")
	}
	if n := bytes.Count(page, []byte("<title>")); n < 10 {
		t.Errorf("only %d titles: every chart mark should carry its figure", n)
	}
}

func TestCheckerCatchesLoads(t *testing.T) {
	for _, bad := range []string{`<img src="x.png">`, `<a href="https://example.com">x</a>`, `<div style="background:url(x)">`,
		`<style>@import "x.css";</style>`, `<svg><use href="#a"/></svg>`, `<svg><image xlink:href="x"/></svg>`, `<body onload="x()">`,
		`<meta http-equiv="refresh" content="0;url=x">`} {
		doc, _ := html.Parse(strings.NewReader(bad))
		if len(externalRefs(doc)) == 0 {
			t.Errorf("not caught: %s", bad)
		}
	}
}

func TestCSVAndJSONHoldTheSameTables(t *testing.T) {
	rep := buildReport(t, hostileScenario(t), scenarioOptions())
	dir := filepath.Join(t.TempDir(), "out")
	if err := rep.WriteFile(dir, "csv"); err != nil {
		t.Fatal(err)
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		From, To string
		Tables   map[string][]map[string]any
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatalf("json: %v\n%s", err, js.String())
	}
	if doc.From != "2026-11-02T00:00:00Z" || doc.To != "2026-11-09T00:00:00Z" {
		t.Errorf("span %s %s", doc.From, doc.To)
	}
	if len(doc.Tables) != len(rep.Tables()) {
		t.Errorf("json tables = %d, want %d", len(doc.Tables), len(rep.Tables()))
	}
	for _, tb := range rep.Tables() {
		f, err := os.Open(filepath.Join(dir, tb.Name+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Fatalf("%s.csv: %v", tb.Name, err)
		}
		if len(recs) != len(tb.Rows)+1 || len(doc.Tables[tb.Name]) != len(tb.Rows) {
			t.Errorf("%s: %d CSV records and %d JSON rows for %d rows", tb.Name, len(recs), len(doc.Tables[tb.Name]), len(tb.Rows))
			continue
		}
		for i, c := range tb.Columns {
			if recs[0][i] != c.Key {
				t.Errorf("%s.csv column %d = %q, want %q", tb.Name, i, recs[0][i], c.Key)
			}
		}
	}
	// Durations are seconds and times RFC 3339 in both; a missing value is empty / null.
	rt := doc.Tables["response_times"]
	if rt[0]["detection"] != "d-crit" || rt[0]["ttd_p50_seconds"] != 360.0 || rt[0]["ttr_p90_seconds"] != 10800.0 {
		t.Errorf("response_times[0] = %v", rt[0])
	}
	ap := doc.Tables["approvals"]
	if ap[0]["plan_posted"] != "2026-11-02T10:10:00Z" || ap[2]["approved_at"] != nil {
		t.Errorf("approvals = %v", ap)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "response_times.csv"))
	if !strings.Contains(string(b), "d-crit,2,360,1800,3,2,3960,10800\n") {
		t.Errorf("response_times.csv:\n%s", b)
	}
	// A value that a spreadsheet would run as a formula is defused in CSV only.
	b, _ = os.ReadFile(filepath.Join(dir, "top_accounts.csv"))
	if !strings.Contains(string(b), `"'=HYPERLINK(""http://evil.example"")"`) {
		t.Errorf("top_accounts.csv:\n%s", b)
	}
	if !strings.Contains(js.String(), `"account": "=HYPERLINK(\"http://evil.example\")"`) {
		t.Error("json changed the account value")
	}
}
