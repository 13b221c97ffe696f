package spl

import (
	"fmt"
	"strings"
	"testing"
)

func TestJSONLimits(t *testing.T) {
	lim := JSONLimits{MaxDepth: 10, MaxValues: 3}
	deep := `{"a":` + strings.Repeat("[", 50) + strings.Repeat("]", 50) + `,"b":"x"}`
	if _, err := collectJSON([]byte(deep), lim); err == nil || !strings.Contains(err.Error(), "nested deeper than 10 levels") {
		t.Errorf("deep: %v", err)
	}
	// A field name is followed, not the data: deep data elsewhere costs nothing.
	if v, err := jsonField([]byte(deep), "b", lim); err != nil || v.String() != "x" {
		t.Errorf("b = %v, %v", v, err)
	}
	var elems []string
	for i := range 100000 {
		elems = append(elems, fmt.Sprintf(`{"ARN":"arn:aws:s3:::b%d"}`, i))
	}
	huge := []byte(`{"resources":[` + strings.Join(elems, ",") + `]}`)
	fs, err := collectJSON(huge, lim)
	if err != nil || len(fs) != 1 || len(fs[0].Value.Strings()) != 3 || fs[0].Value.Strings()[2] != "arn:aws:s3:::b2" {
		t.Fatalf("collect: %v %v", fs, err)
	}
	if v, err := jsonField(huge, "resources{}.ARN", lim); err != nil || len(v.Strings()) != 3 {
		t.Errorf("field: %v %v", v, err)
	}
	if v, err := spathValue(huge, "resources{}.ARN", lim); err != nil || len(v.Strings()) != 3 {
		t.Errorf("spath: %v %v", v, err)
	}
	// Without a cap, every value is kept once (no copy per value).
	fs, err = collectJSON(huge, JSONLimits{MaxValues: 1 << 20})
	if err != nil || len(fs[0].Value.Strings()) != 100000 {
		t.Errorf("uncapped: %d values, %v", len(fs[0].Value.Strings()), err)
	}
}
