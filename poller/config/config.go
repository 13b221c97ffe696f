// Package config loads patrol's config.toml: defaults, then the file, with
// unknown keys rejected and every problem reported at once with its file,
// key and line. Secrets are never in it: the file names environment
// variables or files that hold them, read when a client is built.
package config

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/robfig/cron/v3"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/aws"
	"github.com/patrolsec/patrol/poller/digest"
	"github.com/patrolsec/patrol/poller/enrich"
	"github.com/patrolsec/patrol/poller/jira"
	"github.com/patrolsec/patrol/poller/local"
	"github.com/patrolsec/patrol/poller/local/s3"
	"github.com/patrolsec/patrol/poller/metrics"
	"github.com/patrolsec/patrol/poller/slack"
	"github.com/patrolsec/patrol/poller/splunk"
)

// Config is the whole config.toml. Paths are absolute after Load.
type Config struct {
	File string `toml:"-"` // the file it was loaded from
	Dir  string `toml:"-"` // its folder: relative paths resolve against it

	State      State         `toml:"state"`
	Detections Detections    `toml:"detections"`
	Search     Search        `toml:"search"`
	Tickets    Tickets       `toml:"tickets"`
	Notify     Notify        `toml:"notify"`
	AWS        aws.Config    `toml:"aws"`
	Enrich     Enrich        `toml:"enrich"`
	Metrics    Metrics       `toml:"metrics"`
	Health     Health        `toml:"health"`
	Teams      []poller.Team `toml:"teams"`
	// Digests are the [[digest]] entries: scheduled summaries per channel.
	Digests []digest.Config `toml:"digest"`
}

// Health is [health]: the self-alerts patrol raises about itself.
type Health struct {
	// FailuresBeforeAlert failed runs in a row of one detection raise one
	// self-alert (0 = off).
	FailuresBeforeAlert int `toml:"failures_before_alert"`
	// MaxLag: a checkpoint older than this raises one self-alert ("0" = off).
	MaxLag string `toml:"max_lag"`
	// OverloadMinutes minutes in a row in which scheduled runs were skipped
	// while waiting for a search slot raise one self-alert (0 = off).
	OverloadMinutes int `toml:"overload_minutes"`
}

// State is [state].
type State struct {
	Path string `toml:"path"`
	// Retention bounds run history and sent notifications ("0" = keep all);
	// alerts, tickets and actions (the audit trail) are never pruned.
	Retention string `toml:"retention"`
}

// Detections is [detections].
type Detections struct {
	Dir        string `toml:"dir"`
	RunTimeout string `toml:"run_timeout"` // one detection run (all its chunks) at most this long
	// MaxNewAlerts caps the new alerts (tickets) one window of one detection
	// may open; a window over it makes none and raises a self-alert (0 = no cap).
	MaxNewAlerts int `toml:"max_new_alerts"`
	// Silences is the silences file (relative to the config file); a
	// missing file holds none.
	Silences string `toml:"silences"`
}

// Search is [search].
type Search struct {
	Backend   string `toml:"backend"`    // splunk | local
	MaxWindow string `toml:"max_window"` // catch-up after downtime in chunks of at most this
	// StrictFilterMacros makes an undefined `NAME_filter` macro an error
	// instead of Splunk security content's no-op.
	StrictFilterMacros bool              `toml:"strict_filter_macros"`
	Splunk             splunk.Config     `toml:"splunk"`
	Macros             map[string]string `toml:"macros"`
	Lookups            map[string]string `toml:"lookups"`
	Local              Local             `toml:"local"`
}

