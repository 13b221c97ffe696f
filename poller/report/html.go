package report

import (
	"bufio"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"regexp"
	"strings"
	"time"
)

// The page is written by the code below rather than by html/template:
// executing a template reaches reflect.Value.MethodByName, and then the
// linker keeps every exported method of every package in the binary (it
// cannot tell which one a template might call). That tripled patrol's
// binary and took the idle daemon over its memory bound (issue 20);
// TestMethodsAreDeadCodeEliminated in cmd/patrol keeps it from coming back.
// template.HTML stays as the type of the trusted fragments (charts, cells
// made here); it is only a string type, nothing is executed.

//go:embed report.css
var pageCSS string

// WriteHTML writes the report as one self-contained page: inline CSS and
// SVG, no script, no reference to anything outside the file. Every value
// from the report is escaped; only the stylesheet and the fragments typed
// template.HTML (SVG and cells built in this package, escaping their own
// values) go out as they are.
func (r *Report) WriteHTML(w io.Writer) error {
	p := &pageWriter{w: bufio.NewWriter(w)}
	date := func(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04") }
	p.raw(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>patrol report · `)
	p.text(date(r.From))
	p.raw(" to ")
	p.text(date(r.To))
	p.raw(" UTC</title>\n<style>", pageCSS, `</style>
</head>
<body>
<header class="top">
  <p class="brand">patrol · detection and response report</p>
  <h1>`)
	p.text(date(r.From))
	p.raw(` <span class="to">to</span> `)
	p.text(date(r.To))
	p.raw(` <span class="utc">UTC</span></h1>
  <p class="meta">`)
	p.text(spanLength(r.To.Sub(r.From)))
	p.raw(" · made ")
	p.text(date(r.Generated))
	p.raw(" UTC")
	if r.Source != "" {
		p.wrap(" from <code>", r.Source, "</code>")
	}
	p.raw("</p>\n  <nav aria-label=\"sections\">")
	for _, s := range r.Sections {
		p.raw(`<a href="#`, fragment(s.ID), `">`)
		p.text(s.Title)
		p.raw("</a>")
	}
	p.raw(`</nav>
</header>
<main>
<section class="tiles" aria-label="headline figures">`)
	for _, t := range r.Tiles {
		p.wrap("\n  <div class=\"tile ", t.Tone, `"><p class="label">`)
		p.text(t.Label)
		p.wrap(`</p><p class="value">`, t.Value, `</p><p class="sub">`)
		p.text(t.Note)
		p.raw("</p></div>")
	}
	p.raw("\n</section>")
	for _, s := range r.Sections {
		p.section(s)
	}
	p.raw(`
</main>
<footer><p>Made by <code>patrol report</code> from the state file alone; nothing on this page was fetched from elsewhere. Every figure is also in <code>patrol report --format csv</code> and <code>--format json</code>.</p></footer>
</body>
</html>
`)
	return p.w.Flush() // the first write error, if any: bufio keeps it
}

// pageWriter writes the page: raw for the page's own markup and trusted
// fragments, text for every value (text and quoted attributes alike).
type pageWriter struct{ w *bufio.Writer }

func (p *pageWriter) raw(ss ...string) {
	for _, s := range ss {
		p.w.WriteString(s)
	}
}

func (p *pageWriter) text(s string) { pageEscaper.WriteString(p.w, s) }

// pageEscaper escapes as html/template did for text and quoted attributes
// (+ too), so the page is byte for byte what the template made.
var pageEscaper = strings.NewReplacer("\x00", "\uFFFD", `"`, "&#34;", "&", "&amp;", "'", "&#39;", "+", "&#43;", "<", "&lt;", ">", "&gt;")

// fragment percent-encodes an id for a #fragment link: everything but
// letters, digits and -._~, as html/template's URL escaper did.
func fragment(id string) string {
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02x", c)
		}
	}
	return b.String()
}

// wrap writes v escaped between the raw open and close markup.
func (p *pageWriter) wrap(open, v, close string) {
	p.raw(open)
	p.text(v)
	p.raw(close)
}

// section writes one part of the page: heading, intro, its blocks (half
// blocks paired side by side) and notes.
func (p *pageWriter) section(s *Section) {
	p.wrap("\n<section class=\"part\" id=\"", s.ID, "\">\n  <h2>")
	p.text(s.Title)
	p.raw("</h2>\n  ")
	if s.Intro != "" {
		p.wrap(`<p class="intro">`, s.Intro, "</p>")
	}
	for _, row := range blockRows(s.Blocks) {
		p.raw("\n  <div class=\"blocks")
		if len(row) > 1 {
			p.raw(" pair")
		}
		p.raw(`">`)
		for _, b := range row {
			p.block(b)
		}
		p.raw("\n  </div>")
	}
	for _, n := range s.Notes {
		p.wrap(`<p class="note">`, n, "</p>")
	}
	p.raw("\n</section>")
}

