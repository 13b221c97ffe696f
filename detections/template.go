package detections

import (
	"fmt"
	"strings"
)

// Template is a text with {field} placeholders, rendered over a search
// result. A field absent from the result renders as "" (a ticket about an
// event with a missing field is still a ticket). "{{" and "}}" are literal
// braces.
type Template struct {
	src   string
	parts []tmplPart
}

type tmplPart struct {
	text  string
	field string // non-empty: a placeholder
}

// ParseTemplate parses src; an unclosed or empty placeholder is an error
// naming its offset.
func ParseTemplate(src string) (Template, error) {
	t := Template{src: src}
	var lit strings.Builder
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '{' && i+1 < len(src) && src[i+1] == '{':
			lit.WriteByte('{')
			i++
		case c == '}' && i+1 < len(src) && src[i+1] == '}':
			lit.WriteByte('}')
			i++
		case c == '{':
			end := strings.IndexByte(src[i:], '}')
			if end < 0 {
				return Template{}, fmt.Errorf("unclosed placeholder at offset %d (write {{ for a literal brace)", i)
			}
			name := strings.TrimSpace(src[i+1 : i+end])
			if name == "" || strings.ContainsAny(name, "{\n") {
				return Template{}, fmt.Errorf("bad placeholder %q at offset %d", src[i:i+end+1], i)
			}
			if lit.Len() > 0 {
				t.parts = append(t.parts, tmplPart{text: lit.String()})
				lit.Reset()
			}
			t.parts = append(t.parts, tmplPart{field: name})
			i += end
		case c == '}':
			return Template{}, fmt.Errorf("unmatched } at offset %d (write }} for a literal brace)", i)
		default:
			lit.WriteByte(c)
		}
	}
	if lit.Len() > 0 {
		t.parts = append(t.parts, tmplPart{text: lit.String()})
	}
	return t, nil
}

// UnmarshalText parses a template from TOML.
func (t *Template) UnmarshalText(b []byte) error {
	v, err := ParseTemplate(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// String returns the template's source.
func (t Template) String() string { return t.src }

// Fields lists the fields the template refers to, in order.
func (t Template) Fields() []string {
	var out []string
	for _, p := range t.parts {
		if p.field != "" {
			out = append(out, p.field)
		}
	}
	return out
}

// Render fills the placeholders with lookup's values.
func (t Template) Render(lookup func(field string) (string, bool)) string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.field == "" {
			b.WriteString(p.text)
			continue
		}
		v, _ := lookup(p.field)
		b.WriteString(v)
	}
	return b.String()
}
