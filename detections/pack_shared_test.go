package detections_test

// The pack over real public attack data (../shared/testdata, described in its
// SOURCES.md): every scenario it is meant to catch must fire on the files
// where the scenario happened, and every hit on benign background must be one
// the detection's comments explain.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/config"
	"github.com/patrolsec/patrol/poller/replay"
)

// sharedTestdata finds the shared test data: $PATROL_SHARED, or a "shared"
// folder beside the repository. It skips the test when there is none, since a
// clone of the project alone does not have it.
func sharedTestdata(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PATROL_SHARED")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared")
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

// labeled is one line of Panther's labelled rule tests.
type labeled struct {
	Rule     string          `json:"rule_id"`
	Name     string          `json:"test_name"`
	Expected bool            `json:"expected_result"`
	Log      json.RawMessage `json:"log"`
}

// panther splits a labelled JSONL file into one file per test case, as
// CloudTrail ({"Records":[...]}) or as JSON lines (resolver logs), and returns
// them keyed by "rule / test name", with the keys of the negative cases.
func panther(t *testing.T, src, dir string, records bool) (cases map[string]string, negatives []string) {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cases = map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for i := 0; sc.Scan(); i++ {
		var l labeled
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s:%d: %v", src, i+1, err)
		}
		key := l.Rule + " / " + l.Name
		body := append([]byte(nil), l.Log...)
		if records {
			body = []byte(`{"Records":[` + string(l.Log) + `]}`)
		}
		path := filepath.Join(dir, fmt.Sprintf("%03d.json", i))
		if err := os.WriteFile(path, body, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, dup := cases[key]; dup {
			key = fmt.Sprintf("%s (#%d)", key, i+1)
		}
		cases[key] = path
		if !l.Expected {
			negatives = append(negatives, key)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(negatives)
	return cases, negatives
}

// sharedLookups are the config's lookups, with threat-intel tables that also
// list the indicators of the shared scenarios (Panther's attacker address and
// its crypto-mining domains), so that the intel detections can be shown to
// fire on real records.
func sharedLookups(t *testing.T, cfg *config.Config) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, v := range cfg.Search.Lookups {
		out[k] = v
	}
	extra := map[string]string{
		"threat_ips":     "92.55.146.245,command-and-control,panther-compromised-root-scenario\n",
		"threat_domains": "moneropool.ru,cryptomining,panther-rule-tests\nwebservicepag.webhop.net,cryptomining,panther-rule-tests\n",
	}
	for name, rows := range extra {
		base, err := os.ReadFile(cfg.Search.Lookups[name])
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), name+".csv")
		if err := os.WriteFile(path, append(base, rows...), 0o644); err != nil {
			t.Fatal(err)
		}
		out[name] = path
	}
	return out
}

// count runs d over files and returns its alerts.
func count(t *testing.T, env replay.Env, cfg *config.Config, lookups map[string]string, d *detections.Detection, files ...string) []poller.Result {
	t.Helper()
	got, err := alerts(context.Background(), env, d, searcher(cfg, lookups, files...), files...)
	if err != nil {
		t.Fatalf("%s over %v: %v", d.ID, files, err)
	}
	return got
}

func byID(ds []*detections.Detection) map[string]*detections.Detection {
	m := map[string]*detections.Detection{}
	for _, d := range ds {
		m[d.ID] = d
	}
	return m
}