// Local is [search.local].
type Local struct {
	// Paths are files or folders of logs, and s3://bucket/prefix/
	// locations where AWS delivers them (read as [search.local.s3] says).
	Paths []string `toml:"paths"`
	// FirstRun says what a detection with no checkpoint searches first:
	// "lookback" (its lookback, as with Splunk) or "all" (every event in the
	// files, whatever their age: sample data and one-off audits).
	FirstRun string    `toml:"first_run"`
	Index    string    `toml:"index"`
	S3       s3.Config `toml:"s3"`
	// The limits on what one crafted file or record may cost (see
	// local.Limits): over them a record, or the rest of a file, is skipped,
	// logged and counted.
	MaxDepth       int   `toml:"max_depth"`
	MaxValues      int   `toml:"max_values"`
	MaxRecordBytes int   `toml:"max_record_bytes"`
	MaxFileBytes   int64 `toml:"max_file_bytes"`
}

// Tickets is [tickets].
type Tickets struct {
	Backend        string   `toml:"backend"` // jira | local
	Label          string   `toml:"label"`
	Poll           string   `toml:"poll"`
	PollOverlap    string   `toml:"poll_overlap"`
	PollLookback   string   `toml:"poll_lookback"`
	RunTimeout     string   `toml:"run_timeout"`
	ApproveLabel   string   `toml:"approve_label"`
	Approvers      []string `toml:"approvers"`
	DoneTransition string   `toml:"done_transition"`
	// AutoForExternal lets auto-mode remediation run on tickets patrol did
	// not make (a Splunk alert action, a person); off, they wait for an
	// approver.
	AutoForExternal bool `toml:"auto_for_external"`
	// HoldLabel on a ticket keeps its remediation from running; seen in an
	// automatic remediation's grace period it cancels it for good (it then
	// needs an approval).
	HoldLabel string `toml:"hold_label"`
	// SlackApprovers maps Slack user ids to approver identities in
	// Approvers: their Approve and Hold clicks count (Socket Mode).
	SlackApprovers map[string]string `toml:"slack_approvers"`
	// OnRecurrence is what a repeat inside suppress does to a ticket in a
	// done status: "reopen", "new" (a new ticket linked to it) or "comment".
	OnRecurrence     string `toml:"on_recurrence"`
	ReopenTransition string `toml:"reopen_transition"`
	// FalsePositiveResolutions are the resolutions that mean the alert was
	// a false positive.
	FalsePositiveResolutions []string    `toml:"false_positive_resolutions"`
	Jira                     jira.Config `toml:"jira"`
}

// Notify is [notify].
type Notify struct {
	Backend string       `toml:"backend"` // slack | log
	Slack   slack.Config `toml:"slack"`
}

// Enrich is [enrich].
type Enrich struct {
	OrgCIDRs    []string `toml:"org_cidrs"`
	AccountsCSV string   `toml:"accounts_csv"`
	Timeout     string   `toml:"timeout"`
	// AWS turns on enrichers that call AWS (IAM principal tags and MFA,
	// Organizations accounts); off, enrichment uses accounts_csv and
	// org_cidrs only.
	AWS bool `toml:"aws"`
}

// Metrics is [metrics].
type Metrics struct {
	Textfile string `toml:"textfile"`
	Listen   string `toml:"listen"`
}

// Default returns the configuration before any file is read.
func Default() Config {
	return Config{
		State:      State{Path: "patrol.db", Retention: "90d"},
		Detections: Detections{Dir: "detections", RunTimeout: "15m", MaxNewAlerts: 100, Silences: "silences.toml"},
		Search: Search{
			Backend: "local", MaxWindow: "6h", Splunk: splunk.Defaults(),
			Local: Local{FirstRun: "lookback", Index: "main", MaxDepth: local.DefaultLimits.MaxDepth, MaxValues: local.DefaultLimits.MaxValues,
				MaxRecordBytes: local.DefaultLimits.MaxRecordBytes, MaxFileBytes: local.DefaultLimits.MaxFileBytes, S3: s3.Defaults()},
		},
		Tickets: Tickets{
			Backend: "local", Label: "patrol", Poll: "@every 1m", PollOverlap: "5m", PollLookback: "24h", RunTimeout: "5m",
			ApproveLabel: "patrol-approve", HoldLabel: "patrol-hold", DoneTransition: "Done", Jira: jira.Defaults(),
			OnRecurrence: "reopen", ReopenTransition: "Reopen", FalsePositiveResolutions: []string{"False Positive"},
		},
		Notify:  Notify{Backend: "log", Slack: slack.Defaults()},
		AWS:     aws.Defaults(),
		Enrich:  Enrich{Timeout: "10s"},
		Metrics: Metrics{},
		Health:  Health{FailuresBeforeAlert: 3, MaxLag: "2h", OverloadMinutes: 5},
	}
}

