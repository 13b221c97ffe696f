package poller

import (
	"fmt"
	"strings"
	"time"
)

// Digest is a scheduled summary for one channel ([[digest]]): what is
// open, what waits for an approver, what patrol did since the last digest,
// and what is failing. Each notifier renders it its own way (Slack as
// Block Kit); every string in it may carry attacker data and is escaped
// there like any message. Ages are taken at Until, so a digest sent late
// (after a restart) still says what was true at its tick.
type Digest struct {
	Title string
	Teams []string  // the teams it covers; empty: all
	Since time.Time // the previous digest's tick (or when digests began)
	Until time.Time // the schedule tick it is for
	At    time.Time // when it was made: what is open and waiting is as of then
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
	Kind string // exception | silence
	// Name is what it is known by: a silence's id; an exception's
	// detection and match.
	Name    string
	Reason  string // the people's words: text, not a name
	Owner   string
	Expires time.Time
}

// Message renders the digest as plain structure, for notifiers without a
// richer form (the log).
func (d Digest) Message() Message {
	title := d.Title
	if len(d.Teams) > 0 {
		title += " for " + strings.Join(d.Teams, ", ")
	}
	m := Message{Title: title}
	span := "until " + d.Until.UTC().Format(time.RFC3339)
	if !d.Since.IsZero() {
		span = "from " + d.Since.UTC().Format(time.RFC3339) + " " + span
	}
	if d.Late {
		span += fmt.Sprintf(" (sent late, at %s; %d earlier ticks skipped)", d.At.UTC().Format(time.RFC3339), d.Skipped)
	}
	m.Sections = append(m.Sections, Section{Text: span})
	open := Section{Heading: fmt.Sprintf("Open alerts: %d", d.OpenTotal)}
	for _, c := range append(append([]DigestCount(nil), d.OpenBySev...), d.OpenByTeam...) {
		open.Fields = append(open.Fields, Field{Name: c.Name, Value: fmt.Sprint(c.Count)})
	}
	m.Sections = append(m.Sections, open)
	wait := Section{Heading: fmt.Sprintf("Waiting for approval: %d", d.WaitingTotal)}
	for _, w := range d.Waiting {
		wait.Fields = append(wait.Fields, Field{Name: w.Ticket.Key, Value: fmt.Sprintf("%s, waiting %s", w.Detection, Age(d.At.Sub(w.Since)))})
	}
	m.Sections = append(m.Sections, wait)
	acts := Section{Heading: fmt.Sprintf("Actions since the last digest: %d", d.ActionsTotal)}
	for _, a := range d.Actions {
		out := a.Outcome
		if a.DryRun {
			out = "dry run"
		}
		acts.Fields = append(acts.Fields, Field{Name: a.Ticket.Key, Value: a.Action + " on " + a.Target + ": " + out})
	}
	m.Sections = append(m.Sections, acts)
	dets := Section{Heading: fmt.Sprintf("Detections failing or stale: %d", len(d.Detections))}
	for _, x := range d.Detections {
		dets.Fields = append(dets.Fields, Field{Name: x.ID, Value: x.Problem})
	}
	m.Sections = append(m.Sections, dets)
	if len(d.Expiring) > 0 {
		exp := Section{Heading: "Exceptions and silences ending within 7 days"}
		for _, e := range d.Expiring {
			exp.Fields = append(exp.Fields, Field{Name: e.Kind + " " + e.Name, Value: e.Reason + " (owner " + e.Owner + "), ends " +
				e.Expires.UTC().Format(time.RFC3339) + ", in " + Age(e.Expires.Sub(d.At))})
		}
		m.Sections = append(m.Sections, exp)
	}
	return m
}

// Age says how long, to the minute, for people: "45m", "3h 12m", "2d 5h".
func Age(d time.Duration) string {
	d = d.Round(time.Minute)
	switch {
	case d < time.Minute:
		return "under a minute"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
}
