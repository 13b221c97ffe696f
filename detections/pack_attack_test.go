package detections_test

import (
	"testing"

	"github.com/patrolsec/patrol/detections/attack"
)

// TestPackATTACKTags: every shipped detection names the MITRE ATT&CK
// techniques it detects, from the ATT&CK release patrol ships, so that
// `patrol coverage` shows the whole pack.
func TestPackATTACKTags(t *testing.T) {
	_, ds := loadPack(t)
	m, err := attack.Enterprise()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if len(d.Attack) == 0 {
			t.Errorf("%s (%s) has no attack tags: add attack = [\"T....\"] with the ATT&CK technique ids it detects "+
				"(detections/attack/enterprise-techniques.csv lists them; patrol coverage shows the result)", d.ID, d.File)
		}
		for _, id := range d.Attack {
			if _, ok := m.Technique(id); !ok {
				t.Errorf("%s (%s): attack tag %s is not a technique of ATT&CK v%s (detections/attack/enterprise-techniques.csv)", d.ID, d.File, id, attack.Version)
			}
		}
	}
}
