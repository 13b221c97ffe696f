package jira

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/patrolsec/patrol/poller"
)

// Comment adds m to the issue: ADF on Cloud (REST v3), wiki markup on Data
// Center (REST v2). It posts a plain {"body": ...} itself: go-jira's
// AddComment sends empty author and visibility objects that Cloud rejects.
// Like Create it is sent once; a timeout leaves it unknown.
func (t *Tracker) Comment(ctx context.Context, key string, m poller.Message) error {
	_, err := t.CommentAt(ctx, key, m)
	return err
}

// CommentAt is Comment, and returns when Jira stamped the comment (its
// "created", by Jira's clock, the clock of the changelog that approvals
// are read from).
func (t *Tracker) CommentAt(ctx context.Context, key string, m poller.Message) (time.Time, error) {
	path, err := issuePath(key, "/comment")
	if err != nil {
		return time.Time{}, err
	}
	var body any
	if t.cloud() {
		path = "rest/api/3" + strings.TrimPrefix(path, "rest/api/2")
		body = fitADF(m)
	} else {
		body = fitWiki(m)
	}
	var out struct {
		Created string `json:"created"`
	}
	if err := t.call(ctx, "comment on "+key, http.MethodPost, path, map[string]any{"body": body}, &out); err != nil {
		return time.Time{}, err
	}
	at, err := time.Parse(timeLayout, out.Created)
	if err != nil {
		// The comment is posted; without Jira's stamp, patrol's clock
		// stands in (approvals are then compared across two clocks).
		t.log.Warn("jira comment has no readable created time", "key", key, "created", out.Created)
		return t.now(), nil
	}
	return at, nil
}

// Transition moves the issue with the transition called name. Transition
// ids differ per workflow, so the id is looked up on the issue each time.
// An issue already in a status called name is left alone, so that a
// transition repeated after a crash is not an error.
func (t *Tracker) Transition(ctx context.Context, key, name string) error {
	path, err := issuePath(key, "/transitions")
	if err != nil {
		return err
	}
	trs, resp, err := t.client.Issue.GetTransitionsWithContext(ctx, key)
	if err != nil {
		return goJiraError("list transitions of "+key, resp, err, t.now())
	}
	id := ""
	names := make([]string, 0, len(trs))
	for _, tr := range trs {
		names = append(names, fmt.Sprintf("%q", tr.Name))
		if tr.Name == name || (id == "" && strings.EqualFold(tr.Name, name)) {
			id = tr.ID
		}
	}
	if id == "" {
		if tk, err := t.Get(ctx, key); err == nil && strings.EqualFold(tk.Status, name) {
			return nil
		}
		avail := "none: check the workflow and patrol's Transition issues permission"
		if len(names) > 0 {
			avail = strings.Join(names, ", ")
		}
		return &Error{Op: fmt.Sprintf("transition %s to %q", key, name),
			Messages: []string{fmt.Sprintf("transition %q is not available (available: %s)", name, avail)}}
	}
	body := map[string]any{"transition": map[string]string{"id": id}}
	return t.call(ctx, fmt.Sprintf("transition %s to %q", key, name), http.MethodPost, path, body, nil)
}

// SetRoute sets the assignee and adds the component and a team label
// ("<label>-team-<team>") where the route names them. Components and
// labels are added with update operations, never set: "fields" would
// replace what people put there.
func (t *Tracker) SetRoute(ctx context.Context, key string, r poller.Route) error {
	path, err := issuePath(key)
	if err != nil {
		return err
	}
	fields := map[string]any{}
	update := map[string]any{}
	if r.Assignee != "" {
		fields["assignee"] = t.user(r.Assignee)
	}
	if r.Component != "" {
		update["components"] = []any{map[string]any{"add": ref{Name: r.Component}}}
	}
	if r.Team != "" {
		if l := Label(t.label + "-team-" + r.Team); l != "" {
			update["labels"] = []any{map[string]string{"add": l}}
		}
	}
	if len(fields) == 0 && len(update) == 0 {
		return nil
	}
	body := map[string]any{}
	if len(fields) > 0 {
		body["fields"] = fields
	}
	if len(update) > 0 {
		body["update"] = update
	}
	return t.call(ctx, "route "+key, http.MethodPut, path, body, nil)
}

// Link links the issue to other with the "Relates" link type (every Jira
// has it). Linking two issues twice makes no second link.
func (t *Tracker) Link(ctx context.Context, key, other string) error {
	if _, err := issuePath(key); err != nil {
		return err
	}
	if _, err := issuePath(other); err != nil {
		return err
	}
	body := map[string]any{"type": map[string]string{"name": "Relates"},
		"inwardIssue": map[string]string{"key": key}, "outwardIssue": map[string]string{"key": other}}
	return t.call(ctx, "link "+key+" to "+other, http.MethodPost, "rest/api/2/issueLink", body, nil)
}

// AddLabels adds labels to the issue, keeping the ones it has.
func (t *Tracker) AddLabels(ctx context.Context, key string, add ...string) error {
	path, err := issuePath(key)
	if err != nil {
		return err
	}
	ops := []any{}
	for _, l := range labels(add...) {
		ops = append(ops, map[string]string{"add": l})
	}
	if len(ops) == 0 {
		return nil
	}
	body := map[string]any{"update": map[string]any{"labels": ops}}
	return t.call(ctx, "label "+key, http.MethodPut, path, body, nil)
}
