package jira

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/patrolsec/patrol/poller"
)

// created is an issue this process made. Jira Cloud's search is eventually
// consistent: for a while after a create, a search by the fingerprint
// label may not return the new issue. Find and Poll therefore ask Cloud to
// reconcile these ids, and Find reads them directly when search still
// misses them.
type created struct {
	id, key string
	labels  []string
}

// maxRemembered matches reconcileIssues' limit of 50 ids.
const maxRemembered = 50

type ref struct {
	Key  string `json:"key,omitempty"`
	Name string `json:"name,omitempty"`
}

// userRef names a person: Cloud by accountId, Data Center by user name.
type userRef struct {
	AccountID string `json:"accountId,omitempty"`
	Name      string `json:"name,omitempty"`
}

type createFields struct {
	Project     ref      `json:"project"`
	IssueType   ref      `json:"issuetype"`
	Summary     string   `json:"summary"`
	Description any      `json:"description,omitempty"` // ADF on Cloud v3, wiki on v2
	Labels      []string `json:"labels,omitempty"`
	Priority    *ref     `json:"priority,omitempty"`
	Components  []ref    `json:"components,omitempty"`
	Assignee    *userRef `json:"assignee,omitempty"`
}

func (t *Tracker) user(id string) *userRef {
	if t.cloud() {
		return &userRef{AccountID: id}
	}
	return &userRef{Name: id}
}

// Create makes an issue. It is sent once: a timeout or 5xx leaves it
// unknown whether the issue exists (Jira has no idempotency key), and the
// error says so; the caller looks the fingerprint label up with Find
// before trying again.
func (t *Tracker) Create(ctx context.Context, nt poller.NewTicket) (poller.Ticket, error) {
	f := createFields{
		Project:   ref{Key: t.cfg.Project},
		IssueType: ref{Name: t.cfg.IssueType},
		Summary:   Summary(nt.Summary),
		Labels:    labels(append([]string{t.label}, nt.Labels...)...),
	}
	if nt.Priority != "" {
		f.Priority = &ref{Name: nt.Priority}
	}
	if nt.Route.Component != "" {
		f.Components = []ref{{Name: nt.Route.Component}}
	}
	if nt.Route.Assignee != "" {
		f.Assignee = t.user(nt.Route.Assignee)
	}
	path := "rest/api/2/issue"
	if t.cloud() {
		path = "rest/api/3/issue"
		f.Description = fitADF(nt.Description)
	} else {
		f.Description = fitWiki(nt.Description)
	}
	var out struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	op := fmt.Sprintf("create %s issue in %s", nt.Detection, t.cfg.Project)
	sent := t.now()
	if err := t.call(ctx, op, http.MethodPost, path, map[string]any{"fields": f}, &out); err != nil {
		var je *Error
		if errors.As(err, &je) && je.Unknown {
			t.markUnsure(f.Labels, sent)
		}
		return poller.Ticket{}, err
	}
	t.remember(created{id: out.ID, key: out.Key, labels: f.Labels})
	t.log.Info("jira issue created", "key", out.Key, "detection", nt.Detection)

	// The issue exists now: from here on nothing may fail the create, or
	// the caller would think it has to make the ticket again.
	tk, err := t.Get(ctx, out.Key)
	if err != nil {
		t.log.Warn("jira issue created but not read back", "key", out.Key, "err", err)
		return poller.Ticket{ID: out.ID, Key: out.Key, URL: t.browse(out.Key), Summary: f.Summary, Labels: f.Labels}, nil
	}
	return tk, nil
}

func (t *Tracker) markUnsure(labels []string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.unsure == nil {
		t.unsure = map[string]time.Time{}
	}
	for _, l := range labels {
		if l != t.label {
			t.unsure[l] = at
		}
	}
}

// unsureUntil reports until when a search for label proves nothing.
func (t *Tracker) unsureUntil(label string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.unsure[label]
	if !ok {
		return time.Time{}, false
	}
	until := at.Add(t.indexLag)
	if !t.now().Before(until) {
		delete(t.unsure, label)
		return time.Time{}, false
	}
	return until, true
}

func (t *Tracker) remember(c created) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.created = append(t.created, c)
	if len(t.created) > maxRemembered {
		t.created = slices.Delete(t.created, 0, len(t.created)-maxRemembered)
	}
}

// remembered returns the issues this process created that carry label, or
// all of them for label "".
func (t *Tracker) remembered(label string) []created {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []created
	for _, c := range t.created {
		if label == "" || slices.Contains(c.labels, label) {
			out = append(out, c)
		}
	}
	return out
}

// reconcileIDs is the reconcileIssues list for a Cloud search.
func (t *Tracker) reconcileIDs(label string) []int {
	if !t.cloud() || !t.cfg.Reconcile {
		return nil
	}
	var ids []int
	for _, c := range t.remembered(label) {
		if id, err := strconv.Atoi(c.id); err == nil {
			ids = append(ids, id)
		}
	}
	return ids
}

// Find returns the tickets in the project carrying label: how the caller
// learns, after a crash, whether a ticket for a fingerprint already
// exists. A failed search is an error, never an empty answer.
func (t *Tracker) Find(ctx context.Context, label string) ([]poller.Ticket, error) {
	if label == "" || Label(label) != label {
		return nil, fmt.Errorf("jira: find: %q is not a valid label", label)
	}
	jql := fmt.Sprintf("project = %s AND labels = %s ORDER BY created ASC, key ASC",
		jqlString(t.cfg.Project), jqlString(label))
	tickets, err := t.search(ctx, "find "+label, jql, t.reconcileIDs(label))
	if err != nil {
		return nil, err
	}
	if len(tickets) == 0 {
		if until, ok := t.unsureUntil(label); ok {
			return nil, &Error{Op: "find " + label, Err: fmt.Errorf(
				"a create with this label had an unknown outcome and search may not show it until %s", until.Format(time.RFC3339))}
		}
	}
	// What this process created is certain even where the index lags
	// (and where reconcile is off): read those issues directly.
	for _, c := range t.remembered(label) {
		if slices.ContainsFunc(tickets, func(tk poller.Ticket) bool { return tk.ID == c.id }) {
			continue
		}
		tk, err := t.Get(ctx, c.id) // by id: a moved issue changes key
		var je *Error
		if errors.As(err, &je) && je.Status == http.StatusNotFound {
			continue // deleted since
		}
		if err != nil {
			return nil, fmt.Errorf("find %s: %w", label, err)
		}
		if tk.HasLabel(label) {
			tickets = append(tickets, tk)
		}
	}
	return tickets, nil
}
