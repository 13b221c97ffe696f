package sigma

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// DefaultStage is the stage imported detections start in: shadow, so an
// imported rule records what it would do (no tickets) until a person has
// looked at its alerts (patrol shadow) and sets stage = "live".
const DefaultStage = "shadow" // detections.StageShadow

// Converted is a rule converted into a detection file.
type Converted struct {
	ID       string // sigma-<file stem, dashed>
	FileName string // sigma_<file stem>.toml
	TOML     []byte
}

// IsCloudTrail reports whether a logsource is AWS CloudTrail.
func IsCloudTrail(ls map[string]string) bool {
	return strings.EqualFold(ls["product"], "aws") && strings.EqualFold(ls["service"], "cloudtrail")
}

var stemRE = regexp.MustCompile(`[^a-z0-9]+`)

// Names returns the detection id and file name for a Sigma file.
func Names(path string) (id, file string) {
	stem := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	stem = strings.Trim(stemRE.ReplaceAllString(strings.ToLower(stem), "-"), "-")
	if len(stem) > 90 {
		stem = strings.TrimRight(stem[:90], "-")
	}
	return "sigma-" + stem, "sigma_" + strings.ReplaceAll(stem, "-", "_") + ".toml"
}

// Convert turns a parsed rule from file into a detection. It refuses, with
// an *Unsupported error, what it cannot express faithfully.
func Convert(file string, r *Rule, stage string) (*Converted, error) {
	if r.Timeframe != "" {
		return nil, unsupported(0, "timeframe %q: aggregations over time are not supported", r.Timeframe)
	}
	var kids []expr
	for _, c := range r.Conditions {
		e, err := parseCondition(c, r.ConditionLine, r)
		if err != nil {
			return nil, err
		}
		kids = append(kids, e)
	}
	cond := flatten(orExpr{kids})
	if err := checkFields(cond); err != nil {
		return nil, err
	}
	id, name := Names(file)
	lines := buildSearch(cond)
	lines = append(lines, "| eval recipientAccountId=coalesce(recipientAccountId, 'userIdentity.accountId')")
	lines = append(lines, "| table "+strings.Join(tableFields(cond, r.Fields), " "))
	return &Converted{ID: id, FileName: name, TOML: emit(file, id, r, strings.Join(lines, "\n"), cond, stage)}, nil
}

// baseFields are what every imported detection's ticket and grouping use.
var baseFields = []string{"_time", "eventID", "eventSource", "eventName", "recipientAccountId", "awsRegion",
	"userIdentity.type", "userIdentity.arn", "sourceIPAddress", "userAgent", "errorCode"}

// tableFields are the base fields, then the fields the rule tests and the
// ones its fields list names.
func tableFields(cond expr, extra []string) []string {
	out := append([]string(nil), baseFields...)
	seen := map[string]bool{}
	for _, f := range out {
		seen[f] = true
	}
	add := func(f string) {
		if f = splField(f); f != "" && !seen[f] && fieldNameRE.MatchString(f) {
			seen[f] = true
			out = append(out, f)
		}
	}
	walk(cond, func(l leaf) {
		add(l.field)
		add(refField(l))
	})
	for _, f := range extra {
		add(f)
	}
	return out
}

// matchedFields are the fields the rule tests, for the ticket.
func matchedFields(cond expr) []string {
	var out []string
	seen := map[string]bool{}
	walk(cond, func(l leaf) {
		for _, f := range []string{l.field, refField(l)} {
			if f = splField(f); f != "" && !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	})
	sort.Strings(out)
	return out
}

var techniqueTagRE = regexp.MustCompile(`^attack\.t([0-9]{4}(\.[0-9]{3})?)$`)

// techniques are the ATT&CK technique ids among a rule's tags.
func techniques(tags []string) (ids, other []string) {
	seen := map[string]bool{}
	for _, t := range tags {
		m := techniqueTagRE.FindStringSubmatch(strings.ToLower(strings.TrimSpace(t)))
		if m == nil {
			other = append(other, t)
			continue
		}
		if id := "T" + m[1]; !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, other
}

// severity maps a Sigma level to a patrol severity and ticket priority.
func severity(level string) (sev, priority, note string) {
	switch strings.ToLower(level) {
	case "critical":
		return "critical", "Highest", ""
	case "high":
		return "high", "High", ""
	case "medium":
		return "medium", "Medium", ""
	case "low":
		return "low", "Low", ""
	case "informational":
		return "low", "Low", "the rule's level is informational (patrol's lowest severity is low)"
	case "":
		return "medium", "Medium", "the rule has no level; medium assumed"
	}
	return "medium", "Medium", fmt.Sprintf("the rule's level %q is not a Sigma level; medium assumed", level)
}
