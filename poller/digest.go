package poller

import "time"

// Digest is a scheduled summary for one channel ([[digest]]): what is
// open, what waits for an approver, what patrol did since the last digest,
// and what is failing. Each notifier renders it its own way (Slack as
// Block Kit); every string in it may carry attacker data and is escaped
// there like any message. Ages are taken at Until, so a digest sent late
// (after a restart) still says what was true at its tick.
type Digest struct {
	Title string
	Teams []string  // the teams it covers; empty: all
	Since time.Time // the previous digest's tick (zero: none before)
	Until time.Time // the schedule tick it is for
	// Late is set when the digest is sent after its tick (patrol was down
	// at the tick); Skipped counts the ticks missed in between, which get
	// no digest of their own.
	Late    bool
	Skipped int

	OpenTotal    int
	OpenBySev    []DigestCount // critical, high, medium, low, then any other
	OpenByTeam   []DigestCount // by team, then "(no team)"
	Waiting      []DigestTicket
	WaitingTotal int
	Actions      []DigestAction
	ActionsTotal int
	Detections   []DigestDetection // failing or stale
	// Expiring lists exceptions and silences that end within 7 days, when
	// the configuration has any.
	Expiring []DigestExpiring
}

// DigestCount is a number of things with a name.
type DigestCount struct {
	Name  string
	Count int
}

// DigestTicket is a ticket waiting for an approver.
type DigestTicket struct {
	Ticket    Ticket
	Detection string
	Team      string
	Since     time.Time // when its plan was posted
}

// DigestAction is how one remediation attempt ended.
type DigestAction struct {
	Ticket  Ticket
	Action  string
	Target  string
	Outcome string // the ledger's phase: succeeded, failed, refused, ...
	DryRun  bool
	At      time.Time
}

// DigestDetection is a detection that fails or whose checkpoint lags.
type DigestDetection struct {
	ID      string
	Problem string
}

// DigestExpiring is an exception or silence about to end.
type DigestExpiring struct {
	Kind    string // exception | silence
	Name    string
	Owner   string
	Expires time.Time
}
