package poller

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestPlanJSON: plans are stored with snake_case keys, and plans stored
// before (Go field names) still decode, so undo works on old ledgers.
func TestPlanJSON(t *testing.T) {
	p := Plan{Action: "iam.disable_access_key", Target: "AKIA1", Principal: "arn:aws:iam::111122223333:user/u",
		Account: "111122223333", Params: map[string]string{"user": "u"}, Steps: []string{"one"}}
	b, _ := json.Marshal(p)
	if want := `{"action":"iam.disable_access_key","target":"AKIA1","principal":"arn:aws:iam::111122223333:user/u","account":"111122223333","params":{"user":"u"},"steps":["one"]}`; string(b) != want {
		t.Errorf("plan JSON = %s", b)
	}
	old := `{"Action":"iam.disable_access_key","Target":"AKIA1","Principal":"arn:aws:iam::111122223333:user/u","Account":"111122223333","Region":"","Params":{"user":"u"},"Steps":["one"]}`
	var got Plan
	if err := json.Unmarshal([]byte(old), &got); err != nil || !reflect.DeepEqual(got, p) {
		t.Errorf("old plan decoded as %+v %v", got, err)
	}
}
