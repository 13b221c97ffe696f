// Package sigma converts Sigma rules (https://github.com/SigmaHQ/sigma-specification)
// whose logsource is AWS CloudTrail into patrol detections: the rule's
// selections and condition become SPL over the `cloudtrail` macro that runs
// on Splunk and on patrol's local engine, and its metadata (level, ATT&CK
// tags, references, id, false positives) becomes detection keys and
// comments. Anything the converter cannot express faithfully (a correlation,
// a placeholder, an unknown modifier) is refused with the reason, never
// approximated.
package sigma

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Rule is one Sigma detection rule, as written.
type Rule struct {
	Title, ID, Status, Description string
	Author, Date, Modified, Level  string
	References, Tags, Fields       []string
	FalsePositives                 []string
	Product, Service, Category     string

	// Searches are the detection's search identifiers, in file order.
	Searches []*Search
	// Conditions are the condition(s); several are ORed.
	Conditions    []string
	ConditionLine int
	// Timeframe is the legacy aggregation window, if any.
	Timeframe string
}

// Search is a search identifier: alternatives (ORed), each a list of
// items (ANDed). A map is one alternative; a list of maps is several.
type Search struct {
	Name string
	Line int
	Alts [][]*Item
	// Keywords is set when the identifier lists bare values (a keyword
	// search over the whole event).
	Keywords bool
}

// Item is one "field|modifiers: values" entry.
type Item struct {
	Field     string
	Modifiers []string
	Values    []Value
	Line      int
}

// Value is one value of an item as written.
type Value struct {
	Null bool
	Bool bool // the YAML value was a boolean
	Num  bool // the YAML value was a number
	S    string
}

// Unsupported is a rule the converter refuses; Reason says why.
type Unsupported struct {
	Line   int
	Reason string
}

func (u *Unsupported) Error() string {
	if u.Line > 0 {
		return fmt.Sprintf("line %d: %s", u.Line, u.Reason)
	}
	return u.Reason
}

func unsupported(line int, format string, args ...any) error {
	return &Unsupported{Line: line, Reason: fmt.Sprintf(format, args...)}
}

// Document is one YAML document of a Sigma file.
type Document struct {
	Kind string // "rule", "correlation" or "filter"
	Rule *Rule  // for rules
	// Correlation is a correlation's type (event_count, value_count,
	// temporal, temporal_ordered, ...), for the reason it is skipped.
	Correlation string
	Line        int
	// Logsource is the document's logsource, for messages.
	Logsource map[string]string
}

// ParseFile reads the YAML documents of a Sigma file. A YAML syntax error
// is returned as is; problems of a rule's structure are *Unsupported.
func ParseFile(src []byte) ([]*Document, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var docs []*Document
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(n.Content) == 0 {
			continue
		}
		d, err := parseDocument(n.Content[0])
		if err != nil {
			return nil, err
		}
		docs = append(docs, d)
	}
	return docs, nil
}

func parseDocument(n *yaml.Node) (*Document, error) {
	if n.Kind != yaml.MappingNode {
		return nil, unsupported(n.Line, "a Sigma rule is a YAML mapping (title, logsource, detection, ...)")
	}
	d := &Document{Kind: "rule", Line: n.Line, Logsource: map[string]string{}}
	r := &Rule{}
	var detection *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		var err error
		switch k {
		case "title":
			r.Title, err = scalar(k, v)
		case "id":
			r.ID, err = scalar(k, v)
		case "status":
			r.Status, err = scalar(k, v)
		case "description":
			r.Description, err = scalar(k, v)
		case "author":
			r.Author, err = scalar(k, v)
		case "date":
			r.Date, err = scalar(k, v)
		case "modified":
			r.Modified, err = scalar(k, v)
		case "level":
			r.Level, err = scalar(k, v)
		case "references":
			r.References, err = scalars(k, v)
		case "tags":
			r.Tags, err = scalars(k, v)
		case "fields":
			r.Fields, err = scalars(k, v)
		case "falsepositives":
			r.FalsePositives, err = scalars(k, v)
		case "logsource":
			err = logsource(v, d.Logsource)
		case "detection":
			detection = v
		case "correlation":
			d.Kind = "correlation"
			if v.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(v.Content); i += 2 {
					if v.Content[i].Value == "type" {
						d.Correlation = v.Content[i+1].Value
					}
				}
			}
		case "filter":
			d.Kind = "filter"
		}
		if err != nil {
			return nil, err
		}
	}
	r.Product, r.Service, r.Category = d.Logsource["product"], d.Logsource["service"], d.Logsource["category"]
	d.Rule = r
	if d.Kind != "rule" {
		return d, nil
	}
	if detection == nil {
		return nil, unsupported(n.Line, "the rule has no detection section")
	}
	return d, parseDetection(detection, r)
}

