package jiratest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The fake understands the JQL subset a poller needs:
//
//	clause { AND clause } [ ORDER BY field [ASC|DESC] {, field [ASC|DESC]} ]
//	clause: project|labels|key|status|updated|created  (= != >= <= > <)  value
//
// Values are quoted strings ("..." or '...' with backslash escapes),
// unquoted words, or numbers. Dates are "yyyy/MM/dd HH:mm", "yyyy-MM-dd
// HH:mm", "yyyy/MM/dd", "yyyy-MM-dd" in the account's zone, or epoch
// milliseconds. Anything else is a 400, as a typo would be in Jira.

type clause struct {
	field, op, value string
}

type order struct {
	field string
	desc  bool
}

type query struct {
	clauses []clause
	orders  []order
}

type token struct {
	text   string
	quoted bool
}

func lex(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"' || c == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != c; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
					switch s[j] {
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					case 'r':
						b.WriteByte('\r')
					default:
						b.WriteByte(s[j])
					}
					continue
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("the quoted string starting at character %d is not terminated", i+1)
			}
			out = append(out, token{text: b.String(), quoted: true})
			i = j + 1
		case c == ',':
			out = append(out, token{text: ","})
			i++
		case strings.ContainsRune("=!<>~", rune(c)):
			j := i + 1
			if j < len(s) && s[j] == '=' {
				j++
			}
			out = append(out, token{text: s[i:j]})
			i = j
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r\"',=!<>~()", rune(s[j])) {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("the character '%c' at position %d is not allowed here", c, i+1)
			}
			out = append(out, token{text: s[i:j]})
			i = j
		}
	}
	return out, nil
}

var jqlFields = []string{"project", "labels", "key", "status", "updated", "created"}

func parseJQL(s string) (query, error) {
	toks, err := lex(s)
	if err != nil {
		return query{}, err
	}
	var q query
	i := 0
	word := func(w string) bool {
		return i < len(toks) && !toks[i].quoted && strings.EqualFold(toks[i].text, w)
	}
	for i < len(toks) && !word("order") {
		if len(q.clauses) > 0 {
			if !word("and") {
				return q, fmt.Errorf("expecting 'AND' or 'ORDER BY' but got '%s'", toks[i].text)
			}
			i++
		}
		if i+2 >= len(toks) {
			return q, fmt.Errorf("expecting a field, an operator and a value")
		}
		f, op, v := toks[i], toks[i+1], toks[i+2]
		field := strings.ToLower(f.text)
		if f.quoted || !slices.Contains(jqlFields, field) {
			return q, fmt.Errorf("field '%s' does not exist or you do not have permission to view it", f.text)
		}
		if op.quoted || !slices.Contains([]string{"=", "!=", ">=", "<=", ">", "<"}, op.text) {
			return q, fmt.Errorf("expecting an operator but got '%s'", op.text)
		}
		q.clauses = append(q.clauses, clause{field: field, op: op.text, value: v.text})
		i += 3
	}
	if word("order") {
		i++
		if !word("by") {
			return q, fmt.Errorf("expecting 'BY' after 'ORDER'")
		}
		i++
		for i < len(toks) {
			field := strings.ToLower(toks[i].text)
			if !slices.Contains(jqlFields, field) {
				return q, fmt.Errorf("not allowed to order by '%s'", toks[i].text)
			}
			o := order{field: field}
			i++
			if word("asc") || word("desc") {
				o.desc = word("desc")
				i++
			}
			q.orders = append(q.orders, o)
			if i < len(toks) {
				if toks[i].text != "," {
					return q, fmt.Errorf("expecting ',' in ORDER BY but got '%s'", toks[i].text)
				}
				i++
			}
		}
		if len(q.orders) == 0 || len(q.orders) > 7 {
			return q, fmt.Errorf("ORDER BY takes 1 to 7 fields")
		}
	}
	return q, nil
}

// parseDate reads a JQL date value in zone.
func parseDate(v string, zone *time.Location) (time.Time, error) {
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	for _, layout := range []string{"2006/01/02 15:04", "2006-01-02 15:04", "2006/01/02", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, zone); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("date value '%s' for field is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'", v)
}

// match reports whether is satisfies every clause.
func (q query) match(is *Issue, project string, zone *time.Location) (bool, error) {
	for _, c := range q.clauses {
		ok, err := c.match(is, project, zone)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func (c clause) match(is *Issue, project string, zone *time.Location) (bool, error) {
	var ok bool
	switch c.field {
	case "updated", "created":
		d, err := parseDate(c.value, zone)
		if err != nil {
			return false, err
		}
		t := is.Updated
		if c.field == "created" {
			t = is.Created
		}
		return compare(t, d, c.op), nil
	case "project":
		ok = strings.EqualFold(c.value, project)
	case "key":
		ok = strings.EqualFold(c.value, is.Key)
	case "status":
		ok = strings.EqualFold(c.value, is.Status)
	case "labels":
		ok = slices.Contains(is.Labels, c.value)
	}
	switch c.op {
	case "=":
		return ok, nil
	case "!=":
		return !ok, nil
	}
	return false, fmt.Errorf("the operator '%s' is not supported by the '%s' field", c.op, c.field)
}

func compare(t, d time.Time, op string) bool {
	switch op {
	case ">=":
		return !t.Before(d)
	case ">":
		return t.After(d)
	case "<=":
		return !t.After(d)
	case "<":
		return t.Before(d)
	case "=":
		return t.Equal(d)
	}
	return !t.Equal(d)
}

// less orders issues by the query's ORDER BY (default: created).
func (q query) less(a, b *Issue) bool {
	orders := q.orders
	if len(orders) == 0 {
		orders = []order{{field: "created"}}
	}
	for _, o := range orders {
		c := 0
		switch o.field {
		case "updated":
			c = a.Updated.Compare(b.Updated)
		case "created":
			c = a.Created.Compare(b.Created)
		case "key":
			c = compareKeys(a.Key, b.Key)
		default:
			c = strings.Compare(a.Status, b.Status)
		}
		if o.desc {
			c = -c
		}
		if c != 0 {
			return c < 0
		}
	}
	return compareKeys(a.Key, b.Key) < 0
}

func compareKeys(a, b string) int {
	na, _ := strconv.Atoi(a[strings.LastIndexByte(a, '-')+1:])
	nb, _ := strconv.Atoi(b[strings.LastIndexByte(b, '-')+1:])
	if na != nb {
		return na - nb
	}
	return strings.Compare(a, b)
}
