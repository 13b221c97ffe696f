package local

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
)

// The conformance test runs Splunk's own security_content AWS CloudTrail
// detections, unmodified, over real public CloudTrail data (see
// shared/testdata/SOURCES.md) and compares the hits with the expected
// detections listed there. The data lives beside the repository, not in it;
// the test skips when it is absent.

// sharedDir finds shared/testdata beside the repository root, or where
// PATROL_SHARED points (a checkout elsewhere, such as a git worktree).
func sharedDir(t *testing.T) string {
	t.Helper()
	root := filepath.Join("..", "..", "..", "shared")
	if env := os.Getenv("PATROL_SHARED"); env != "" {
		root = env
	}
	dir, err := filepath.Abs(filepath.Join(root, "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "SOURCES.md")); err != nil {
		t.Skipf("shared test data not found at %s (it sits beside the repository): %v", dir, err)
	}
	return dir
}

type scDetection struct {
	File   string `json:"file"`
	Name   string `json:"name"`
	Search string `json:"search"`
}

// dataModelRE finds the detections that need Splunk's data models
// (| tstats ... from datamodel=...), which are outside the local subset.
var dataModelRE = regexp.MustCompile(`(^|\|)\s*tstats\b|datamodel`)

func loadDetections(t *testing.T, dir string) []scDetection {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "security_content", "cloudtrail_detections_index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var all []scDetection
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatal(err)
	}
	// the index carries the search of every detection; the yml files of
	// the detections/ folder must agree with it
	ymls, _ := filepath.Glob(filepath.Join(dir, "security_content", "detections", "*.yml"))
	byFile := map[string]string{}
	for _, d := range all {
		byFile[d.File] = d.Search
	}
	for _, y := range ymls {
		s := ymlSearch(t, y)
		if want, ok := byFile[filepath.Base(y)]; !ok || strings.Join(strings.Fields(want), " ") != strings.Join(strings.Fields(s), " ") {
			t.Fatalf("%s: search differs from the index:\n%s\n%s", y, s, want)
		}
	}
	var out []scDetection
	for _, d := range all {
		if !dataModelRE.MatchString(d.Search) {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out
}

// ymlSearch reads the single-quoted, folded search: of a detection file.
func ymlSearch(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "search: '") {
			continue
		}
		text := strings.TrimPrefix(l, "search: '")
		for j := i + 1; !closesQuote(text) && j < len(lines); j++ {
			text += " " + strings.TrimSpace(lines[j])
		}
		text = strings.TrimSuffix(text, "'")
		return strings.ReplaceAll(text, "''", "'")
	}
	t.Fatalf("%s: no search", path)
	return ""
}

func closesQuote(s string) bool {
	s = strings.TrimRight(s, " ")
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\''; i-- {
		n++
	}
	return n%2 == 1
}

// loadMacros reads security_content's macro definitions.
func loadMacros(t *testing.T, dir string) *detections.Macros {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "security_content", "macros", "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no macros: %v", err)
	}
	defs := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var name, def string
		var args []string
		for _, l := range strings.Split(string(b), "\n") {
			switch {
			case strings.HasPrefix(l, "name:"):
				name = ymlScalar(strings.TrimPrefix(l, "name:"))
			case strings.HasPrefix(l, "definition:"):
				def = ymlScalar(strings.TrimPrefix(l, "definition:"))
			case strings.HasPrefix(l, "  - "):
				args = append(args, strings.TrimSpace(strings.TrimPrefix(l, "  - ")))
			}
		}
		if len(args) > 0 {
			name += "(" + strings.Join(args, ",") + ")"
		}
		defs[name] = def
	}
	m, err := detections.NewMacros(defs, detections.MacroOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func ymlScalar(s string) string {
	s = strings.TrimSpace(s)
	switch {
	case len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'':
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'")
	case len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"':
		if u, err := strconv.Unquote(s); err == nil {
			return u
		}
	}
	return s
}

// dataset is a set of real events and the detections SOURCES.md expects
// on it (security_content names, without the sc: prefix).
type dataset struct {
	name, path string
	rows       []string // Appendix A rows (file paths) whose expectations apply
	expected   map[string]int
	groups     map[string]bool // expectation counts result rows, not events
}

var expectRE = regexp.MustCompile(`sc:([a-z0-9_]+)( \(aggregate groups\))?\s*×(\d+)`)

// emulated lists the detections SOURCES.md's estimate covers: only for
// those does "no expectation" mean "expect no hits".
func emulated(t *testing.T, dir string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "SOURCES.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range expectRE.FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = true
	}
	return out
}