// block writes a chart or a table as a figure: its title, the chart, the
// table (or the table's text for no rows) and the caption.
func (p *pageWriter) block(b Block) {
	p.raw("\n    <figure class=\"block\">")
	title := b.Title
	if b.Table != nil {
		title = b.Table.Title
	}
	if title != "" {
		p.wrap("<figcaption><h3>", title, "</h3></figcaption>")
	}
	p.raw(string(b.Chart))
	if t := b.Table; t != nil {
		body, foot := bodyRows(t), footRows(t)
		if len(body)+len(foot) > 0 {
			p.raw("\n      <div class=\"scroll\"><table class=\"t-")
			p.text(t.Name)
			p.raw("\">\n        <thead><tr>", string(tableHeader(t)), "</tr></thead>\n        <tbody>")
			for _, r := range body {
				p.raw("<tr>", string(tableRow(t, r)), "</tr>")
			}
			p.raw("</tbody>")
			if len(foot) > 0 {
				p.raw("<tfoot>")
				for _, r := range foot {
					p.raw("<tr>", string(tableRow(t, r)), "</tr>")
				}
				p.raw("</tfoot>")
			}
			p.raw("\n      </table></div>")
		} else {
			p.wrap("\n      <p class=\"empty\">", t.Empty, "</p>")
		}
	}
	if b.Caption != "" {
		p.wrap(`<p class="caption">`, b.Caption, "</p>")
	}
	p.raw("\n    </figure>")
}

// bodyRows and footRows are the indexes of a table's rows and of its total.
func bodyRows(t *Table) []int {
	n := len(t.Rows)
	if t.Footer && n > 0 {
		n--
	}
	out := make([]int, 0, n)
	for i := range n {
		if !t.SkipZero || !allZero(t.Rows[i]) {
			out = append(out, i)
		}
	}
	return out
}

func allZero(row []any) bool {
	for _, v := range row {
		if n, ok := v.(int); ok && n != 0 {
			return false
		}
	}
	return true
}

func footRows(t *Table) []int {
	if t.Footer && len(t.Rows) > 0 {
		return []int{len(t.Rows) - 1}
	}
	return nil
}

// blockRows pairs consecutive half-width blocks so they sit side by side.
func blockRows(bs []Block) [][]Block {
	var out [][]Block
	for i := 0; i < len(bs); i++ {
		if bs[i].Half && i+1 < len(bs) && bs[i+1].Half {
			out = append(out, bs[i:i+2])
			i++
			continue
		}
		out = append(out, bs[i:i+1])
	}
	return out
}

var classSafe = regexp.MustCompile(`[^a-z0-9]+`)

func htmlCell(c Column, v any) template.HTML {
	var s string
	switch v := v.(type) {
	case nil:
		return `<span class="none">—</span>`
	case time.Duration:
		s = human(v)
	case time.Time:
		if v.IsZero() {
			return `<span class="none">—</span>`
		}
		s = v.UTC().Format(timeLayout)
	case int:
		if v == 0 {
			return `<span class="zero">0</span>`
		}
		s = fmt.Sprint(v)
	default:
		s = fmt.Sprint(v)
	}
	if c.Pill && s != "" {
		return template.HTML(fmt.Sprintf(`<span class="pill p-%s">%s</span>`, classSafe.ReplaceAllString(strings.ToLower(s), "-"), esc(s)))
	}
	return template.HTML(esc(s))
}

// visualAt is the index of the column the table's inline chart follows.
func visualAt(t *Table) int {
	if len(t.Visual) == 0 {
		return -2
	}
	for i, c := range t.Columns {
		if c.Key == t.VisualAfter {
			return i
		}
	}
	return len(t.Columns) - 1
}

func colClass(c Column) string {
	switch {
	case c.Kind == Count || c.Kind == Seconds:
		return "num"
	case c.Kind == Time:
		return "time"
	case c.Key == "target" || c.Key == "principal" || c.Key == "account" || c.Key == "source" || c.Key == "detail" || c.Key == "note" || c.Key == "error":
		return "long"
	case c.Key == "ticket":
		return "key"
	}
	return ""
}

func tableHeader(t *Table) template.HTML {
	var b strings.Builder
	at := visualAt(t)
	for i, c := range t.Columns {
		fmt.Fprintf(&b, `<th class="%s" scope="col"%s>%s</th>`, colClass(c), hint(c), esc(c.Title))
		if i == at {
			if t.VisualHeader != "" {
				fmt.Fprintf(&b, `<th class="vis">%s</th>`, t.VisualHeader)
			} else {
				fmt.Fprintf(&b, `<th class="vis">%s</th>`, esc(t.VisualTitle))
			}
		}
	}
	return template.HTML(b.String())
}

func tableRow(t *Table, r int) template.HTML {
	var b strings.Builder
	at := visualAt(t)
	for i, c := range t.Columns {
		tag := "td"
		if i == 0 {
			tag = `th scope="row"`
		}
		fmt.Fprintf(&b, `<%s class="%s">%s</%s>`, tag, colClass(c), htmlCell(c, t.Rows[r][i]), tag[:2])
		if i == at && r < len(t.Visual) {
			fmt.Fprintf(&b, `<td class="vis">%s</td>`, t.Visual[r])
		}
	}
	return template.HTML(b.String())
}

// hint is a column's explanation, shown when the heading is hovered.
func hint(c Column) template.HTML {
	if c.Hint == "" {
		return ""
	}
	return template.HTML(` title="` + esc(c.Hint) + `"`)
}

func spanLength(d time.Duration) string {
	days := d.Hours() / 24
	if days == float64(int(days)) {
		return plural(int(days), "day", "days")
	}
	return human(d)
}
