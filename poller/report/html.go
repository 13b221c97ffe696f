package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"regexp"
	"strings"
	"time"
)

//go:embed report.html
var pageSource string

//go:embed report.css
var pageCSS string

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"cell":   htmlCell,
	"header": tableHeader,
	"row":    tableRow,
	"rows":   blockRows,
	"date":   func(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04") },
	"days":   func(from, to time.Time) string { return spanLength(to.Sub(from)) },
	"body":   bodyRows,
	"foot":   footRows,
	"shown":  func(t *Table) bool { return len(bodyRows(t))+len(footRows(t)) > 0 },
}).Parse(pageSource))

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

// WriteHTML writes the report as one self-contained page: inline CSS and
// SVG, no script, no reference to anything outside the file.
func (r *Report) WriteHTML(w io.Writer) error {
	return page.Execute(w, struct {
		*Report
		CSS template.CSS
	}{r, template.CSS(pageCSS)})
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
