package splunk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Splunk's JSON is loose: flags are true/false in JSON output but "1"/"0"
// in places that mirror the XML form, numbers are sometimes strings
// ("resultCount":"62"), and result values are strings or arrays of strings.
// These types accept every shape seen in real answers.

// flexBool decodes true/false, "1"/"0", "true"/"false" and 1/0.
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	s := string(bytes.Trim(bytes.TrimSpace(data), `"`))
	switch s {
	case "true", "1", "True", "TRUE":
		*b = true
	case "false", "0", "False", "FALSE", "", "null":
		*b = false
	default:
		return fmt.Errorf("not a boolean: %s", data)
	}
	return nil
}

// flexInt decodes a number or a string holding one.
type flexInt int64

func (n *flexInt) UnmarshalJSON(data []byte) error {
	s := string(bytes.Trim(bytes.TrimSpace(data), `"`))
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		*n = flexInt(v)
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("not a number: %s", data)
	}
	*n = flexInt(f)
	return nil
}

// values is one result field: a string, or an array for a multivalue field.
// Numbers and booleans (not sent by Splunk, but cheap to accept) keep their
// JSON text; null decodes to nil and the field is left out of the result,
// as Splunk does for absent fields.
type values []string

func (v *values) UnmarshalJSON(data []byte) error {
	if len(data) == 0 {
		return fmt.Errorf("empty value")
	}
	switch data[0] {
	case '"':
		s, err := unquote(data)
		if err != nil {
			return err
		}
		*v = values{s}
	case '[':
		var raw []json.RawMessage
		if err := json.Unmarshal(data, &raw); err != nil {
			return err
		}
		out := make(values, 0, len(raw))
		for _, r := range raw {
			if len(r) == 0 || string(r) == "null" {
				continue
			}
			if r[0] == '"' {
				s, err := unquote(r)
				if err != nil {
					return err
				}
				out = append(out, s)
				continue
			}
			out = append(out, string(r))
		}
		*v = out
	case 'n':
		*v = nil
	case '{':
		return fmt.Errorf("object where a field value was expected")
	default:
		*v = values{string(data)}
	}
	return nil
}

// unquote decodes a JSON string the decoder has already validated. Most
// values carry no escapes, and slicing them is much cheaper than a second
// full decode (this runs once per field of every result).
func unquote(data []byte) (string, error) {
	if len(data) >= 2 && bytes.IndexByte(data, '\\') < 0 && utf8.Valid(data) {
		return string(data[1 : len(data)-1]), nil
	}
	var s string
	err := json.Unmarshal(data, &s)
	return s, err
}
