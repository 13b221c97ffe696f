package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// vpceKeyUse is a call with an IAM user's key from a private address,
// through a VPC endpoint owned by owner.
func vpceKeyUse(user, key, ip, owner string) map[string]any {
	r := record("ListBuckets", user, key, ip, nil)
	r["eventID"] = "e2e-vpce-" + key
	r["eventSource"] = "s3.amazonaws.com"
	r["vpcEndpointId"] = "vpce-0a1b2c3d4e5f60718"
	r["vpcEndpointAccountId"] = owner
	return r
}

// TestEndToEndOrgAccountsFromAWSAccounts: with the local engine, an account
// listed in aws.accounts is one of the organization's for the org_accounts
// lookup, whether the lookup's CSV leaves it out or there is no CSV: a
// key used from a private address through a VPC endpoint that account owns
// opens no ticket, while one through a foreign account's endpoint does.
// Without aws.accounts, the CSV alone decides (the first case shows the
// same event firing then).
func TestEndToEndOrgAccountsFromAWSAccounts(t *testing.T) {
	const (
		listed  = "111122223333" // in the CSV and in aws.accounts
		ours    = "555566667777" // in aws.accounts only
		foreign = "999988887777" // in neither
	)
	src, err := os.ReadFile("../../detections/access_key_used_outside_org.toml")
	if err != nil {
		t.Fatal(err)
	}
	// The shipped detection as it is, without its [[test]] cases (their
	// event files stay in the repository).
	det, _, _ := strings.Cut(string(src), "\n[[test]]")
	repo := mustConfig(t, "../../config.toml")
	private := repo.Search.Macros["private_networks(field)"]
	if private == "" {
		t.Fatal("config.toml defines no private_networks(field) macro")
	}
	csv := "account_id,name\n" + listed + ",payments-prod\n"
	records := []map[string]any{
		vpceKeyUse("build-bot", "AKIAEXAMPLELISTED01", "10.8.0.15", listed),
		vpceKeyUse("deploy", "AKIAEXAMPLEOURS0001", "10.8.0.16", ours),
		vpceKeyUse("vendor-sync", "AKIAEXAMPLEFOREIGN1", "10.0.3.7", foreign),
	}
	for _, tc := range []struct {
		name     string
		lookups  string // [search.lookups]
		accounts string // [aws] accounts
		want     []string
	}{
		{"the CSV alone", "org_accounts = \"org.csv\"", "", []string{"AKIAEXAMPLEFOREIGN1", "AKIAEXAMPLEOURS0001"}},
		{"the CSV and aws.accounts", "org_accounts = \"org.csv\"", fmt.Sprintf("accounts = [%q, %q]", listed, ours), []string{"AKIAEXAMPLEFOREIGN1"}},
		{"aws.accounts without a CSV", "", fmt.Sprintf("accounts = [%q, %q]", listed, ours), []string{"AKIAEXAMPLEFOREIGN1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := detectionsDir(t, map[string]string{"access_key_used_outside_org.toml": det})
			os.WriteFile(filepath.Join(dir, "org.csv"), []byte(csv), 0o644)
			writeRecords(t, dir, "ct.json", records...)
			conf := newTestConfig().localLogs().set("search.macros", fmt.Sprintf(`"private_networks(field)" = '%s'`, private)).
				set("search.lookups", tc.lookups).
				localTickets("alice").
				set("aws", tc.accounts).
				orgCIDRs().
				write(t, filepath.Join(dir, "config.toml"))

			if code, out, errOut := patrol(t, "validate", "--config", conf); code != exitOK {
				t.Fatalf("validate: exit %d\n%s%s", code, out, errOut)
			}
			if code, out, errOut := patrol(t, "once", "--config", conf); code != exitOK {
				t.Fatalf("once: exit %d\n%s\n%s", code, out, errOut)
			}
			var got []string
			for _, tk := range listTickets(t, conf) {
				for _, r := range records {
					key := r["userIdentity"].(map[string]any)["accessKeyId"].(string)
					if strings.Contains(tk.Summary, key) {
						got = append(got, key)
					}
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("tickets for keys %v, want %v", got, tc.want)
			}
		})
	}
}
