package jiratest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Issue is the state of one fake issue.
type Issue struct {
	ID, Key     string
	Summary     string
	Description any // a wiki string (v2) or an ADF document (v3), as sent
	Status      string
	Priority    string
	IssueType   string
	Labels      []string
	Components  []string
	Assignee    string // Cloud accountId, Data Center user name
	Reporter    string
	Created     time.Time
	Updated     time.Time
	Fields      map[string]any // custom fields (customfield_*)
	Comments    []Comment
	Changelog   []History
	Resolution  string   // "" while unresolved
	Links       []string // keys of the issues linked to it ("Relates")
}

// Comment is one comment on an issue.
type Comment struct {
	ID, Author string
	API        string // "2" (Body is wiki text) or "3" (Body is ADF)
	Body       any
	Created    time.Time
}

// History is one changelog entry. Author is a Cloud accountId or a Data
// Center user key.
type History struct {
	ID, Author string
	Created    time.Time
	Items      []Item
}

// Item is one field change in a History; From and To are the display
// strings (labels: space-separated).
type Item struct {
	Field, From, To string
}

func (is Issue) clone() Issue {
	c := is
	c.Labels = slices.Clone(is.Labels)
	c.Components = slices.Clone(is.Components)
	c.Comments = slices.Clone(is.Comments)
	c.Changelog = slices.Clone(is.Changelog)
	c.Links = slices.Clone(is.Links)
	if is.Fields != nil {
		c.Fields = make(map[string]any, len(is.Fields))
		for k, v := range is.Fields {
			c.Fields[k] = v
		}
	}
	return c
}

// issue is an Issue plus what the search index holds of it.
type issue struct {
	Issue
	indexed  *Issue    // the state search shows while the index lags; nil: not yet
	modified time.Time // last change
}

// find returns the issue with key or id; s.mu must be held.
func (s *Server) find(keyOrID string) *issue {
	for _, is := range s.issues {
		if is.Key == keyOrID || is.ID == keyOrID {
			return is
		}
	}
	return nil
}

// add stores a new issue; s.mu must be held.
func (s *Server) add(is Issue) *issue {
	s.nextID++
	now := s.now()
	is.ID = strconv.Itoa(s.nextID)
	is.Key = fmt.Sprintf("%s-%d", s.opts.Project, len(s.issues)+1)
	if is.Status == "" {
		is.Status = "To Do"
	}
	if is.IssueType == "" {
		is.IssueType = "Task"
	}
	if is.Created.IsZero() {
		is.Created = now
	}
	if is.Updated.IsZero() {
		is.Updated = is.Created
	}
	n := &issue{Issue: is, modified: now}
	s.issues = append(s.issues, n)
	return n
}

// modify changes an issue as author did, recording items in its changelog
// and bumping updated; s.mu must be held.
func (s *Server) modify(is *issue, author string, items []Item, change func(*Issue)) {
	now := s.now()
	if s.opts.IndexLag > 0 && !now.Before(is.modified.Add(s.opts.IndexLag)) {
		snap := is.Issue.clone() // the index caught up with the last change
		is.indexed = &snap
	}
	change(&is.Issue)
	is.modified = now
	is.Updated = now
	if len(items) > 0 {
		s.nextID++
		is.Changelog = append(is.Changelog, History{ID: strconv.Itoa(s.nextID), Author: s.person(author), Created: now, Items: items})
	}
}

// AddIssue stores an issue made by someone else (a Splunk alert action, a
// person) and returns its key. ID, Key and unset times are filled in.
func (s *Server) AddIssue(is Issue) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if is.Reporter == "" {
		is.Reporter = "someone"
	}
	return s.add(is.clone()).Key
}

// Issue returns a copy of the issue with key or id.
func (s *Server) Issue(key string) (Issue, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.find(key)
	if is == nil {
		return Issue{}, false
	}
	return is.Issue.clone(), true
}

// Issues returns copies of all issues, oldest first.
func (s *Server) Issues() []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Issue, len(s.issues))
	for i, is := range s.issues {
		out[i] = is.Issue.clone()
	}
	return out
}

// SetField sets a custom field of the issue as by did in Jira's UI (an
// edit recorded in the changelog, bumping updated).
func (s *Server) SetField(key, field string, value any, by string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.find(key)
	if is == nil {
		return fmt.Errorf("jiratest: no issue %s", key)
	}
	from := fmt.Sprint(is.Fields[field])
	s.modify(is, by, []Item{{Field: field, From: from, To: fmt.Sprint(value)}}, func(i *Issue) {
		if i.Fields == nil {
			i.Fields = map[string]any{}
		}
		i.Fields[field] = value
	})
	return nil
}

// AddComment adds a comment as by did in Jira's UI (REST v2 wiki text).
func (s *Server) AddComment(key, by, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.find(key)
	if is == nil {
		return fmt.Errorf("jiratest: no issue %s", key)
	}
	s.nextID++
	c := Comment{ID: strconv.Itoa(s.nextID), Author: by, API: "2", Body: text, Created: s.now()}
	s.modify(is, by, nil, func(i *Issue) { i.Comments = append(i.Comments, c) })
	return nil
}

// AddLabel adds label to the issue as by did in Jira's UI.
func (s *Server) AddLabel(key, label, by string) error {
	return s.changeLabels(key, by, func(ls []string) []string {
		if slices.Contains(ls, label) {
			return ls
		}
		return append(ls, label)
	})
}

// RemoveLabel removes label from the issue as by did.
func (s *Server) RemoveLabel(key, label, by string) error {
	return s.changeLabels(key, by, func(ls []string) []string {
		return slices.DeleteFunc(ls, func(l string) bool { return l == label })
	})
}

