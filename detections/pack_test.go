package detections_test

// The shipped pack, tested the way patrol runs it: the repository's own
// config.toml (macros, lookups, org_cidrs), the local engine, and production
// fingerprinting.

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/detections/spl"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/config"
	"github.com/patrolsec/patrol/poller/local"
	"github.com/patrolsec/patrol/poller/replay"
)

// loadPack loads ../config.toml and every detection it points at, as
// `patrol validate` does; any problem fails the test.
func loadPack(t *testing.T) (*config.Config, []*detections.Detection) {
	t.Helper()
	cfg, err := config.Load(filepath.Join("..", "config.toml"))
	if err != nil {
		t.Fatalf("config.toml: %v", err)
	}
	ds, err := detections.Load(cfg.Detections.Dir, detections.LoadOptions{Macros: cfg.Macros(), CheckSPL: func(q string) error {
		parsed, err := spl.Parse(q)
		if err != nil {
			return err
		}
		for _, name := range parsed.Lookups() {
			if _, ok := cfg.Search.Lookups[name]; !ok {
				return fmt.Errorf("lookup %q is not in [search.lookups]", name)
			}
		}
		return nil
	}})
	if err != nil {
		t.Fatalf("detections: %v", err)
	}
	if len(ds) == 0 {
		t.Fatal("no detections loaded")
	}
	return cfg, ds
}

// searcher searches files (absolute, or relative to the config's folder)
// with the given lookup tables.
func searcher(cfg *config.Config, lookups map[string]string, files ...string) poller.Searcher {
	return local.NewSearcher(local.Options{Paths: files, BaseDir: cfg.Dir, Lookups: lookups, Index: cfg.Search.Local.Index, Host: "patrol-test"})
}

