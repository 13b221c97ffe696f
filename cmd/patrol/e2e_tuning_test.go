package main

// Tuning and going live, end to end in local mode: patrol's own commands
// over CloudTrail files, local tickets and a state file.

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller/config"
	"github.com/patrolsec/patrol/state"
)

// listedTicket is a line of `patrol tickets --json`, as far as these tests
// need it.
type listedTicket struct {
	Key       string   `json:"key"`
	Detection string   `json:"detection"`
	Summary   string   `json:"summary"`
	Status    string   `json:"status"`
	Stage     string   `json:"stage"`
	Labels    []string `json:"labels"`
}

func listTickets(t *testing.T, conf string) []listedTicket {
	t.Helper()
	code, out, errOut := patrol(t, "tickets", "--config", conf, "--json")
	if code != exitOK {
		t.Fatalf("tickets: exit %d %s", code, errOut)
	}
	var list []listedTicket
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var v listedTicket
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("%v: %q", err, line)
		}
		list = append(list, v)
	}
	return list
}

func (v listedTicket) fingerprint() string {
	for _, l := range v.Labels {
		if fp, ok := strings.CutPrefix(l, "patrol-fp-"); ok {
			return fp
		}
	}
	return ""
}

// stateHash hashes the state file and its companions (-wal, -shm).
func stateHash(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	names, _ := filepath.Glob(filepath.Join(dir, "patrol.db*"))
	sort.Strings(names)
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s %d\n", filepath.Base(n), len(b))
		h.Write(b)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestBacktestMatchesOnce: a backtest over the shipped samples prints, for
// every shipped detection, the alerts `patrol once` opens on a fresh state
// file (same fingerprints, same summaries; a shadow detection's alerts are
// the ones once records for it), and leaves the state file byte-identical.
// Over a bounded span, in windows of max_window, the plain searches find
// the same alerts too; a first-seen detection learns from the span's start
// (not from the beginning of the data, as once's first run does), and a
// sequence's fingerprint names its step alerts' ledger ids, so those two
// kinds are compared on what they can share.
func TestBacktestMatchesOnce(t *testing.T) {
	cfg := repoConfigCopy(t)
	dir := filepath.Dir(cfg)
	if code, out, errOut := patrol(t, "once", "--config", cfg); code != exitOK {
		t.Fatalf("once: exit %d\n%s\n%s", code, out, errOut)
	}
	want := map[string][]string{}
	for _, tk := range listTickets(t, cfg) {
		want[tk.Detection] = append(want[tk.Detection], tk.fingerprint()+" "+tk.Summary)
	}
	code, out, errOut := patrol(t, "shadow", "--config", cfg, "--json")
	if code != exitOK {
		t.Fatalf("shadow: exit %d %s", code, errOut)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var v shadowView
		if line != "" && json.Unmarshal([]byte(line), &v) == nil {
			want[v.Detection] = append(want[v.Detection], v.Fingerprint+" "+v.Summary)
		}
	}
	before := stateHash(t, dir)
	ds, err := loadDetections(mustConfig(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	for _, span := range [][2]string{{"all", "now"}, {"2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"}} {
		bounded := span[0] != "all"
		code, out, errOut := patrol(t, "backtest", "--config", cfg, "--from", span[0], "--to", span[1], "--json")
		if code != exitOK {
			t.Fatalf("backtest %v: exit %d\n%s", span, code, errOut)
		}
		got := map[string][]string{}
		seen := map[string]bool{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var r struct {
				Detection string `json:"detection"`
				Windows   int    `json:"windows"`
				Tickets   []struct {
					Summary, Fingerprint string
				} `json:"tickets"`
			}
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("%v: %q", err, line)
			}
			seen[r.Detection] = true
			for _, tk := range r.Tickets {
				got[r.Detection] = append(got[r.Detection], tk.Fingerprint+" "+tk.Summary)
			}
		}
		for _, d := range ds {
			if !seen[d.ID] {
				t.Errorf("backtest %v printed nothing for %s", span, d.ID)
			}
			// Every detection, sequences too, says where the backtest is.
			if p := regexp.MustCompile(fmt.Sprintf(`backtest: detection \d+/%d %s \(`, len(ds), regexp.QuoteMeta(d.ID))); !p.MatchString(errOut) {
				t.Errorf("backtest %v: no progress line for %s in\n%s", span, d.ID, errOut)
			}
			w, g := want[d.ID], got[d.ID]
			switch {
			case bounded && d.FirstSeen != nil:
				continue
			case bounded && d.Sequence != nil:
				w, g = summaries(w), summaries(g)
			}
			sort.Strings(w)
			sort.Strings(g)
			if strings.Join(w, "\n") != strings.Join(g, "\n") {
				t.Errorf("backtest %v, %s:\ngot  %q\nwant %q", span, d.ID, g, w)
			}
		}
		if after := stateHash(t, dir); after != before {
			t.Fatalf("backtest %v changed the state file", span)
		}
	}
	if code, _, errOut := patrol(t, "backtest", "--config", cfg, "--from", "2026-11-02", "--to", "2026-11-01"); code != exitInvalid {
		t.Errorf("reversed span: exit %d %s", code, errOut)
	}
	if code, _, _ := patrol(t, "backtest", "--config", cfg, "--to", "now"); code != exitInvalid {
		t.Errorf("no --from: exit %d", code)
	}
}

// summaries drops the fingerprints of "fingerprint summary" lines.
func summaries(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		_, out[i], _ = strings.Cut(l, " ")
	}
	return out
}

func mustConfig(t *testing.T, path string) *config.Config {
	t.Helper()
	cfg, code := loadConfig(path, os.Stderr)
	if cfg == nil {
		t.Fatalf("config: exit %d", code)
	}
	return cfg
}

// tuningDir writes a local-mode config with the given detection files over
// the given CloudTrail records and returns the config's path.
func tuningDir(t *testing.T, dets map[string]string, recs ...map[string]any) string {
	t.Helper()
	dir := detectionsDir(t, dets)
	writeRecords(t, dir, "ct.json", recs...)
	return newTestConfig().localLogs().localTickets("alice").orgCIDRs().write(t, filepath.Join(dir, "config.toml"))
}

// keyUse is a use of an access key from outside, at a time.
func keyUse(at time.Time, user, key, ip string) map[string]any {
	r := record("ListBuckets", user, key, ip, nil)
	r["eventTime"], r["eventID"] = at.UTC().Format(time.RFC3339), fmt.Sprintf("e2e-%s-%d", key, at.Unix())
	return r
}

func openState(t *testing.T, conf string) *state.DB {
	t.Helper()
	db, err := state.Open(filepath.Join(filepath.Dir(conf), "patrol.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func comments(t *testing.T, db *state.DB, key string) string {
	t.Helper()
	cs, err := db.LocalComments(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		out = append(out, c.Body)
	}
	return strings.Join(out, "\n---\n")
}
