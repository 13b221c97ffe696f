package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Kind says how a column's values are written.
type Kind int

// Column kinds.
const (
	Text    Kind = iota // a string
	Count               // an int
	Seconds             // a time.Duration: seconds in CSV and JSON, "3h 05m" on the page
	Time                // a time.Time: RFC 3339 UTC in CSV and JSON
)

// Column is one column of a table; Key names it in CSV headers and JSON.
type Column struct {
	Key, Title string
	Kind       Kind
	Pill       bool   // shown as a coloured label on the page (severity, state)
	Hint       string // what the column means, on the page's heading
}

// Table is one table of the report. A cell is a string, an int, a
// time.Duration, a time.Time, or nil (no value: empty in CSV, null in JSON).
type Table struct {
	Name, Title string // Name is the CSV file's stem and the JSON key
	Columns     []Column
	Rows        [][]any
	Footer      bool // the last row is a total
	// SkipZero leaves rows whose counts are all zero off the page (a day
	// without alerts); CSV and JSON keep every row.
	SkipZero bool
	Empty    string // said on the page when there is no row
	// Visual is an inline chart per row, shown on the page only, in a
	// column after the one keyed VisualAfter (last when "").
	Visual       []template.HTML
	VisualTitle  string
	VisualHeader template.HTML // replaces VisualTitle (a scale)
	VisualAfter  string
}

// timeLayout is how the page writes times (UTC).
const timeLayout = "2006-01-02 15:04"

func csvCell(c Column, v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case time.Duration:
		return strconv.FormatInt(int64(v/time.Second), 10)
	case time.Time:
		if v.IsZero() {
			return ""
		}
		return v.UTC().Format(time.RFC3339)
	case int:
		return strconv.Itoa(v)
	case string:
		return csvSafe(v)
	}
	return fmt.Sprint(v)
}

// csvSafe keeps a text cell from being read as a formula by a spreadsheet
// (values come from events and tickets: attacker-controlled).
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func jsonCell(v any) any {
	switch v := v.(type) {
	case time.Duration:
		return int64(v / time.Second)
	case time.Time:
		if v.IsZero() {
			return nil
		}
		return v.UTC().Format(time.RFC3339)
	}
	return v
}

// WriteCSV writes each table as NAME.csv in dir, which it creates.
func (r *Report) WriteCSV(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	for _, t := range r.Tables() {
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		head := make([]string, len(t.Columns))
		for i, c := range t.Columns {
			head[i] = c.Key
		}
		w.Write(head)
		for _, row := range t.Rows {
			rec := make([]string, len(row))
			for i, v := range row {
				rec[i] = csvCell(t.Columns[i], v)
			}
			w.Write(rec)
		}
		w.Flush()
		if err := w.Error(); err != nil {
			return err
		}
		if err := writeFile(filepath.Join(dir, t.Name+".csv"), b.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// WriteJSON writes the report as one JSON document: the span and every
// table as an array of objects whose keys are the columns, in order.
func (r *Report) WriteJSON(w io.Writer) error {
	var b bytes.Buffer
	b.WriteString("{\n")
	fmt.Fprintf(&b, "  \"from\": %q,\n  \"to\": %q,\n  \"generated\": %q,\n", r.From.Format(time.RFC3339), r.To.Format(time.RFC3339), r.Generated.Format(time.RFC3339))
	src, _ := json.Marshal(r.Source)
	fmt.Fprintf(&b, "  \"source\": %s,\n  \"tables\": {", src)
	for ti, t := range r.Tables() {
		if ti > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "\n    %q: [", t.Name)
		for ri, row := range t.Rows {
			if ri > 0 {
				b.WriteString(",")
			}
			b.WriteString("\n      {")
			for i, v := range row {
				if i > 0 {
					b.WriteString(", ")
				}
				vb, err := json.Marshal(jsonCell(v))
				if err != nil {
					return err
				}
				fmt.Fprintf(&b, "%q: %s", t.Columns[i].Key, vb)
			}
			b.WriteString("}")
		}
		if len(t.Rows) > 0 {
			b.WriteString("\n    ")
		}
		b.WriteString("]")
	}
	b.WriteString("\n  }\n}\n")
	_, err := w.Write(b.Bytes())
	return err
}

// writeFile writes data to path through a temporary file and a rename, so
// a reader never sees half a report.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o640); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// WriteFile writes the report to path in format ("html", "json"); "csv"
// makes path a folder of one file per table.
func (r *Report) WriteFile(path, format string) error {
	var b bytes.Buffer
	switch format {
	case "csv":
		return r.WriteCSV(path)
	case "json":
		if err := r.WriteJSON(&b); err != nil {
			return err
		}
	case "html":
		if err := r.WriteHTML(&b); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown format %q: use html, csv or json", format)
	}
	return writeFile(path, b.Bytes())
}

// snake makes a column key of a title: "dry run" → "dry_run".
func snake(s string) string { return strings.ReplaceAll(strings.ToLower(s), " ", "_") }