// Load reads path over the defaults and validates the result. The error
// joins a *detections.Problem for every problem found.
func Load(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(abs)
	if err != nil {
		return nil, &detections.Problem{File: path, Msg: "config: " + err.Error() + " (pass --config FILE)"}
	}
	cfg := Default()
	cfg.File, cfg.Dir = path, filepath.Dir(abs)
	src := string(b)
	r := &detections.Reporter{File: path, Lines: detections.ScanKeyLines(src)}
	if !detections.DecodeStrict(r, src, &cfg) {
		return nil, r.Err()
	}
	cfg.validate(r)
	if err := r.Err(); err != nil {
		return nil, err
	}
	cfg.resolvePaths()
	return &cfg, nil
}

func (c *Config) validate(r *detections.Reporter) {
	if c.State.Path == "" {
		r.Add("state.path", "is required")
	}
	if c.Detections.Dir == "" {
		r.Add("detections.dir", "is required")
	}
	checkDuration(r, "state.retention", c.State.Retention, 0)
	checkDuration(r, "detections.run_timeout", c.Detections.RunTimeout, time.Second)
	if c.Detections.MaxNewAlerts < 0 {
		r.Add("detections.max_new_alerts", "must not be negative (0 = no cap)")
	}
	checkDuration(r, "search.max_window", c.Search.MaxWindow, time.Minute)
	checkDuration(r, "tickets.poll_overlap", c.Tickets.PollOverlap, 0)
	checkDuration(r, "tickets.poll_lookback", c.Tickets.PollLookback, 0)
	checkDuration(r, "tickets.run_timeout", c.Tickets.RunTimeout, time.Second)
	checkDuration(r, "enrich.timeout", c.Enrich.Timeout, time.Millisecond)
	checkDuration(r, "health.max_lag", c.Health.MaxLag, 0)
	if c.Health.FailuresBeforeAlert < 0 {
		r.Add("health.failures_before_alert", "must not be negative (0 turns it off)")
	}
	if c.Health.OverloadMinutes < 0 {
		r.Add("health.overload_minutes", "must not be negative (0 turns it off)")
	}

	switch c.Search.Backend {
	case "splunk":
		section(r, "search.splunk", c.Search.Splunk.Validate())
	case "local":
		if len(c.Search.Local.Paths) == 0 {
			r.Add("search.local.paths", "is required when search.backend = \"local\" (files or folders of logs, or s3://bucket/prefix/ locations)")
		}
		for _, p := range c.Search.Local.Paths {
			if !s3.IsURL(p) {
				c.mustExist(r, "search.local.paths", p)
			} else if _, err := s3.ParseURL(p); err != nil {
				r.Add("search.local.paths", "%v", err)
			}
		}
		section(r, "search.local.s3", c.Search.Local.S3.Validate())
		for name, p := range c.Search.Lookups {
			if c.mustExist(r, "search.lookups."+name, p) {
				if err := checkCSV(c.Abs(p)); err != nil {
					r.Add("search.lookups."+name, "%v", err)
				}
			}
		}
	default:
		r.Add("search.backend", "%q must be \"splunk\" or \"local\"", c.Search.Backend)
	}
	for key, v := range map[string]int64{"max_depth": int64(c.Search.Local.MaxDepth), "max_values": int64(c.Search.Local.MaxValues),
		"max_record_bytes": int64(c.Search.Local.MaxRecordBytes), "max_file_bytes": c.Search.Local.MaxFileBytes} {
		if v < 1 {
			r.Add("search.local."+key, "must be at least 1")
		}
	}
	if f := c.Search.Local.FirstRun; f != "lookback" && f != "all" {
		r.Add("search.local.first_run", "%q must be \"lookback\" or \"all\"", f)
	}
	if err := detections.CheckAllowCommands(c.Search.Splunk.AllowCommands); err != nil {
		r.Add("search.splunk.allow_commands", "%v", err)
	}
	if _, err := detections.NewMacros(c.Search.Macros, detections.MacroOptions{}); err != nil {
		r.Add("search.macros", "%v", err)
	}
	if _, err := detections.NewMacros(nil, detections.MacroOptions{OrgCIDRs: c.Enrich.OrgCIDRs}); err != nil {
		r.Add("enrich.org_cidrs", "%v", strings.TrimPrefix(err.Error(), "org_cidrs: "))
	}
	for name, path := range c.Search.Lookups {
		if path == "" {
			r.Add("search.lookups."+name, "is empty: give the CSV file's path")
		}
	}

	switch c.Tickets.Backend {
	case "jira":
		section(r, "tickets.jira", c.Tickets.Jira.Validate())
	case "local":
	default:
		r.Add("tickets.backend", "%q must be \"jira\" or \"local\"", c.Tickets.Backend)
	}
	if !labelOK(c.Tickets.Label) {
		r.Add("tickets.label", "%q must be a label without spaces", c.Tickets.Label)
	}
	if !labelOK(c.Tickets.ApproveLabel) {
		r.Add("tickets.approve_label", "%q must be a label without spaces", c.Tickets.ApproveLabel)
	}
	if !labelOK(c.Tickets.HoldLabel) {
		r.Add("tickets.hold_label", "%q must be a label without spaces", c.Tickets.HoldLabel)
	} else if c.Tickets.HoldLabel == c.Tickets.ApproveLabel {
		r.Add("tickets.hold_label", "%q is also tickets.approve_label: holding and approving must be two labels", c.Tickets.HoldLabel)
	}
	switch c.Tickets.OnRecurrence {
	case "reopen":
		if strings.TrimSpace(c.Tickets.ReopenTransition) == "" {
			r.Add("tickets.reopen_transition", "is required with on_recurrence = \"reopen\": the transition that reopens a done ticket")
		}
	case "new", "comment":
	default:
		r.Add("tickets.on_recurrence", "%q must be \"reopen\", \"new\" or \"comment\"", c.Tickets.OnRecurrence)
	}
	for _, fp := range c.Tickets.FalsePositiveResolutions {
		if strings.TrimSpace(fp) == "" {
			r.Add("tickets.false_positive_resolutions", "has an empty entry")
		}
	}
	if c.Tickets.Poll == "" {
		r.Add("tickets.poll", "is required (a cron spec like \"@every 1m\")")
	} else if _, err := cron.ParseStandard(c.Tickets.Poll); err != nil {
		r.Add("tickets.poll", "%q is not a cron schedule: %v", c.Tickets.Poll, err)
	}
	for _, a := range c.Tickets.Approvers {
		if strings.TrimSpace(a) == "" {
			r.Add("tickets.approvers", "has an empty entry")
		}
	}
	c.validateSlackApprovals(r)

	switch c.Notify.Backend {
	case "slack":
		section(r, "notify.slack", c.Notify.Slack.Validate())
	case "log":
	default:
		r.Add("notify.backend", "%q must be \"slack\" or \"log\"", c.Notify.Backend)
	}
	section(r, "aws", c.AWS.Validate())
	if c.Metrics.Listen != "" {
		if err := metrics.CheckLoopback(c.Metrics.Listen); err != nil {
			r.Add("metrics.listen", "%v: patrol never listens where the network can reach it", err)
		}
	}
	if c.Enrich.AccountsCSV != "" && c.mustExist(r, "enrich.accounts_csv", c.Enrich.AccountsCSV) {
		if _, err := enrich.LoadAccounts(c.Abs(c.Enrich.AccountsCSV)); err != nil {
			r.Add("enrich.accounts_csv", "%v", err)
		}
	}
	c.validateDigests(r)
	for i, t := range c.Teams {
		key := fmt.Sprintf("teams[%d]", i+1)
		if t.Name == "" {
			r.Add(key+".name", "is required")
		}
		for _, a := range t.Accounts {
			if !isAccountID(a) {
				r.Add(key+".accounts", "%q is not a 12-digit AWS account id", a)
			}
		}
	}
}