func scalar(key string, v *yaml.Node) (string, error) {
	if v.Kind != yaml.ScalarNode {
		return "", unsupported(v.Line, "%s must be a single value", key)
	}
	return v.Value, nil
}

// scalars reads a list of values; a single value counts as a list of one.
func scalars(key string, v *yaml.Node) ([]string, error) {
	if v.Kind == yaml.ScalarNode {
		if v.Tag == "!!null" {
			return nil, nil
		}
		return []string{v.Value}, nil
	}
	if v.Kind != yaml.SequenceNode {
		return nil, unsupported(v.Line, "%s must be a list", key)
	}
	var out []string
	for _, c := range v.Content {
		if c.Kind != yaml.ScalarNode {
			return nil, unsupported(c.Line, "%s entries must be single values", key)
		}
		out = append(out, c.Value)
	}
	return out, nil
}

func logsource(v *yaml.Node, into map[string]string) error {
	if v.Kind != yaml.MappingNode {
		return unsupported(v.Line, "logsource must be a mapping (product, service, category)")
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		if v.Content[i+1].Kind == yaml.ScalarNode {
			into[v.Content[i].Value] = v.Content[i+1].Value
		}
	}
	return nil
}

func parseDetection(n *yaml.Node, r *Rule) error {
	if n.Kind != yaml.MappingNode {
		return unsupported(n.Line, "detection must be a mapping of search identifiers and a condition")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "condition":
			r.ConditionLine = v.Line
			cs, err := scalars("condition", v)
			if err != nil {
				return err
			}
			r.Conditions = cs
			continue
		case "timeframe":
			r.Timeframe = v.Value
			continue
		}
		s, err := parseSearch(k.Value, v)
		if err != nil {
			return err
		}
		r.Searches = append(r.Searches, s)
	}
	if len(r.Conditions) == 0 {
		return unsupported(n.Line, "the detection has no condition")
	}
	return nil
}

func parseSearch(name string, v *yaml.Node) (*Search, error) {
	s := &Search{Name: name, Line: v.Line}
	switch v.Kind {
	case yaml.MappingNode:
		items, err := parseMap(v)
		if err != nil {
			return nil, err
		}
		s.Alts = [][]*Item{items}
	case yaml.SequenceNode:
		for _, c := range v.Content {
			switch c.Kind {
			case yaml.MappingNode:
				items, err := parseMap(c)
				if err != nil {
					return nil, err
				}
				s.Alts = append(s.Alts, items)
			case yaml.ScalarNode:
				s.Keywords = true
			default:
				return nil, unsupported(c.Line, "search identifier %s: a list holds maps or values", name)
			}
		}
	default:
		s.Keywords = true
	}
	return s, nil
}

func parseMap(m *yaml.Node) ([]*Item, error) {
	var items []*Item
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		parts := strings.Split(k.Value, "|")
		it := &Item{Field: parts[0], Modifiers: parts[1:], Line: k.Line}
		var nodes []*yaml.Node
		switch v.Kind {
		case yaml.ScalarNode:
			nodes = []*yaml.Node{v}
		case yaml.SequenceNode:
			nodes = v.Content
		default:
			return nil, unsupported(v.Line, "%s: a value must be a single value or a list of values", k.Value)
		}
		for _, n := range nodes {
			if n.Kind != yaml.ScalarNode {
				return nil, unsupported(n.Line, "%s: a value must be a single value or a list of values", k.Value)
			}
			switch n.Tag {
			case "!!null":
				it.Values = append(it.Values, Value{Null: true})
			case "!!bool":
				it.Values = append(it.Values, Value{Bool: true, S: strings.ToLower(n.Value)})
			case "!!int", "!!float":
				it.Values = append(it.Values, Value{Num: true, S: n.Value})
			default:
				it.Values = append(it.Values, Value{S: n.Value})
			}
		}
		if len(it.Values) == 0 {
			return nil, unsupported(k.Line, "%s: an empty list matches nothing", k.Value)
		}
		items = append(items, it)
	}
	return items, nil
}
