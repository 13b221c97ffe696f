package splunk

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/patrolsec/patrol/poller"
)

func TestRowParser(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want poller.Result
	}{
		{`{}`, poller.Result{}},
		{` { "a" : "1" , "b":["x", "y"] } `, poller.Result{"a": {"1"}, "b": {"x", "y"}}},
		{`{"_raw":"{\"k\": \"v\\\\w\"}\n\t\/"}`, poller.Result{"_raw": {"{\"k\": \"v\\\\w\"}\n\t/"}}},
		{`{"u":"\u00e9\u2713 \ud83d\ude00 ünï"}`, poller.Result{"u": {"é✓ 😀 ünï"}}},
		{`{"lone":"\ud83d!"}`, poller.Result{"lone": {"\uFFFD!"}}},
		{"{\"bad\":\"\xff\"}", poller.Result{"bad": {"\uFFFD"}}},
		{`{"n":42,"f":1.5,"t":true,"gone":null,"mv":["a",null,"b"],"empty":[]}`, poller.Result{"n": {"42"}, "f": {"1.5"}, "t": {"true"}, "mv": {"a", "b"}}},
		{`{"k\"ey":"v","count":"62"}`, poller.Result{"k\"ey": {"v"}, "count": {"62"}}},
	} {
		p := newRowParser()
		for range 2 { // the second pass reads interned names
			got, err := p.parse([]byte(tc.in))
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parse(%s) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		}
	}
	for _, bad := range []string{`[]`, `{"a":{"b":"c"}}`, `{"a":[["x"]]}`, `{"a" "b"}`, `{"a":"b"`, `"s"`} {
		if got, err := newRowParser().parse([]byte(bad)); err == nil {
			t.Errorf("parse(%s) = %v, want an error", bad, got)
		}
	}
}

// FuzzRowParser checks the parser against encoding/json on any object of
// strings and string arrays.
func FuzzRowParser(f *testing.F) {
	for _, s := range []string{`{"a":"b"}`, `{"_raw":"x\"y\\z\u00e9","mv":["1","2"]}`, `{"e":"\ud800"}`, `{}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var ref map[string]any
		if json.Unmarshal([]byte(in), &ref) != nil || ref == nil {
			return
		}
		want := poller.Result{}
		for k, v := range ref {
			switch v := v.(type) {
			case string:
				want[k] = []string{v}
			case []any:
				var vs []string
				for _, e := range v {
					s, ok := e.(string)
					if !ok {
						return // numbers and nesting are not Splunk's shape
					}
					vs = append(vs, s)
				}
				if len(vs) > 0 {
					want[k] = vs
				}
			default:
				return
			}
		}
		got, err := newRowParser().parse([]byte(in))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("parse(%q) = %q, %v; encoding/json says %q", in, got, err, want)
		}
	})
}