func loadExpected(t *testing.T, dir string, ds []*dataset) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "SOURCES.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	inAppendix := false
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "## Appendix A") {
			inAppendix = true
		}
		if !inAppendix || !strings.HasPrefix(l, "| `") {
			continue
		}
		cols := strings.Split(l, "|")
		if len(cols) < 6 {
			continue
		}
		file := strings.Trim(strings.TrimSpace(cols[1]), "`")
		for _, d := range ds {
			for _, r := range d.rows {
				if file == r || strings.HasSuffix(r, "/") && strings.HasPrefix(file, r) {
					for _, m := range expectRE.FindAllStringSubmatch(cols[5], -1) {
						n, _ := strconv.Atoi(m[3])
						d.expected[m[1]] += n
						d.groups[m[1]] = m[2] != ""
					}
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// hits counts a detection's findings: the events its stats counted when
// it reports a count, else its result rows.
func hits(rs []poller.Result) int {
	n := 0
	for _, r := range rs {
		if c, err := strconv.Atoi(r.Get("count")); err == nil {
			n += c
		} else {
			n++
		}
	}
	return n
}

func TestConformanceSecurityContent(t *testing.T) {
	dir := sharedDir(t)
	dets := loadDetections(t, dir)
	macros := loadMacros(t, dir)
	ds := []*dataset{
		{name: "stratus", path: "stratus_red_team/detonation-logs", rows: []string{"stratus_red_team/stratus_all_records.ndjson"}},
		{name: "panther", path: "panther/cloudtrail_rule_tests.events.ndjson", rows: []string{"panther/cloudtrail_rule_tests.events.ndjson"}},
		{name: "attacker", path: "panther/test_scenarios/compromised-root-creds/attacker_cloudtrail.ndjson", rows: []string{"panther/test_scenarios/compromised-root-creds/attacker_cloudtrail.ndjson"}},
		{name: "victim", path: "panther/test_scenarios/compromised-root-creds/victim_cloudtrail.ndjson", rows: []string{"panther/test_scenarios/compromised-root-creds/victim_cloudtrail.ndjson"}},
		{name: "otrf", path: "otrf_security_datasets/ec2_proxy_s3_exfiltration_2020-09-14011940.json", rows: []string{"otrf_security_datasets/ec2_proxy_s3_exfiltration_2020-09-14011940.json"}},
		{name: "sc_examples", path: "security_content/data_source_example_logs.cloudtrail.ndjson", rows: []string{"security_content/data_source_example_logs.cloudtrail.ndjson"}},
		{name: "elastic", path: "elastic_integrations/cloudtrail", rows: []string{"elastic_integrations/cloudtrail/"}},
	}
	for _, d := range ds {
		d.expected, d.groups = map[string]int{}, map[string]bool{}
	}
	covered := emulated(t, dir)
	loadExpected(t, dir, ds)

	if len(dets) != 54 {
		t.Errorf("found %d detections without data models, want 54", len(dets))
	}
	var table strings.Builder
	fmt.Fprintf(&table, "%-62s %-6s", "detection (security_content)", "runs")
	for _, d := range ds {
		fmt.Fprintf(&table, " %11s", d.name)
	}
	table.WriteString("\n")
	ran := 0
	var mismatches []string
	for _, det := range dets {
		id := strings.TrimSuffix(det.File, ".yml")
		spl, err := macros.Expand(det.Search)
		if err == nil {
			_, err = parseOnly(spl)
		}
		row := fmt.Sprintf("%-62s", id)
		if err != nil {
			fmt.Fprintf(&table, "%s %-6s %s\n", row, "no", err)
			continue
		}
		cells := ""
		failed := false
		for _, d := range ds {
			s := NewSearcher(Options{Paths: []string{d.path}, BaseDir: dir, Host: "test"})
			var rs []poller.Result
			err := s.Search(context.Background(), poller.Query{SPL: spl}, func(r poller.Result) error {
				rs = append(rs, r)
				return nil
			})
			if err != nil {
				cells += fmt.Sprintf(" %11s", "ERROR")
				t.Errorf("%s on %s: %v", id, d.name, err)
				failed = true
				continue
			}
			got, want := hits(rs), d.expected[id]
			if d.groups[id] {
				got = len(rs)
			}
			cell := strconv.Itoa(got)
			switch key := id + " on " + d.name; {
			case !covered[id]:
				if got > 0 {
					cell += "/-"
				}
			case got == want:
				if got > 0 {
					cell = fmt.Sprintf("%d/%d", got, want)
				}
			default:
				cell = fmt.Sprintf("%d/%d*", got, want)
				why, known := knownDifferences[key]
				switch {
				case !known:
					t.Errorf("%s: %d hits, SOURCES.md expects %d", key, got, want)
				case why.got != got:
					t.Errorf("%s: %d hits, want %d (%s)", key, got, why.got, why.reason)
				default:
					mismatches = append(mismatches, fmt.Sprintf("%s: %d, estimate %d: %s", key, got, want, why.reason))
				}
			}
			cells += fmt.Sprintf(" %11s", cell)
		}
		if !failed {
			ran++
		}
		fmt.Fprintf(&table, "%s %-6s%s\n", row, map[bool]string{true: "ERROR", false: "yes"}[failed], cells)
	}
	t.Logf("security_content CloudTrail detections over real events\n(hits/expected by SOURCES.md; n/- = hits where SOURCES.md has no estimate; * = differs, explained below):\n%s", table.String())
	t.Logf("%d of %d detections without data models parse and run", ran, len(dets))
	for _, m := range mismatches {
		t.Logf("explained: %s", m)
	}
	for _, d := range ds {
		for id := range d.expected {
			found := false
			for _, det := range dets {
				found = found || strings.TrimSuffix(det.File, ".yml") == id
			}
			if !found {
				t.Errorf("SOURCES.md expects %s on %s, which is not among the detections", id, d.name)
			}
		}
	}
	if ran < 48 {
		t.Errorf("only %d of %d detections run, want at least 48", ran, len(dets))
	}
}

// parseOnly is the check `patrol validate` makes: syntax and support.
func parseOnly(spl string) (any, error) { return nil, validateSPL(spl) }

// knownDifferences are the places where the engine's answer differs from
// SOURCES.md's estimate, which emulates only each detection's filter. In
// each case the engine does what Splunk does with the whole search.
var knownDifferences = map[string]struct {
	got    int
	reason string
}{
	"aws_console_login_failed_during_mfa_challenge on panther":                   {0, "the event has no userIdentity.arn, a stats by-field, so stats drops it"},
	"aws_successful_single_factor_authentication on panther":                     {10, "one of the 11 sign-ins has no userIdentity.arn, a stats by-field"},
	"aws_successful_single_factor_authentication on sc_examples":                 {0, "the sign-in has no userIdentity.arn, a stats by-field"},
	"aws_updateloginprofile on panther":                                          {0, "the callers are assumed roles without userIdentity.userName, a stats by-field"},
	"aws_createaccesskey on panther":                                             {4, "match(userIdentity.userName, ...) on a missing userName is false, so the event counts as another user's key (match=0)"},
	"aws_network_access_control_list_created_with_all_open_ports on sc_examples": {0, "portRange is {} in both events and no result has portRange.from/to, so fillnull does not create them and stats drops the events"},
	"detect_new_open_s3_buckets_over_aws_cli on sc_examples":                     {0, "only x-amz-grant-write-acp exists; the other grant by-fields are in no result, so fillnull does not create them"},
	"aws_successful_console_authentication_from_multiple_ips on panther":         {0, "no user_arn signs in from two addresses within one 5-minute bin"},
}

// TestConformancePantherLabels runs security_content detections over the
// events Panther labels as positive for its rule of the same intent: the
// detection must fire on them. (Panther's negatives are not checked: the
// two rule sets draw the line in different places.)
func TestConformancePantherLabels(t *testing.T) {
	dir := sharedDir(t)
	macros := loadMacros(t, dir)
	byFile := map[string]string{}
	for _, d := range loadDetections(t, dir) {
		byFile[strings.TrimSuffix(d.File, ".yml")] = d.Search
	}
	f, err := os.Open(filepath.Join(dir, "panther", "cloudtrail_rule_tests.labeled.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	positives := map[string][]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var c struct {
			Rule     string          `json:"rule_id"`
			Expected bool            `json:"expected_result"`
			Log      json.RawMessage `json:"log"`
		}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		if c.Expected {
			positives[c.Rule] = append(positives[c.Rule], string(c.Log))
		}
	}
	tests := []struct {
		panther, detection string
		want               int // hits on Panther's positives
		why                string
	}{
		{"AWS.S3.SuspendVersioning", "aws_disable_bucket_versioning", 1, "the other positive sets Status=Disabled; the detection looks for Suspended"},
		{"AWS.CloudTrail.AMIModifiedForPublicAccess", "aws_ami_attribute_modification_for_exfiltration", 2, ""},
		{"AWS.Console.LoginWithoutMFA", "aws_successful_single_factor_authentication", 3, ""},
		{"AWS.IAM.Backdoor.User.Keys", "aws_createaccesskey", 3, ""},
		{"AWS.Lambda.UpdateFunctionCode", "aws_lambda_updatefunctioncode", 1, "the detection requires user_type=IAMUser; the others are an assumed role and a federated user"},
		{"AWS.CloudTrail.NetworkACLPermissiveEntry", "aws_network_access_control_list_created_with_all_open_ports", 0, "the entry opens ports 700-702; the detection wants all protocols or a range over 1024"},
	}
	tmp := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.panther, func(t *testing.T) {
			logs := positives[tc.panther]
			if len(logs) == 0 {
				t.Fatalf("no positive test cases for %s", tc.panther)
			}
			p := filepath.Join(tmp, tc.panther+".ndjson")
			if err := os.WriteFile(p, []byte(strings.Join(logs, "\n")+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			spl, err := macros.Expand(byFile[tc.detection])
			if err != nil {
				t.Fatal(err)
			}
			s := NewSearcher(Options{Paths: []string{p}, Host: "test"})
			var rs []poller.Result
			if err := s.Search(context.Background(), poller.Query{SPL: spl}, func(r poller.Result) error {
				rs = append(rs, r)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d positive events, %s hits %d", tc.panther, len(logs), tc.detection, hits(rs))
			if got := hits(rs); got != tc.want {
				t.Errorf("%s on %s's positives: %d hits, want %d (%s)", tc.detection, tc.panther, got, tc.want, tc.why)
			}
		})
	}
}
