package detections

import (
	"time"

	"github.com/robfig/cron/v3"
)

// Severity levels, lowest first.
var Severities = []string{"low", "medium", "high", "critical"}

// Remediation modes.
const (
	ModeAuto    = "auto"    // run the action as soon as the ticket is seen
	ModeApprove = "approve" // comment the plan, wait for an approver's label
	ModeOff     = "off"     // never run it (the plan is still shown)
)

// Stages of a detection: a live detection opens tickets, notifies and
// remediates; a shadow detection runs the same way but only records what
// it would have done.
const (
	StageLive   = "live"
	StageShadow = "shadow"
)

// Time modes of a detection's window (see poller.TimeMode).
const (
	TimeIndex = "index"
	TimeEvent = "event"
)

// Detection is one validated detection file.
type Detection struct {
	ID          string
	Title       string
	Description string
	Severity    string
	Schedule    string
	Cron        cron.Schedule
	Settle      time.Duration // the newest span not searched yet (indexing lag)
	Lookback    time.Duration // the first window when there is no checkpoint
	Suppress    time.Duration // repeats inside it update the alert, not a new ticket
	Freshness   time.Duration // 0 = off
	// FreshnessSearch (expanded) selects the detection's whole source: with
	// Freshness set, patrol alerts when it returns nothing for that long.
	FreshnessSearch string
	MaxWindow       time.Duration // 0 = the config's search.max_window
	TimeMode        string        // index | event
	Search          string        // as written, macros unexpanded
	Expanded        string        // macros expanded: what backends run
	GroupBy         []string
	// AccountField names the result field that holds the affected account,
	// for routing and enrichment; "" reads the core's list of account fields.
	AccountField string
	Ticket       TicketSpec
	Remediation  *Remediation // nil when the detection has none
	// Sequence, when set, makes the detection fire on its steps' alerts in
	// the ledger instead of on a search (Search is then empty).
	Sequence *Sequence
	// FirstSeen, when set, keeps only results whose value combination was
	// not seen within its history.
	FirstSeen *FirstSeen
	Tests     []TestCase
	// Attack lists the MITRE ATT&CK technique ids the detection covers
	// (T1562.008); `patrol coverage` maps them to tactics.
	Attack []string
	// References are links that explain the behaviour detected.
	References []string
	// SigmaID is the id of the Sigma rule the detection was imported from.
	SigmaID string
	// Stage is StageLive (the default) or StageShadow.
	Stage string
	// Exceptions drop matching results before fingerprinting.
	Exceptions []Exception

	File string // path of the TOML file
	Dir  string // its folder: test event paths are relative to it
}

// TicketSpec is the [ticket] table.
type TicketSpec struct {
	Summary     Template
	Description Template // optional: what the responder should check
	Priority    string
	Labels      []string
}

// Remediation is the [remediation] table.
type Remediation struct {
	Action string
	Mode   string
	Params map[string]Template
	// Grace delays an automatic remediation: the ticket says when it will
	// run and how to hold it (0 = at once).
	Grace time.Duration
}

// TestCase is one [[test]]: events in, expected alerts out.
type TestCase struct {
	Name string
	// Events are files of events, relative to the detection file's folder,
	// replayed in order: each is one run of the detection (and of its steps).
	Events       []string
	ExpectAlerts int // in total
	// PerFile, when set, is the number of new alerts after each file.
	PerFile []int
	// Expect lists field values; each entry must match at least one alert.
	Expect []map[string]string
}

// Labels that tie tickets to patrol's state. They are label-safe (no spaces).
const (
	FingerprintLabelPrefix = "patrol-fp-"
	DetectionLabelPrefix   = "patrol-det-"
)

// Shadow reports whether the detection only records what it would do.
func (d *Detection) Shadow() bool { return d.Stage == StageShadow }

// Label is the ticket label that names this detection.
func (d *Detection) Label() string { return DetectionLabelPrefix + d.ID }

// SeverityRank orders severities (low = 0); unknown = -1.
func SeverityRank(s string) int {
	for i, v := range Severities {
		if v == s {
			return i
		}
	}
	return -1
}

// rawDetection is the file as decoded, before validation: durations and
// templates stay strings so every problem can be reported, not just the first.
type rawDetection struct {
	ID          string         `toml:"id"`
	Title       string         `toml:"title"`
	Description string         `toml:"description"`
	Severity    string         `toml:"severity"`
	Schedule    string         `toml:"schedule"`
	Settle      *string        `toml:"settle"`
	Lookback    *string        `toml:"lookback"`
	Suppress    *string        `toml:"suppress"`
	Freshness   *string        `toml:"freshness"`
	FreshSearch string         `toml:"freshness_search"`
	MaxWindow   *string        `toml:"max_window"`
	TimeMode    string         `toml:"time_mode"`
	Search      string         `toml:"search"`
	GroupBy     []string       `toml:"group_by"`
	AccountFld  string         `toml:"account_field"`
	Attack      []string       `toml:"attack"`
	References  []string       `toml:"references"`
	SigmaID     *string        `toml:"sigma_id"`
	Ticket      rawTicket      `toml:"ticket"`
	Stage       string         `toml:"stage"`
	Exceptions  []rawException `toml:"exception"`
	Remediation *struct {
		Action string            `toml:"action"`
		Mode   string            `toml:"mode"`
		Params map[string]string `toml:"params"`
		Grace  *string           `toml:"grace"`
	} `toml:"remediation"`
	Sequence  *rawSequence  `toml:"sequence"`
	FirstSeen *rawFirstSeen `toml:"first_seen"`
	Tests     []struct {
		Name string `toml:"name"`
		// Events is a path or a list of paths; ExpectAlerts a number or a
		// list of numbers (one per events file).
		Events       any                 `toml:"events"`
		ExpectAlerts any                 `toml:"expect_alerts"`
		Expect       []map[string]string `toml:"expect"`
	} `toml:"test"`
}

type rawTicket struct {
	Summary     string   `toml:"summary"`
	Description string   `toml:"description"`
	Priority    string   `toml:"priority"`
	Labels      []string `toml:"labels"`
}

// Defaults for optional detection keys.
const (
	DefaultSettle   = 2 * time.Minute
	DefaultLookback = time.Hour
	DefaultSuppress = 24 * time.Hour
)