func section(r *detections.Reporter, prefix string, errs []poller.FieldError) {
	for _, e := range errs {
		r.Add(prefix+"."+e.Key, "%s", e.Msg)
	}
}

func checkDuration(r *detections.Reporter, key, v string, min time.Duration) {
	d, err := detections.ParseDuration(v)
	if err != nil {
		r.Add(key, "%v", err)
		return
	}
	if d < min {
		r.Add(key, "must be at least %s", strings.TrimSuffix(strings.TrimSuffix(min.String(), "0s"), "0m"))
	}
}

func labelOK(l string) bool {
	return l != "" && len(l) <= 255 && !strings.ContainsAny(l, " \t\r\n")
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func (c *Config) resolvePaths() {
	c.State.Path = c.Abs(c.State.Path)
	c.Detections.Dir = c.Abs(c.Detections.Dir)
	if c.Detections.Silences != "" {
		c.Detections.Silences = c.Abs(c.Detections.Silences)
	}
	for i, p := range c.Search.Local.Paths {
		if !s3.IsURL(p) {
			c.Search.Local.Paths[i] = c.Abs(p)
		}
	}
	for k, p := range c.Search.Lookups {
		c.Search.Lookups[k] = c.Abs(p)
	}
	if c.Enrich.AccountsCSV != "" {
		c.Enrich.AccountsCSV = c.Abs(c.Enrich.AccountsCSV)
	}
	if c.Metrics.Textfile != "" {
		c.Metrics.Textfile = c.Abs(c.Metrics.Textfile)
	}
}

// mustExist reports a missing path and says whether it exists.
func (c *Config) mustExist(r *detections.Reporter, key, path string) bool {
	if path == "" {
		r.Add(key, "is empty: give a path")
		return false
	}
	if _, err := os.Stat(c.Abs(path)); err != nil {
		r.Add(key, "%s: no such file or folder (relative paths start at the config file's folder)", path)
		return false
	}
	return true
}

// checkCSV reads a lookup table through, so a malformed one is named at
// validation rather than when a detection first uses it.
func checkCSV(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	cr := csv.NewReader(f)
	if _, err := cr.Read(); err != nil {
		return fmt.Errorf("%s: no header row: %v", path, err)
	}
	for {
		if _, err := cr.Read(); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
	}
}

// Abs resolves a path against the config file's folder.
func (c *Config) Abs(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// Duration parses a duration key that Load already validated.
func Duration(v string) time.Duration {
	d, _ := detections.ParseDuration(v)
	return d
}

// Macros builds the macro set detections expand with.
func (c *Config) Macros() *detections.Macros {
	m, _ := detections.NewMacros(c.Search.Macros, detections.MacroOptions{OrgCIDRs: c.Enrich.OrgCIDRs, StrictFilters: c.Search.StrictFilterMacros})
	return m
}

// String renders the config as TOML. It holds no secrets (only the names of
// the variables and files that do), so it is safe to print.
func (c Config) String() string {
	var b bytes.Buffer
	_ = toml.NewEncoder(&b).Encode(c)
	return b.String()
}

// LocalLimits are the local engine's limits from [search.local].
func (c *Config) LocalLimits() local.Limits {
	l := c.Search.Local
	return local.Limits{MaxDepth: l.MaxDepth, MaxValues: l.MaxValues, MaxRecordBytes: l.MaxRecordBytes, MaxFileBytes: l.MaxFileBytes}
}