// alerts runs d over s and returns the first result of every distinct
// fingerprint, in order: what production would open tickets for. A sequence
// or first-seen detection needs state: it is replayed over the files instead.
func alerts(ctx context.Context, env replay.Env, d *detections.Detection, s poller.Searcher, files ...string) ([]poller.Result, error) {
	if d.Sequence != nil || d.FirstSeen != nil {
		got, _, err := replay.Alerts(ctx, env, d, detections.TestCase{Name: "files", Events: files})
		return got, err
	}
	seen := map[string]bool{}
	var out []poller.Result
	err := s.Search(ctx, poller.Query{Detection: d.ID, SPL: d.Expanded, TimeMode: poller.EventTime}, func(r poller.Result) error {
		if fp := poller.Fingerprint(d.ID, d.GroupBy, r); !seen[fp] {
			seen[fp] = true
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// replayEnv replays test cases with the config's lookups, as `patrol test`
// does.
func replayEnv(cfg *config.Config, ds []*detections.Detection, lookups map[string]string) replay.Env {
	dets := byID(ds)
	return replay.Env{
		Detection: func(id string) *detections.Detection { return dets[id] },
		Searcher: func(path string) (poller.Searcher, error) {
			return searcher(cfg, lookups, path), nil
		},
	}
}

// TestPackCases runs every shipped detection's [[test]] cases, as
// `patrol test` does.
func TestPackCases(t *testing.T) {
	cfg, ds := loadPack(t)
	env := replayEnv(cfg, ds, cfg.Search.Lookups)
	for _, d := range ds {
		t.Run(d.ID, func(t *testing.T) {
			if len(d.Tests) == 0 {
				t.Fatal("no [[test]] cases")
			}
			for _, tc := range d.Tests {
				res := replay.Run(context.Background(), env, d, tc)
				if res.Err != nil {
					t.Errorf("%s: %v", tc.Name, res.Err)
				}
				for _, p := range res.Problems {
					t.Errorf("%s: %s", tc.Name, p)
				}
			}
		})
	}
}

// TestPackShape holds every detection to the pack's conventions: kebab-case
// ids, a ticket description, both a case that fires and one that stays quiet,
// and templates whose fields the search's results really carry, so that
// remediation params never render empty or as a list.
func TestPackShape(t *testing.T) {
	cfg, ds := loadPack(t)
	env := replayEnv(cfg, ds, cfg.Search.Lookups)
	for _, d := range ds {
		t.Run(d.ID, func(t *testing.T) {
			if d.ID != strings.ToLower(d.ID) || strings.ContainsAny(d.ID, "_. ") {
				t.Errorf("id %q: want kebab-case", d.ID)
			}
			if d.Ticket.Description.String() == "" {
				t.Error("no [ticket] description: say what happened and what to check")
			}
			positive, negative := false, false
			fields := map[string]bool{}
			for _, tc := range d.Tests {
				if tc.ExpectAlerts == 0 {
					negative = true
					continue
				}
				positive = true
				got, _, err := replay.Alerts(context.Background(), env, d, tc)
				if err != nil {
					t.Fatalf("%s: %v", tc.Name, err)
				}
				for _, r := range got {
					for f := range r {
						fields[f] = true
					}
					if acct := poller.AccountOf(d, r); acct == "" {
						t.Errorf("%s: no account for routing in %v (set account_field, or return one of %v)", tc.Name, r.Fields(), poller.AccountFields)
					}
					if d.Remediation == nil {
						continue
					}
					for name, tmpl := range d.Remediation.Params {
						v := tmpl.Render(r.Lookup)
						if v == "" || strings.Contains(v, ", ") {
							t.Errorf("%s: remediation param %s renders %q from %v", tc.Name, name, v, r)
						}
					}
				}
			}
			if !positive || !negative {
				t.Errorf("want a case that fires and a case that stays quiet (positive %v, negative %v)", positive, negative)
			}
			var missing []string
			templates := []detections.Template{d.Ticket.Summary, d.Ticket.Description}
			if d.Remediation != nil {
				for _, p := range d.Remediation.Params {
					templates = append(templates, p)
				}
			}
			for _, tmpl := range templates {
				for _, f := range tmpl.Fields() {
					if !fields[f] {
						missing = append(missing, f)
					}
				}
			}
			for _, f := range d.GroupBy {
				if !fields[f] {
					missing = append(missing, f)
				}
			}
			if len(missing) > 0 {
				sort.Strings(missing)
				t.Errorf("templates or group_by use fields no positive case's results carry: %s", strings.Join(missing, ", "))
			}
		})
	}
}

// samplesWant is what the one-command trial (make run) finds in
// detections/samples: each scenario once, and nothing from the benign
// background around it.
var samplesWant = map[string]int{
	"access-key-created-then-used-outside-org": 1, // the backdoor key mallory made for svc-backup, used from 192.0.2.66
	"access-key-used-outside-org":              2, // mallory's key, then svc-backup's new one, from 192.0.2.66
	"account-new-region":                       0, // the samples are its history: it learns them (backfill)
	"cloudtrail-logging-started":               0, // nobody restarts the stopped trail
	"cloudtrail-logging-stopped":               1,
	"cloudtrail-stopped-not-restarted":         1, // org-trail, stopped by mallory at 09:07 and left stopped
	"cloudtrail-trail-deleted":                 1,
	"cloudtrail-trail-weakened":                1,
	"console-login-failures":                   1, // the spray from 192.0.2.150; alice's two typos stay quiet
	"console-login-without-mfa":                1, // svc-backup, right after its password was set
	"dns-threat-domain":                        2,
	"ec2-password-data-burst":                  1,
	"ec2-security-group-open-to-world":         2, // SSH and RDP groups; the public HTTPS listener stays quiet
	"ec2-snapshot-or-ami-shared-externally":    2, // a public AMI, a foreign snapshot; the share with an own account stays quiet
	"ec2-unusual-instance-launch":              1,
	"ec2-userdata-modified":                    1,
	"iam-access-key-created-for-other-user":    1,
	"iam-admin-policy-granted":                 1,
	"iam-login-profile-for-other-user":         1,
	"iam-user-created-outside-iac":             1, // deploy-pipeline's svc-reports stays quiet
	"principal-new-network":                    0, // nine hours of samples are inside its 7-day learning span
	"role-session-used-outside-org":            1, // app-server from 192.0.2.99; its VPC endpoint calls stay quiet
	"root-account-used":                        1, // the team's root sign-in from the office, with MFA
	"root-used-outside-org":                    1, // root of 444455556666 from 192.0.2.66
	"s3-bucket-made-public":                    1, // one bucket, three changes
	"security-tooling-disabled":                3,
	"user-session-used-outside-org":            1, // svc-backup's console session from 192.0.2.66
	"vpcflow-admin-port-from-internet":         1,
	"vpcflow-threat-ip":                        1,
}

// TestPackSamples checks the trial: the shipped samples show every
// detection once per scenario and the background stays quiet.
func TestPackSamples(t *testing.T) {
	cfg, ds := loadPack(t)
	env := replayEnv(cfg, ds, cfg.Search.Lookups)
	for _, d := range ds {
		got, err := alerts(context.Background(), env, d, searcher(cfg, cfg.Search.Lookups, cfg.Search.Local.Paths...), cfg.Search.Local.Paths...)
		if err != nil {
			t.Fatalf("%s: %v", d.ID, err)
		}
		if want, ok := samplesWant[d.ID]; !ok || len(got) != want {
			var lines []string
			for _, r := range got {
				lines = append(lines, d.Ticket.Summary.Render(r.Lookup))
			}
			t.Errorf("%s: %d alert(s) on the samples, want %d (samplesWant):\n%s", d.ID, len(got), want, strings.Join(lines, "\n"))
		}
	}
}