func (s *Server) changeLabels(key, by string, f func([]string) []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.find(key)
	if is == nil {
		return fmt.Errorf("jiratest: no issue %s", key)
	}
	s.setLabels(is, by, f(slices.Clone(is.Labels)))
	return nil
}

// setLabels records a labels change; s.mu must be held.
func (s *Server) setLabels(is *issue, by string, to []string) {
	from := strings.Join(is.Labels, " ")
	if from == strings.Join(to, " ") {
		return
	}
	s.modify(is, by, []Item{{Field: "labels", From: from, To: strings.Join(to, " ")}}, func(i *Issue) { i.Labels = to })
}

// create handles POST /issue.
func (s *Server) create(w http.ResponseWriter, version string, body []byte) {
	var req struct {
		Fields map[string]json.RawMessage `json:"fields"`
		Update map[string]json.RawMessage `json:"update"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Fields == nil {
		badRequest(w, []string{"Invalid request payload. Refer to the REST API documentation and try again."}, nil)
		return
	}
	is, fieldErrs, msgs := s.issueFromFields(version, req.Fields)
	if len(fieldErrs) > 0 || len(msgs) > 0 {
		badRequest(w, msgs, fieldErrs)
		return
	}
	s.mu.Lock()
	is.Reporter = s.opts.Account
	n := s.add(is)
	id, key := n.ID, n.Key
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]string{"id": id, "key": key, "self": s.URL + "/rest/api/" + version + "/issue/" + id})
}

// issueFromFields checks a create's fields as Jira does.
func (s *Server) issueFromFields(version string, fields map[string]json.RawMessage) (Issue, map[string]string, []string) {
	errs := map[string]string{}
	var msgs []string
	is := Issue{Fields: map[string]any{}}
	var ref struct{ Key, ID, Name string }
	for name, raw := range fields {
		ref.Key, ref.ID, ref.Name = "", "", ""
		switch name {
		case "project":
			if json.Unmarshal(raw, &ref) != nil || ref.Key != s.opts.Project {
				errs["project"] = "valid project is required"
			}
		case "issuetype":
			if json.Unmarshal(raw, &ref) != nil || (ref.Name == "" && ref.ID == "") {
				errs["issuetype"] = "valid issue type is required"
			}
			is.IssueType = ref.Name
		case "summary":
			if json.Unmarshal(raw, &is.Summary) != nil {
				errs["summary"] = "Operation value must be a string"
			} else if msg := s.checkSummary(is.Summary); msg != "" {
				errs["summary"] = msg
			}
		case "description":
			d, msg, fatal := checkBody(version, raw)
			if fatal != "" {
				msgs = append(msgs, fatal)
			} else if msg != "" {
				errs["description"] = msg
			}
			is.Description = d
		case "labels":
			if json.Unmarshal(raw, &is.Labels) != nil {
				errs["labels"] = "Operation value must be an array of strings"
			} else if msg := checkLabels(is.Labels); msg != "" {
				errs["labels"] = msg
			}
		case "priority":
			if json.Unmarshal(raw, &ref) != nil || !slices.Contains([]string{"Highest", "High", "Medium", "Low", "Lowest"}, ref.Name) {
				errs["priority"] = fmt.Sprintf("Priority name '%s' is not valid", ref.Name)
			}
			is.Priority = ref.Name
		case "components":
			var cs []struct{ Name string }
			if json.Unmarshal(raw, &cs) != nil {
				errs["components"] = "Operation value must be an array"
			}
			for _, c := range cs {
				is.Components = append(is.Components, c.Name)
			}
		case "assignee":
			a, msg := s.checkUser(raw)
			if msg != "" {
				errs["assignee"] = msg
			}
			is.Assignee = a
		default:
			if !strings.HasPrefix(name, "customfield_") {
				errs[name] = fmt.Sprintf("Field '%s' cannot be set. It is not on the appropriate screen, or unknown.", name)
				continue
			}
			var v any
			_ = json.Unmarshal(raw, &v)
			is.Fields[name] = v
		}
	}
	if _, ok := fields["summary"]; !ok {
		errs["summary"] = "You must specify a summary of the issue."
	}
	if _, ok := fields["project"]; !ok {
		errs["project"] = "project is required"
	}
	return is, errs, msgs
}

func (s *Server) checkSummary(v string) string {
	switch {
	case strings.ContainsAny(v, "\r\n"):
		return "The summary is invalid because it contains newline characters."
	case javaLen(v) > 255 && s.opts.Flavor == Cloud:
		return "Summary can't exceed 255 characters."
	case javaLen(v) > 255:
		return "Summary must be less than 255 characters."
	}
	return ""
}

func checkLabels(ls []string) string {
	for _, l := range ls {
		if strings.IndexFunc(l, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }) >= 0 {
			return fmt.Sprintf("The label '%s' contains spaces which is invalid.", l)
		}
		if javaLen(l) > 255 {
			return fmt.Sprintf("The label '%s' exceeds the maximum length for a single label of 255 characters", l)
		}
	}
	return ""
}

// checkUser reads a user reference: Cloud names people by accountId only
// (GDPR), Data Center by name.
func (s *Server) checkUser(raw json.RawMessage) (string, string) {
	var u struct {
		AccountID *string `json:"accountId"`
		Name      *string `json:"name"`
	}
	if json.Unmarshal(raw, &u) != nil {
		return "", "Operation value must be an object"
	}
	if s.opts.Flavor == Cloud {
		if u.AccountID == nil {
			return "", "Specify a valid value for assignee: accountId is required"
		}
		return *u.AccountID, ""
	}
	if u.Name == nil {
		return "", "Specify a valid value for assignee: name is required"
	}
	return *u.Name, ""
}
