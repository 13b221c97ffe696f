package detections

import (
	"regexp"
	"strings"
)

// AttackIDPattern is the form of an ATT&CK technique id in a detection's
// attack list: a technique (T1078) or a sub-technique (T1078.004).
var AttackIDPattern = regexp.MustCompile(`^T[0-9]{4}(\.[0-9]{3})?$`)

// validateMetadata checks the keys that describe a detection rather than
// run it: attack, references and sigma_id.
func validateMetadata(r *Reporter, d *Detection, raw *rawDetection) {
	seen := map[string]bool{}
	for _, id := range raw.Attack {
		switch {
		case strings.HasPrefix(id, "TA"):
			r.Add("attack", "%q is a tactic: list technique ids (T1234 or T1234.001); patrol coverage maps them to their tactics", id)
		case !AttackIDPattern.MatchString(id):
			r.Add("attack", "%q is not an ATT&CK technique id (T1234 or T1234.001, capital T)", id)
		case seen[id]:
			r.Add("attack", "%q is listed twice", id)
		default:
			seen[id] = true
			d.Attack = append(d.Attack, id)
		}
	}
	for _, ref := range raw.References {
		if strings.TrimSpace(ref) == "" || strings.ContainsAny(ref, "\r\n") {
			r.Add("references", "%q must be one non-empty line (a URL or a citation)", ref)
			continue
		}
		d.References = append(d.References, ref)
	}
	if raw.SigmaID != nil {
		id := strings.TrimSpace(*raw.SigmaID)
		if id == "" || strings.ContainsAny(id, " \t\r\n") {
			r.Add("sigma_id", "%q must be the Sigma rule's id (a UUID), without spaces", *raw.SigmaID)
		}
		d.SigmaID = id
	}
}
