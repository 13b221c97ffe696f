package jiratest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
)

// doneStatus reports whether a status is in Jira's "done" category.
func doneStatus(status string) bool {
	return status == "Done" || status == "Closed" || status == "Resolved"
}

// Resolve moves the issue to status with a resolution, as by did in Jira's
// UI (a transition screen with the Resolution field): one changelog entry
// with both changes.
func (s *Server) Resolve(key, status, resolution, by string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.find(key)
	if is == nil {
		return fmt.Errorf("jiratest: no issue %s", key)
	}
	items := []Item{{Field: "status", From: is.Status, To: status}, {Field: "resolution", From: is.Resolution, To: resolution}}
	s.modify(is, by, items, func(i *Issue) { i.Status, i.Resolution = status, resolution })
	return nil
}

// linkIssues handles POST /issueLink: 201 and no body, as Jira answers.
// Linking two issues again makes no second link.
func (s *Server) linkIssues(w http.ResponseWriter, body []byte) {
	var req struct {
		Type struct {
			Name string `json:"name"`
		} `json:"type"`
		Inward  struct{ Key string } `json:"inwardIssue"`
		Outward struct{ Key string } `json:"outwardIssue"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Type.Name == "" {
		badRequest(w, []string{"Issue link type is required."}, nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in, out := s.find(req.Inward.Key), s.find(req.Outward.Key)
	if in == nil || out == nil {
		writeJSON(w, http.StatusNotFound, errorBody([]string{"No issue link type with name '" + req.Type.Name + "' found, or an issue does not exist."}, nil))
		return
	}
	if !slices.Contains(in.Links, out.Key) {
		s.modify(in, s.opts.Account, []Item{{Field: "Link", To: "This issue relates to " + out.Key}}, func(i *Issue) { i.Links = append(i.Links, out.Key) })
		s.modify(out, s.opts.Account, []Item{{Field: "Link", To: "This issue relates to " + in.Key}}, func(i *Issue) { i.Links = append(i.Links, in.Key) })
	}
	w.WriteHeader(http.StatusCreated)
}
