// Package local holds patrol's local-mode backends: tickets kept in the
// SQLite state, notifications written to the log, and search over log files
// with the in-process SPL engine. Together they run the whole flow on one
// machine with no accounts.
package local

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/state"
)

// KeyPrefix is the project key of local tickets (LOCAL-1, LOCAL-2, ...).
const KeyPrefix = "LOCAL"

// StatusOpen is a new local ticket's status.
const StatusOpen = "Open"

// Tracker is the local ticket store: poller.Tracker over the state file.
type Tracker struct {
	DB    *state.DB
	Label string // the configured label Poll filters on
	// Author names patrol in comments and events.
	Author string
}

var (
	_ poller.Tracker  = (*Tracker)(nil)
	_ poller.Linker   = (*Tracker)(nil)
	_ poller.Resolver = (*Tracker)(nil)
)

func (t *Tracker) author() string {
	if t.Author != "" {
		return t.Author
	}
	return "patrol"
}

// Create stores a ticket. The summary is made one line of at most 255
// characters and labels lose whitespace, as Jira would require.
func (t *Tracker) Create(ctx context.Context, nt poller.NewTicket) (poller.Ticket, error) {
	lt, err := t.DB.LocalCreate(ctx, KeyPrefix, state.LocalTicket{
		Summary:     Summary(nt.Summary),
		Description: nt.Description.PlainText(),
		Severity:    nt.Severity,
		Priority:    nt.Priority,
		Status:      StatusOpen,
		Labels:      Labels(nt.Labels),
		Assignee:    nt.Route.Assignee,
		Component:   nt.Route.Component,
	})
	if err != nil {
		return poller.Ticket{}, err
	}
	return ticket(*lt), nil
}

// Find returns the tickets carrying label.
func (t *Tracker) Find(ctx context.Context, label string) ([]poller.Ticket, error) {
	lts, err := t.DB.LocalWithLabel(ctx, label)
	return tickets(lts), err
}

// Poll returns tickets with the configured label updated at or after since.
func (t *Tracker) Poll(ctx context.Context, since time.Time) ([]poller.Ticket, error) {
	lts, err := t.DB.LocalUpdatedSince(ctx, t.Label, since)
	return tickets(lts), err
}

// Get returns one ticket.
func (t *Tracker) Get(ctx context.Context, key string) (poller.Ticket, error) {
	lt, err := t.DB.LocalGet(ctx, key)
	if err != nil {
		return poller.Ticket{}, err
	}
	return ticket(*lt), nil
}

// Comment adds a plain-text comment.
func (t *Tracker) Comment(ctx context.Context, key string, m poller.Message) error {
	return t.DB.LocalComment(ctx, key, t.author(), m.PlainText())
}

// CommentAt adds a comment and returns its time (the state's clock, which
// also stamps approvals).
func (t *Tracker) CommentAt(ctx context.Context, key string, m poller.Message) (time.Time, error) {
	return t.DB.LocalCommentAt(ctx, key, t.author(), m.PlainText())
}

// FindComment implements poller.CommentFinder: a comment patrol posted
// that ends with m's reference line, and its time.
func (t *Tracker) FindComment(ctx context.Context, key string, m poller.Message) (time.Time, bool, error) {
	ref := m.RefLine()
	if ref == "" {
		return time.Time{}, false, nil
	}
	cs, err := t.DB.LocalComments(ctx, key)
	if err != nil {
		return time.Time{}, false, err
	}
	for _, c := range cs {
		if c.Author == t.author() && strings.HasSuffix(strings.TrimRight(c.Body, "\n"), "\n"+ref) {
			return c.At, true, nil
		}
	}
	return time.Time{}, false, nil
}

var _ poller.CommentFinder = (*Tracker)(nil)

// Transition sets the ticket's status to name.
func (t *Tracker) Transition(ctx context.Context, key, name string) error {
	return t.DB.LocalTransition(ctx, key, name, t.author())
}

// Approvals lists who added label, from the ticket's events.
func (t *Tracker) Approvals(ctx context.Context, key, label string) ([]poller.Approval, error) {
	evs, err := t.DB.LocalEvents(ctx, key, state.EventLabelAdded)
	if err != nil {
		return nil, err
	}
	var out []poller.Approval
	for _, e := range evs {
		if e.Value == label {
			out = append(out, poller.Approval{By: e.By, At: e.At})
		}
	}
	return out, nil
}

// AddLabels adds labels to the ticket, as patrol.
func (t *Tracker) AddLabels(ctx context.Context, key string, labels ...string) error {
	for _, l := range Labels(labels) {
		if err := t.DB.LocalAddLabel(ctx, key, l, t.author()); err != nil {
			return err
		}
	}
	return nil
}

// SetRoute sets assignee and component.
func (t *Tracker) SetRoute(ctx context.Context, key string, r poller.Route) error {
	return t.DB.LocalSetRoute(ctx, key, r.Assignee, r.Component)
}

// Link records that the ticket relates to another.
func (t *Tracker) Link(ctx context.Context, key, other string) error {
	return t.DB.LocalLink(ctx, key, other, t.author())
}

// ResolvedBy says who last set the ticket's resolution, and when.
func (t *Tracker) ResolvedBy(ctx context.Context, key string) (string, time.Time, error) {
	evs, err := t.DB.LocalEvents(ctx, key, state.EventResolution)
	if err != nil || len(evs) == 0 {
		return "", time.Time{}, err
	}
	last := evs[len(evs)-1]
	return last.By, last.At, nil
}

// DoneStatuses are the local statuses that mean a ticket is done
// (compared case-insensitively).
var DoneStatuses = []string{"done", "closed", "resolved", "won't do", "cancelled"}

func doneStatus(status string) bool {
	for _, s := range DoneStatuses {
		if strings.EqualFold(strings.TrimSpace(status), s) {
			return true
		}
	}
	return false
}

func ticket(lt state.LocalTicket) poller.Ticket {
	return poller.Ticket{ID: lt.Key, Key: lt.Key, Summary: lt.Summary, Status: lt.Status, Labels: lt.Labels,
		Created: lt.Created, Updated: lt.Updated, Done: doneStatus(lt.Status), Resolution: lt.Resolution}
}

func tickets(lts []state.LocalTicket) []poller.Ticket {
	out := make([]poller.Ticket, len(lts))
	for i, lt := range lts {
		out[i] = ticket(lt)
	}
	return out
}

// Summary makes s a valid one-line summary of at most 255 characters.
func Summary(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= 255 {
		return s
	}
	r := []rune(s)
	return string(r[:254]) + "…"
}

// Labels drops empty labels and replaces whitespace inside them.
func Labels(in []string) []string {
	out := make([]string, 0, len(in))
	for _, l := range in {
		l = strings.Join(strings.Fields(l), "_")
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}
