package sigma_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/detections/sigma"
	"github.com/patrolsec/patrol/detections/spl"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/local"
)

// sharedTestdata finds ../shared/testdata (or $PATROL_SHARED/testdata) and
// skips the test when a clone of the project alone does not have it.
func sharedTestdata(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PATROL_SHARED")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared")
	}
	td, err := filepath.Abs(filepath.Join(dir, "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(td, "SOURCES.md")); err != nil {
		t.Skipf("no shared test data at %s (set PATROL_SHARED to the folder holding testdata/): %v", dir, err)
	}
	return td
}

// sharedCloudTrail are the shared files of real CloudTrail records
// (SOURCES.md): Stratus Red Team detonations, Panther's rule-test events
// and compromised-root scenario, OTRF's lab, Splunk's example logs and
// Elastic's samples.
var sharedCloudTrail = []string{
	"stratus_red_team/stratus_all_records.ndjson",
	"panther/cloudtrail_rule_tests.events.ndjson",
	"panther/test_scenarios/compromised-root-creds/attacker_cloudtrail.ndjson",
	"panther/test_scenarios/compromised-root-creds/victim_cloudtrail.ndjson",
	"otrf_security_datasets/ec2_proxy_s3_exfiltration_2020-09-14011940.json",
	"security_content/data_source_example_logs.cloudtrail.ndjson",
	"elastic_integrations/cloudtrail/test-authorize-security-group-ingress-json.log",
	"elastic_integrations/cloudtrail/test-console-login-json.log",
	"elastic_integrations/cloudtrail/test-delete-detector-json.log",
	"elastic_integrations/cloudtrail/test-delete-flow-log-json.log",
	"elastic_integrations/cloudtrail/test-delete-resolver-query-log-config-json.log",
	"elastic_integrations/cloudtrail/test-update-trail-json.log",
}

