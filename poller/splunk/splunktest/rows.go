package splunktest

import (
	"encoding/json"
	"sort"
	"strconv"
	"time"
)

// timeLayout is how Splunk renders _time: milliseconds and the user's offset.
const timeLayout = "2006-01-02T15:04:05.000-07:00"

// rowEncoder writes a result row as Splunk's JSON by hand rather than
// through reflection, so that in a benchmark the fake's own cost stays small
// next to the client being measured. One encoder serves one response.
type rowEncoder struct {
	zone *time.Location
	keys []string
	buf  []byte
}

// row renders e: every value a string, multivalue fields as arrays, absent
// (empty) fields left out, _time in ISO-8601 with the zone's offset,
// _indextime as epoch seconds. The bytes are valid until the next call.
func (r *rowEncoder) row(e Event) []byte {
	r.keys = r.keys[:0]
	for k, v := range e.Fields {
		if len(v) > 0 && k != "_time" && k != "_indextime" {
			r.keys = append(r.keys, k)
		}
	}
	sort.Strings(r.keys)
	b := append(r.buf[:0], `{"_indextime":"`...)
	b = strconv.AppendInt(b, e.indexTime().Unix(), 10)
	b = append(b, `","_time":"`...)
	b = e.Time.In(r.zone).AppendFormat(b, timeLayout)
	b = append(b, '"')
	for _, k := range r.keys {
		b = append(b, ',')
		b = appendString(b, k)
		b = append(b, ':')
		v := e.Fields[k]
		if len(v) == 1 {
			b = appendString(b, v[0])
			continue
		}
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		b = append(b, ']')
	}
	b = append(b, '}')
	r.buf = b
	return b
}

// appendString appends s as a JSON string, escaping through encoding/json
// only when s holds something that needs it.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