// summary renders an alert's summary line, for the logs.
func summary(d *detections.Detection, r poller.Result) string {
	return d.Ticket.Summary.Render(r.Lookup)
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// attacks lists, per file of real attack data, the alerts each scenario's
// detection must raise there (SOURCES.md says what each file holds). Other
// detections may fire on the same files; their hits are logged.
var attacks = []struct {
	file string
	want map[string]int
}{
	{"stratus_red_team/detonation-logs/aws.defense-evasion.cloudtrail-stop.json", map[string]int{"cloudtrail-logging-stopped": 1, "access-key-used-outside-org": 1}},
	{"stratus_red_team/detonation-logs/aws.defense-evasion.cloudtrail-delete.json", map[string]int{"cloudtrail-trail-deleted": 1}},
	{"stratus_red_team/detonation-logs/aws.defense-evasion.cloudtrail-event-selectors.json", map[string]int{"cloudtrail-trail-weakened": 1}},
	{"stratus_red_team/detonation-logs/aws.defense-evasion.vpc-remove-flow-logs.json", map[string]int{"security-tooling-disabled": 1}},
	{"stratus_red_team/detonation-logs/aws.defense-evasion.dns-delete-logs.json", map[string]int{"security-tooling-disabled": 1}},
	{"stratus_red_team/detonation-logs/aws.exfiltration.ec2-security-group-open-port-22-ingress.json", map[string]int{"ec2-security-group-open-to-world": 1}},
	{"stratus_red_team/detonation-logs/aws.exfiltration.ec2-share-ami.json", map[string]int{"ec2-snapshot-or-ami-shared-externally": 1}},
	{"stratus_red_team/detonation-logs/aws.exfiltration.ec2-share-ebs-snapshot.json", map[string]int{"ec2-snapshot-or-ami-shared-externally": 1}},
	{"stratus_red_team/detonation-logs/aws.exfiltration.rds-share-snapshot.json", map[string]int{"ec2-snapshot-or-ami-shared-externally": 1}},
	{"stratus_red_team/detonation-logs/aws.initial-access.console-login-without-mfa.json", map[string]int{"console-login-without-mfa": 1, "user-session-used-outside-org": 1}},
	{"stratus_red_team/detonation-logs/aws.persistence.sts-federation-token.json", map[string]int{"user-session-used-outside-org": 1, "access-key-used-outside-org": 1}},
	{"stratus_red_team/detonation-logs/aws.persistence.iam-backdoor-user.json", map[string]int{"iam-access-key-created-for-other-user": 1}},
	{"stratus_red_team/detonation-logs/aws.persistence.iam-create-admin-user.json", map[string]int{"iam-access-key-created-for-other-user": 1, "iam-admin-policy-granted": 1, "iam-user-created-outside-iac": 1}},
	{"stratus_red_team/detonation-logs/aws.persistence.iam-create-backdoor-role.json", map[string]int{"iam-admin-policy-granted": 1}},
	{"stratus_red_team/detonation-logs/aws.persistence.iam-create-user-login-profile.json", map[string]int{"iam-login-profile-for-other-user": 1}},
	{"stratus_red_team/detonation-logs/aws.privilege-escalation.iam-update-user-login-profile.json", map[string]int{"iam-login-profile-for-other-user": 1}},
	{"stratus_red_team/detonation-logs/aws.execution.ec2-launch-unusual-instances.json", map[string]int{"ec2-unusual-instance-launch": 1}},
	{"stratus_red_team/detonation-logs/aws.execution.ec2-user-data.json", map[string]int{"ec2-userdata-modified": 1}},
	{"stratus_red_team/detonation-logs/aws.credential-access.ec2-get-password-data.json", map[string]int{"ec2-password-data-burst": 1}},
	{"stratus_red_team/detonation-logs/aws.credential-access.ec2-steal-instance-credentials.json", map[string]int{"role-session-used-outside-org": 1}},
	{"otrf_security_datasets/ec2_proxy_s3_exfiltration_2020-09-14011940.json", map[string]int{"role-session-used-outside-org": 1, "user-session-used-outside-org": 1}},
	{"panther/test_scenarios/compromised-root-creds/attacker_cloudtrail.ndjson", map[string]int{"root-used-outside-org": 1, "root-account-used": 0, "console-login-failures": 1,
		"iam-access-key-created-for-other-user": 1, "iam-user-created-outside-iac": 1, "iam-admin-policy-granted": 1, "ec2-unusual-instance-launch": 1}},
	{"panther/test_scenarios/compromised-root-creds/attacker_vpc.log", map[string]int{"vpcflow-admin-port-from-internet": 1, "vpcflow-threat-ip": 1}},
	{"security_content/data_source_example_logs.cloudtrail.ndjson", map[string]int{"root-used-outside-org": 2, "root-account-used": 1, "cloudtrail-logging-stopped": 1, "cloudtrail-trail-deleted": 1,
		"s3-bucket-made-public": 1, "ec2-snapshot-or-ami-shared-externally": 2, "iam-access-key-created-for-other-user": 1, "iam-login-profile-for-other-user": 1}},
	{"elastic_integrations/cloudtrail/test-update-trail-json.log", map[string]int{"cloudtrail-trail-weakened": 1}},
	{"elastic_integrations/cloudtrail/test-delete-detector-json.log", map[string]int{"security-tooling-disabled": 1}},
	{"elastic_integrations/cloudtrail/test-delete-flow-log-json.log", map[string]int{"security-tooling-disabled": 1}},
	{"elastic_integrations/cloudtrail/test-delete-resolver-query-log-config-json.log", map[string]int{"security-tooling-disabled": 1}},
	{"elastic_integrations/cloudtrail/test-console-login-json.log", map[string]int{"console-login-without-mfa": 1}},
	// SSH from 78.24.182.42, and IPv6 traffic inside the VPC's own range
	// (explained in the detection: list IPv6 VPC ranges in org_cidrs).
	{"elastic_integrations/vpcflow/test-extra-samples.log", map[string]int{"vpcflow-admin-port-from-internet": 2}},
}

// pantherPositives are Panther's positive test cases for the scenarios the
// pack covers, with the detection that must fire on each.
var pantherPositives = map[string]string{
	"AWS.CloudTrail.Stopped / CloudTrail Was Stopped":                                    "cloudtrail-logging-stopped",
	"AWS.CloudTrail.SecurityConfigurationChange / Security Configuration Changed":        "cloudtrail-trail-deleted",
	"AWS.CloudTrail.EventSelectorsDisabled / Event Selector Disabled":                    "cloudtrail-trail-weakened",
	"AWS.CloudTrail.VPCE.SensitiveAPICalls / CloudTrail API Call Via VPC Endpoint":       "cloudtrail-trail-weakened",
	"AWS.CloudTrail.IMDSCredentialExfiltration / IMDS Credentials Used From Public IP":   "role-session-used-outside-org",
	"AWS.CloudTrail.ResourceMadePublic / S3 Made Publicly Accessible":                    "s3-bucket-made-public",
	"AWS.S3.DeletePublicAccessBlock / Public Access Block Deleted Successfully":          "s3-bucket-made-public",
	"AWS.EC2.ManualSecurityGroupChange / Go Script Authorize Ingress":                    "ec2-security-group-open-to-world",
	"AWS.IAM.Backdoor.User.Keys / user1 create keys for user2":                           "iam-access-key-created-for-other-user",
	"AWS.User.Login.Profile.Modified / User changed password for other":                  "iam-login-profile-for-other-user",
	"AWS.IAM.AttachAdminUserPolicy / IAM User Policy Attached with Administrator Access": "iam-admin-policy-granted",
	"AWS.IAM.AttachAdminRolePolicy / IAM Role Policy Attached with Administrator Access": "iam-admin-policy-granted",
	"AWS.IAM.CreateUser / IAM User Created":                                              "iam-user-created-outside-iac",
	"AWS.Console.LoginWithoutMFA / No MFA Login - IAM User":                              "console-login-without-mfa",
	"AWS.Console.RootLogin / Successful Root Login":                                      "root-used-outside-org",
	"AWS.Console.RootLoginFailed / Failed Root Login":                                    "console-login-failures",
	"AWS.ConfigService.DisabledDeleted / Config Recorder Deleted":                        "security-tooling-disabled",
	"AWS.VPCFlow.LogsDeleted / Logs Deleted":                                             "security-tooling-disabled",
	"AWS.CloudTrail.DNSLogsDeleted / Logs Deleted":                                       "security-tooling-disabled",
	"AWS.EC2.LaunchUnusualEC2Instances / Successful Unusual EC2":                         "ec2-unusual-instance-launch",
	"AWS.EC2.LaunchUnusualEC2Instances / Failed Unusual EC2":                             "ec2-unusual-instance-launch",
	"AWS.EC2.Startup.Script.Change / ModifyInstanceAttributeUserdata":                    "ec2-userdata-modified",
	"AWS.CloudTrail.AMIModifiedForPublicAccess / AMI Made Public":                        "ec2-snapshot-or-ami-shared-externally",
	"AWS.CloudTrail.AMIModifiedForPublicAccess / Access Granted To Unknown User":         "ec2-snapshot-or-ami-shared-externally",
	"AWS.CloudTrail.SnapshotMadePublic / Snapshot Made Publicly Accessible":              "ec2-snapshot-or-ami-shared-externally",
	"AWS.RDS.SnapshotShared / Snapshot shared with another account":                      "ec2-snapshot-or-ami-shared-externally",
	"AWS.DNS.Crypto.Domain / Crypto Query Subdomain Trailing Period":                     "dns-threat-domain",
	"AWS.DNS.Crypto.Domain / Checking Against Subdomain IOC":                             "dns-threat-domain",
}

// benignExplained lists, per detection, the benign background it fires on;
// each entry is explained in a comment of the detection's file. Background is
// Panther's negative test cases (named "rule / test"), the legitimate team's
// root sign-ins in Panther's scenario, and the ordinary resolver queries and
// flow records in Elastic's samples.
var benignExplained = map[string][]string{
	"console-login-without-mfa":             {"AWS.Console.LoginWithoutMFA / No MFA Login - New User"},
	"ec2-unusual-instance-launch":           {"AWS.EC2.Monitoring / RunInstance", "AWS.EC2.Vulnerable.XZ.Image.Launched / Non-vulnerable AMI Launched"},
	"iam-access-key-created-for-other-user": {"AWS.CloudTrail.RootAccessKeyCreated / Root Created Access Key For User"},
	"iam-admin-policy-granted":              {"AWS.IAM.CreateRole / IAM Role Not Created", "AWS.IAM.CreateUser / IAM User Not Created"},
	"iam-login-profile-for-other-user":      {"AWS.User.Login.Profile.Modified / User changed password for other reset required"},
	"root-account-used":                     {"AWS.Root.Activity / Root User Failed Activity"},
	"cloudtrail-logging-started":            {"AWS.CloudTrail.Stopped / CloudTrail Was Started"},
	"security-tooling-disabled":             {"AWS.ConfigService.Created / Config Recorder Deleted"},
}

// outsideOrg are the detections whose premise is an address outside
// enrich.org_cidrs: Panther's fixtures call from addresses that are not in
// the example's org_cidrs, so any number of its negatives may fire (each
// file's comments say so); the table shows how many.
var outsideOrg = map[string]bool{"access-key-used-outside-org": true, "role-session-used-outside-org": true,
	"user-session-used-outside-org": true, "root-used-outside-org": true}

// benignFiles are real records of ordinary activity.
var benignFiles = []string{
	"panther/test_scenarios/compromised-root-creds/victim_cloudtrail.ndjson",
	"elastic_integrations/route53_resolver/test-route53.log",
	"elastic_integrations/vpcflow/test-tcp-flag-sequence.log",
	"elastic_integrations/vpcflow/test-v5-all-fields.log",
	"elastic_integrations/cloudtrail/test-authorize-security-group-ingress-json.log",
}

func TestPackSharedData(t *testing.T) {
	td := sharedTestdata(t)
	cfg, ds := loadPack(t)
	lookups := sharedLookups(t, cfg)
	dets := byID(ds)
	env := replayEnv(cfg, ds, lookups)
	ct, ctNeg := panther(t, filepath.Join(td, "panther", "cloudtrail_rule_tests.labeled.jsonl"), t.TempDir(), true)
	dns, dnsNeg := panther(t, filepath.Join(td, "panther", "route53_resolver_rule_tests.labeled.jsonl"), t.TempDir(), false)
	cases := map[string]string{}
	for k, v := range ct {
		cases[k] = v
	}
	for k, v := range dns {
		cases[k] = v
	}

	t.Run("attacks", func(t *testing.T) {
		for _, a := range attacks {
			for _, d := range ds {
				got := count(t, env, cfg, lookups, d, filepath.Join(td, a.file))
				want, asserted := a.want[d.ID]
				if asserted && len(got) != want {
					t.Errorf("%s on %s: %d alert(s), want %d", d.ID, a.file, len(got), want)
				}
				for _, r := range got {
					t.Logf("%-40s %-38s %s", filepath.Base(a.file), d.ID, summary(d, r))
				}
			}
		}
		for _, key := range keys(pantherPositives) {
			d, path := dets[pantherPositives[key]], cases[key]
			if d == nil || path == "" {
				t.Errorf("%s: no detection %q or no such Panther case", key, pantherPositives[key])
				continue
			}
			if got := count(t, env, cfg, lookups, d, path); len(got) == 0 {
				t.Errorf("%s does not fire on Panther's %q", d.ID, key)
			}
		}
	})

	t.Run("benign", func(t *testing.T) {
		hits := map[string][]string{} // detection -> background it fired on
		for _, d := range ds {
			for _, key := range append(append([]string(nil), ctNeg...), dnsNeg...) {
				if d.Sequence != nil || d.FirstSeen != nil {
					// One record cannot make two steps' alerts, nor end a
					// learning span that starts at it: nothing to replay.
					break
				}
				if len(count(t, env, cfg, lookups, d, cases[key])) > 0 {
					hits[d.ID] = append(hits[d.ID], key)
				}
			}
			for _, f := range benignFiles {
				if n := len(count(t, env, cfg, lookups, d, filepath.Join(td, f))); n > 0 {
					hits[d.ID] = append(hits[d.ID], f)
				}
			}
		}
		t.Logf("benign background: %d Panther negative cases (%d CloudTrail, %d resolver) and %d files of ordinary activity",
			len(ctNeg)+len(dnsNeg), len(ctNeg), len(dnsNeg), len(benignFiles))
		t.Logf("%-40s %5s  %s", "DETECTION", "HITS", "EXPLANATION (a # comment in the detection's file)")
		for _, d := range ds {
			got := hits[d.ID]
			sort.Strings(got)
			switch {
			case len(got) == 0:
				t.Logf("%-40s %5d  quiet", d.ID, 0)
			case outsideOrg[d.ID]:
				t.Logf("%-40s %5d  fixtures call from addresses outside the example org_cidrs", d.ID, len(got))
			default:
				want := append([]string(nil), benignExplained[d.ID]...)
				sort.Strings(want)
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("%s fires on benign background %q, explained are %q: fix the detection, or explain the hit in its comments and here", d.ID, got, want)
				}
				t.Logf("%-40s %5d  %s", d.ID, len(got), strings.Join(got, "; "))
			}
		}
		for id := range benignExplained {
			if dets[id] == nil {
				t.Errorf("benignExplained names unknown detection %q", id)
			}
		}
	})
}