// records reads a file of CloudTrail records: {"Records":[...]}, a JSON
// array, or one record per line.
func records(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	decode := func(data []byte, v any) {
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		if err := d.Decode(v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	trimmed := bytes.TrimSpace(b)
	if bytes.HasPrefix(trimmed, []byte("[")) {
		var out []map[string]any
		decode(trimmed, &out)
		return out
	}
	if bytes.HasPrefix(trimmed, []byte(`{"Records"`)) {
		var wrap struct{ Records []map[string]any }
		decode(trimmed, &wrap)
		return wrap.Records
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			var rec map[string]any
			decode(line, &rec)
			out = append(out, rec)
		}
	}
	return out
}

// key names an event in both worlds: the converted search's table and the
// raw record.
func key(id, name, ip string) string { return id + " " + name + " " + ip }

func recordKey(rec map[string]any) string {
	s := func(k string) string { v, _ := rec[k].(string); return v }
	return key(s("eventID"), s("eventName"), s("sourceIPAddress"))
}

// validate checks a written detection as `patrol validate` does, with the
// shipped cloudtrail macro.
func validate(t *testing.T) func(string) error {
	m, err := detections.NewMacros(map[string]string{"cloudtrail": "sourcetype=aws:cloudtrail"}, detections.MacroOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return func(path string) error {
		_, err := detections.LoadFile(path, detections.LoadOptions{Macros: m, CheckSPL: spl.Validate})
		return err
	}
}

// TestConvertedRulesMatchSigma converts the shared SigmaHQ CloudTrail rules
// (and this package's rules for the modifiers they lack), runs each
// generated search with the local engine over the shared CloudTrail data
// (and this package's events), and requires exactly the events that the
// independent evaluation of the Sigma rule (eval_test.go) selects.
func TestConvertedRulesMatchSigma(t *testing.T) {
	td := sharedTestdata(t)
	shared, _ := filepath.Glob(filepath.Join(td, "sigma", "rules*", "*.yml"))
	own, _ := filepath.Glob(filepath.Join("testdata", "rules", "*.yml"))
	var data []string
	for _, f := range sharedCloudTrail {
		data = append(data, filepath.Join(td, f))
	}
	data = append(data, filepath.Join("testdata", "events.ndjson"))
	recs := map[string][]map[string]any{}
	total := 0
	for _, f := range data {
		recs[f] = records(t, f)
		total += len(recs[f])
	}

	im := &sigma.Importer{Dir: t.TempDir(), Validate: validate(t)}
	converted, cloudtrail := 0, 0
	for _, rule := range append(shared, own...) {
		o := im.Import(rule)
		isShared := !strings.HasPrefix(rule, "testdata")
		if isShared && (o.Out != "" || o.Failed) {
			cloudtrail++
		}
		if o.Out == "" {
			t.Logf("%s", o.Line())
			if !isShared {
				t.Errorf("%s", o.Line())
			}
			continue
		}
		if isShared {
			converted++
		}
		t.Run(filepath.Base(rule), func(t *testing.T) {
			if n := compare(t, rule, o.Out, data, recs); n == 0 && isShared {
				compareMade(t, rule, o.Out)
			}
		})
	}
	pct := 100 * float64(converted) / float64(cloudtrail)
	t.Logf("converted %d of %d shared CloudTrail rules (%.1f%%); compared over %d records in %d files", converted, cloudtrail, pct, total, len(data))
	if cloudtrail == 0 || pct < 90 {
		t.Errorf("converted %d of %d CloudTrail rules (%.1f%%), want at least 90%%", converted, cloudtrail, pct)
	}
}

// compareMade is compare over records made from the rule's own selection
// values (synth_test.go), for a shared rule that selects no event of the
// shared data: the search must select the positives and none of the near
// misses, as the evaluator does. A rule for which no positive can be made
// fails: it would be shown to select nothing at all.
func compareMade(t *testing.T, rule, out string) {
	ev, err := loadEvalRule(rule)
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSuffix(filepath.Base(rule), ".yml")
	pos, near, err := synthesize(ev, "synth-"+id)
	if err != nil {
		t.Fatal(err)
	}
	if len(pos) == 0 || len(near) == 0 {
		t.Fatalf("%s selects no event of the shared data, and %d matching and %d near-miss record(s) could be made from its selections", id, len(pos), len(near))
	}
	file := filepath.Join(t.TempDir(), "made.ndjson")
	var b bytes.Buffer
	for _, r := range append(pos, near...) {
		line, _ := json.Marshal(r)
		b.Write(append(line, '\n'))
	}
	if err := os.WriteFile(file, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	recs := map[string][]map[string]any{file: records(t, file)}
	if n := compare(t, rule, out, []string{file}, recs); n != len(pos) {
		t.Errorf("the evaluator selects %d of the %d record(s) made to match", n, len(pos))
	}
	t.Logf("%s: none in the shared data; of %d record(s) made from its selections, the search and Sigma select the %d made to match, and none of the %d near misses", id, len(pos)+len(near), len(pos), len(near))
}

// compare runs the converted search over data and requires the events the
// evaluator selects, as a multiset; it returns how many that is.
func compare(t *testing.T, rule, out string, data []string, recs map[string][]map[string]any) int {
	d, err := detections.LoadFile(out, detections.LoadOptions{Macros: mustMacros(t)})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := loadEvalRule(rule)
	if err != nil {
		t.Fatal(err)
	}
	// one search over every file, compared with the rule's selection from
	// every file, as multisets of events
	var want, got []string
	for _, f := range data {
		for _, rec := range recs[f] {
			ok, err := ev.matches(rec)
			if err != nil {
				t.Fatalf("evaluating %s: %v", rule, err)
			}
			if ok {
				want = append(want, recordKey(rec))
			}
		}
	}
	s := local.NewSearcher(local.Options{Paths: data, Host: "patrol-test"})
	err = s.Search(context.Background(), poller.Query{Detection: d.ID, SPL: d.Expanded, TimeMode: poller.EventTime}, func(r poller.Result) error {
		got = append(got, key(r.Get("eventID"), r.Get("eventName"), r.Get("sourceIPAddress")))
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", d.ID, err)
	}
	if extra, missing := diff(got, want); len(extra)+len(missing) > 0 {
		t.Errorf("%s: the search returns %d event(s), Sigma selects %d\nonly the search: %q\nonly Sigma: %q\nsearch:\n%s",
			d.ID, len(got), len(want), first(extra, 5), first(missing, 5), d.Search)
	}
	t.Logf("%-60s %4d event(s)", d.ID, len(want))
	return len(want)
}

func mustMacros(t *testing.T) *detections.Macros {
	t.Helper()
	m, err := detections.NewMacros(map[string]string{"cloudtrail": "sourcetype=aws:cloudtrail"}, detections.MacroOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// diff returns what only got and only want hold, as multisets.
func diff(got, want []string) (extra, missing []string) {
	n := map[string]int{}
	for _, k := range want {
		n[k]++
	}
	for _, k := range got {
		if n[k] > 0 {
			n[k]--
		} else {
			extra = append(extra, k)
		}
	}
	for k, c := range n {
		for ; c > 0; c-- {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	return extra, missing
}

func first(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("... %d more", len(s)-n))
	}
	return s
}
