// Package poller runs patrol's two jobs, detect and respond, and declares the
// small interfaces they consume: a Searcher (Splunk or the local engine), a
// Tracker (Jira or the local ticket store), a Notifier (Slack or the log),
// Enrichers and remediation Actions. Integrations live in sub-packages that
// import this one; this package never imports an integration.
package poller

import (
	"context"
	"errors"
	"fmt"
	"github.com/patrolsec/patrol/detections"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Result is one search result: field name to values. A single-valued field
// has exactly one value; a multivalue field (Splunk's mv, `{}` paths) has more.
type Result map[string][]string

// Get returns the field's first value, or "" when it is absent.
func (r Result) Get(field string) string {
	if v := r[field]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// First returns the first non-empty value (trimmed) among fields, in order.
func (r Result) First(fields ...string) string {
	for _, f := range fields {
		for _, v := range r[f] {
			if v = strings.TrimSpace(v); v != "" {
				return v
			}
		}
	}
	return ""
}

// Lookup returns the field's values joined with ", " and whether it exists.
// It is the lookup that ticket templates and action parameters render with.
func (r Result) Lookup(field string) (string, bool) {
	v, ok := r[field]
	if !ok {
		return "", false
	}
	return strings.Join(v, ", "), true
}

// Fields returns the result's field names in sorted order.
func (r Result) Fields() []string {
	names := make([]string, 0, len(r))
	for k := range r {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Window is the half-open span of time (Start, End] a detection searches.
// A zero Start means "from the beginning of the data".
type Window struct {
	Start, End time.Time
}

// TimeMode says which clock a window bounds: when events happened, or when
// the backend indexed them (Splunk's _indextime; catches late events).
type TimeMode string

const (
	IndexTime TimeMode = "index"
	EventTime TimeMode = "event"
)

// Query is one search a Searcher runs. SPL has its macros already expanded.
type Query struct {
	Detection string // detection id, or "" for an ad-hoc search
	SPL       string
	Window    Window
	TimeMode  TimeMode
	// Remember marks the search of a detect window, whose checkpoint
	// follows it: a backend that keeps track of what it has read (S3
	// objects, so none is read twice) stages that under Detection in the
	// state, which commits it with the window's checkpoint. Ad-hoc,
	// freshness, test and backtest searches leave it false and change no
	// state.
	Remember bool
}

// Searcher runs a query and hands every result to emit, in order, without
// holding all of them in memory. An error from emit stops the search and is
// returned. A Searcher must return an error, never a short result set, when
// the backend failed, truncated its results, or cannot say which.
type Searcher interface {
	Search(ctx context.Context, q Query, emit func(Result) error) error
}

// Message is text for a person: a ticket description, a comment, a chat
// message. Every string in it may carry attacker-controlled event data, so
// each sink renders it with its own escaping (Jira wiki markup or ADF, Slack
// mrkdwn, plain text). Structure (headings, field tables, code blocks) comes
// from the Message's shape, never from markup inside its strings.
type Message struct {
	Title    string
	Sections []Section
	// Ref, on a comment, is a reference patrol makes (letters and digits)
	// that the comment carries on its last line ("patrol ref 3f9a1c0b7e2d"),
	// so that a comment whose delivery's outcome is unknown can be found
	// on the ticket instead of posted twice (see CommentFinder).
	Ref string
}

// RefLine is the line a message with a Ref ends with.
func (m Message) RefLine() string {
	if m.Ref == "" {
		return ""
	}
	return "patrol ref " + m.Ref
}

// Section is one part of a Message: an optional heading, then a paragraph,
// a table of fields, and a preformatted block, each optional.
type Section struct {
	Heading string
	Text    string
	Fields  []Field
	Pre     string
}

// Field is one name/value row in a Section.
type Field struct {
	Name, Value string
}

// PlainText renders a Message as plain text (terminals, logs, local tickets).
// Control characters from event data are shown escaped, so a field cannot
// drive the terminal that prints it.
func (m Message) PlainText() string {
	var b strings.Builder
	if m.Title != "" {
		b.WriteString(CleanText(m.Title))
		b.WriteString("\n")
	}
	for _, s := range m.Sections {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		if s.Heading != "" {
			b.WriteString("== " + CleanText(s.Heading) + "\n")
		}
		if s.Text != "" {
			b.WriteString(CleanText(s.Text) + "\n")
		}
		for _, f := range s.Fields {
			b.WriteString("  " + CleanText(f.Name) + ": " + CleanText(f.Value) + "\n")
		}
		if s.Pre != "" {
			pre := CleanText(s.Pre)
			b.WriteString(pre)
			if !strings.HasSuffix(pre, "\n") {
				b.WriteString("\n")
			}
		}
	}
	if ref := m.RefLine(); ref != "" {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString(CleanText(ref) + "\n")
	}
	return b.String()
}

// CleanText escapes control characters other than newline and tab (and
// Unicode bidirectional overrides) as \xNN or \u{NNNN}.
func CleanText(s string) string {
	clean := true
	for _, r := range s {
		if isControl(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case !isControl(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			fmt.Fprintf(&b, "\\u{%04x}", r)
		}
	}
	return b.String()
}

func isControl(r rune) bool {
	switch {
	case r == '\n' || r == '\t':
		return false
	case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e || r == 0x200f:
		return true
	}
	return r == utf8.RuneError
}

// Route says who owns a ticket: set on creation from [[teams]] and refined by
// enrichers (an owner tag on the principal, say).
type Route struct {
	Team         string
	Assignee     string // Jira Cloud accountId, Data Center user name, local user
	Component    string
	SlackChannel string
}

// NewTicket is what the detect job asks a Tracker to create.
type NewTicket struct {
	Detection   string
	Fingerprint string
	Summary     string // one line, may carry event data; the Tracker truncates to its limits
	Severity    string // low | medium | high | critical
	Priority    string // tracker priority name, "" for the tracker's default
	Labels      []string
	Description Message
	Route       Route
}

// Ticket is a ticket as a Tracker reports it.
type Ticket struct {
	ID      string // the tracker's stable id (Jira issue id; survives moves)
	Key     string // the human key (SEC-123, LOCAL-7)
	URL     string
	Summary string
	Status  string
	Labels  []string
	Created time.Time
	Updated time.Time
	// Done says the status is a done one (Jira's status category "done");
	// Resolution is how it was resolved ("" when it is not).
	Done       bool
	Resolution string
	// Fields are the event fields the ticket was made from, when the tracker
	// can recover them (tickets made by other systems). patrol's own tickets
	// take their fields from state.
	Fields Result
}

// HasLabel reports whether the ticket carries label.
func (t Ticket) HasLabel(label string) bool {
	for _, l := range t.Labels {
		if l == label {
			return true
		}
	}
	return false
}

// Approval is one person adding the approve label to a ticket.
type Approval struct {
	By string
	At time.Time
}

// Tracker is the ticket system: Jira, or the local store in SQLite.
type Tracker interface {
	// Create makes a ticket. It is never retried blindly by the caller.
	Create(ctx context.Context, t NewTicket) (Ticket, error)
	// Find returns the tickets carrying label (crash recovery: the fingerprint
	// label). An error means "cannot say", never "none".
	Find(ctx context.Context, label string) ([]Ticket, error)
	// Poll returns the tickets with the configured label updated at or after
	// since, oldest update first.
	Poll(ctx context.Context, since time.Time) ([]Ticket, error)
	// Get returns one ticket by key.
	Get(ctx context.Context, key string) (Ticket, error)
	Comment(ctx context.Context, key string, m Message) error
	// Transition moves the ticket by transition name (looked up per ticket).
	Transition(ctx context.Context, key, name string) error
	// Approvals lists who added label to the ticket and when.
	Approvals(ctx context.Context, key, label string) ([]Approval, error)
	// SetRoute sets assignee and component where the route names them.
	SetRoute(ctx context.Context, key string, r Route) error
}

// Notification is one chat message about a ticket.
type Notification struct {
	Ticket    Ticket
	Detection string
	Severity  string
	Channel   string // routed channel, "" for the default
	Status    string // short status for the thread's parent ("open", "remediated", ...)
	// Thread is the reference a previous Notify returned for this ticket;
	// "" for the first message about a ticket.
	Thread  string
	Message Message
	// ApprovalDigest, on a message that shows a plan waiting for approval,
	// is the plan's digest: a notifier that takes clicks (Slack with Socket
	// Mode) adds Approve and Hold buttons bound to that plan.
	ApprovalDigest string `json:",omitempty"`
	// Replace is a message reference ("CHANNEL:TS") that this notification
	// replaces instead of replying in the thread: the message whose buttons
	// were clicked, updated with who acted and then the outcome.
	Replace string `json:",omitempty"`
	// Digest, when set, is a scheduled summary to post in Channel: it is
	// about no one ticket and starts no thread.
	Digest *Digest `json:",omitempty"`
}

// Notifier posts notifications. Notify returns a thread reference for the
// first message about a ticket, so later updates can go to the same thread.
type Notifier interface {
	Notify(ctx context.Context, n Notification) (thread string, err error)
}

// EnrichInput is what an Enricher sees: the ticket and the event fields.
type EnrichInput struct {
	Ticket    Ticket
	Detection string
	Fields    Result
	// Account is the affected account, as AccountOf resolved it from the
	// detection's account_field or the core's AccountFields ("" if none).
	Account string
}

// NewEnrichInput is the input enrichers get for a ticket about a result of
// detection d (nil when it is not loaded).
func NewEnrichInput(t Ticket, d *detections.Detection, fields Result) EnrichInput {
	in := EnrichInput{Ticket: t, Fields: fields, Account: AccountOf(d, fields)}
	if d != nil {
		in.Detection = d.ID
	}
	return in
}

// Enrichment is what an Enricher found: facts for the enrichment comment,
// an optional note (a lookup that failed, say), and an optional route.
type Enrichment struct {
	Facts []Field
	Note  string
	Route Route
}

// Enricher answers one question about a ticket (who owns the account, is the
// source IP ours). A failing enricher adds a note; it never blocks the ticket.
type Enricher interface {
	Name() string
	Enrich(ctx context.Context, in EnrichInput) (Enrichment, error)
}

// ActionRequest asks an Action to plan a remediation with rendered params.
type ActionRequest struct {
	Action    string
	Params    map[string]string
	TicketKey string
}

// Plan is exactly what an Action would do, shown in the ticket before it runs.
//
// It is stored in the action ledger as JSON with snake_case keys, as
// patrol's --json outputs print it; plans stored before the tags were added
// ("Action", "Target", ...) decode too, since encoding/json matches keys
// without regard to case.
type Plan struct {
	Action string `json:"action"`
	// Target names the one resource the action changes, stable across runs
	// (e.g. "arn:aws:cloudtrail:us-east-1:111122223333:trail/main"): the
	// action ledger keys "at most once" on ticket + action + target.
	Target string `json:"target"`
	// Principal is the ARN of the IAM user or role the action changes, if
	// any; protected_principals are matched against it.
	Principal string            `json:"principal,omitempty"`
	Account   string            `json:"account"`
	Region    string            `json:"region,omitempty"`
	Params    map[string]string `json:"params"`
	Steps     []string          `json:"steps"` // the API calls, in order, in words
}

// Outcome is what an applied action did and how it was verified.
type Outcome struct {
	Snapshot string // the prior state (JSON), for undo
	Detail   string
	Verified bool
}

// Action is one remediation from the registry.
type Action interface {
	Plan(ctx context.Context, req ActionRequest) (Plan, error)
	Apply(ctx context.Context, p Plan) (Outcome, error)
}

// Reverter is an Action whose change can be undone from its snapshot.
type Reverter interface {
	Revert(ctx context.Context, p Plan, snapshot string) (Outcome, error)
}

// Checker is an Action that can read its target back and say whether the
// change it makes is in place, without changing anything. The respond job
// uses it to settle an attempt whose outcome is unknown (patrol stopped
// while it ran): Outcome.Verified reports the change in place, Detail what
// was read. since is when the attempt started (an action whose change
// carries a time, such as revoking older sessions, compares against it).
type Checker interface {
	Check(ctx context.Context, p Plan, since time.Time) (Outcome, error)
}

// NothingChanged wraps an error that an Action or Reverter returned
// before it changed anything (a guardrail, a snapshot that no longer
// matches, credentials that could not be had): an undo refused this way
// may be asked for again.
type NothingChanged struct{ Err error }

func (e NothingChanged) Error() string { return e.Err.Error() }
func (e NothingChanged) Unwrap() error { return e.Err }

// Unchanged reports whether err says nothing was changed.
func Unchanged(err error) bool {
	var nc NothingChanged
	return errors.As(err, &nc)
}

// Retryable reports whether err says it may succeed if tried again later
// (HTTP 429, 5xx, quota). Errors carry it as interface{ Retryable() bool }.
func Retryable(err error) bool {
	var r interface{ Retryable() bool }
	return errors.As(err, &r) && r.Retryable()
}

// FieldError is a configuration problem in one key. Integrations return them
// from their config's Validate with keys relative to their section; the
// config loader adds the section, the file and the line.
type FieldError struct {
	Key, Msg string
}

func (e FieldError) Error() string { return e.Key + ": " + e.Msg }
