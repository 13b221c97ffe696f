package splunk

import (
	"bytes"
	"fmt"
	"strconv"
)

// Splunk's JSON is loose: flags are true/false in JSON output but "1"/"0"
// in places that mirror the XML form, and numbers are sometimes strings
// ("resultCount":"62"). These types accept every shape seen in real
// answers. (Result rows have their own parser, in rows.go.)

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

// flexFloat is a number Splunk may send as a number or a string.
type flexFloat float64

func (n *flexFloat) UnmarshalJSON(data []byte) error {
	s := string(bytes.Trim(bytes.TrimSpace(data), `"`))
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("not a number: %s", data)
	}
	*n = flexFloat(f)
	return nil
}

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
