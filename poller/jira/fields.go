package jira

import (
	"fmt"
	"strconv"

	"github.com/patrolsec/patrol/poller"
)

// eventFields reads the configured Jira fields (event field → field id)
// out of an issue's custom fields. Jira field values come in many shapes;
// the ones a detection value can sit in are text, numbers, selects
// ({"value": ...}), users and arrays of those.
func eventFields(mapping map[string]string, unknowns map[string]any) poller.Result {
	if len(mapping) == 0 || len(unknowns) == 0 {
		return nil
	}
	out := poller.Result{}
	for event, id := range mapping {
		if vals := fieldValues(unknowns[id]); len(vals) > 0 {
			out[event] = vals
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func fieldValues(v any) []string {
	switch v := v.(type) {
	case nil:
		return nil
	case string:
		if v == "" {
			return nil
		}
		return []string{v}
	case float64:
		return []string{strconv.FormatFloat(v, 'f', -1, 64)}
	case bool:
		return []string{strconv.FormatBool(v)}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, fieldValues(e)...)
		}
		return out
	case map[string]any:
		for _, k := range []string{"value", "name", "key", "accountId", "displayName"} {
			if s, ok := v[k].(string); ok && s != "" {
				return []string{s}
			}
		}
		return nil
	default:
		return []string{fmt.Sprint(v)}
	}
}
