package jiratest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// getIssue handles GET /issue/{key}[?fields=&expand=changelog].
func (s *Server) getIssue(w http.ResponseWriter, r *http.Request, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.find(key)
	if is == nil {
		noIssue(w)
		return
	}
	fields := splitList(r.URL.Query()["fields"])
	if len(fields) == 0 {
		fields = []string{"*all"}
	}
	m := s.issueJSON(&is.Issue, fields, "2")
	if strings.Contains(r.URL.Query().Get("expand"), "changelog") {
		m["changelog"] = s.changelogJSON(is.Changelog)
	}
	writeJSON(w, http.StatusOK, m)
}

// cloudChangelogCap is how many changelog entries Cloud returns with
// expand=changelog; the rest must be paged from /changelog.
const cloudChangelogCap = 20

func (s *Server) changelogJSON(hs []History) map[string]any {
	total := len(hs)
	if s.opts.Flavor == Cloud && len(hs) > cloudChangelogCap {
		hs = hs[len(hs)-cloudChangelogCap:]
	}
	return map[string]any{"startAt": 0, "maxResults": len(hs), "total": total, "histories": s.historiesJSON(hs)}
}

func (s *Server) historiesJSON(hs []History) []any {
	out := make([]any, 0, len(hs))
	for _, h := range hs {
		items := make([]any, 0, len(h.Items))
		for _, it := range h.Items {
			items = append(items, map[string]any{"field": it.Field, "fieldtype": "jira", "from": nil, "fromString": it.From, "to": nil, "toString": it.To})
		}
		out = append(out, map[string]any{"id": h.ID, "author": s.userJSON(h.Author), "created": s.fmtTime(h.Created), "items": items})
	}
	return out
}

// changelog handles Cloud's GET /issue/{key}/changelog (paged).
func (s *Server) changelog(w http.ResponseWriter, r *http.Request, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.find(key)
	if is == nil {
		noIssue(w)
		return
	}
	start, _ := strconv.Atoi(r.URL.Query().Get("startAt"))
	size, _ := strconv.Atoi(r.URL.Query().Get("maxResults"))
	if size <= 0 || size > 100 {
		size = 100
	}
	size = min(size, s.opts.MaxPage)
	hs := is.Changelog
	start = min(max(start, 0), len(hs))
	end := min(start+size, len(hs))
	writeJSON(w, http.StatusOK, map[string]any{
		"self": s.URL + r.URL.String(), "startAt": start, "maxResults": size, "total": len(hs),
		"isLast": end >= len(hs), "values": s.historiesJSON(hs[start:end]),
	})
}

// editIssue handles PUT /issue/{key}: "fields" set (labels replace all),
// "update" operations add/remove/set.
func (s *Server) editIssue(w http.ResponseWriter, key string, body []byte) {
	var req struct {
		Fields map[string]json.RawMessage              `json:"fields"`
		Update map[string][]map[string]json.RawMessage `json:"update"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		badRequest(w, []string{"Invalid request payload. Refer to the REST API documentation and try again."}, nil)
		return
	}
	for name := range req.Fields {
		if _, both := req.Update[name]; both {
			badRequest(w, nil, map[string]string{name: fmt.Sprintf("Field '%s' cannot be set in both fields and update.", name)})
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.find(key)
	if is == nil {
		noIssue(w)
		return
	}
	errs := map[string]string{}
	labels := slices.Clone(is.Labels)
	components := slices.Clone(is.Components)
	assignee := is.Assignee
	for name, raw := range req.Fields {
		switch name {
		case "labels":
			if json.Unmarshal(raw, &labels) != nil {
				errs[name] = "Operation value must be an array of strings"
			}
		case "assignee":
			a, msg := s.checkUser(raw)
			if msg != "" {
				errs[name] = msg
			}
			assignee = a
		default:
			errs[name] = fmt.Sprintf("Field '%s' cannot be set. It is not on the appropriate screen, or unknown.", name)
		}
	}
	for name, ops := range req.Update {
		for _, op := range ops {
			for verb, raw := range op {
				var err error
				switch name {
				case "labels":
					labels, err = applyOp(labels, verb, raw, func(raw json.RawMessage) (string, error) {
						var v string
						return v, json.Unmarshal(raw, &v)
					})
				case "components":
					components, err = applyOp(components, verb, raw, func(raw json.RawMessage) (string, error) {
						var v struct{ Name string }
						return v.Name, json.Unmarshal(raw, &v)
					})
				default:
					err = fmt.Errorf("Field '%s' cannot be set. It is not on the appropriate screen, or unknown.", name)
				}
				if err != nil {
					errs[name] = err.Error()
				}
			}
		}
	}
	if msg := checkLabels(labels); msg != "" {
		errs["labels"] = msg
	}
	if len(errs) > 0 {
		badRequest(w, nil, errs)
		return
	}
	var items []Item
	if j, k := strings.Join(is.Labels, " "), strings.Join(labels, " "); j != k {
		items = append(items, Item{Field: "labels", From: j, To: k})
	}
	if j, k := strings.Join(is.Components, ", "), strings.Join(components, ", "); j != k {
		items = append(items, Item{Field: "Component", From: j, To: k})
	}
	if assignee != is.Assignee {
		items = append(items, Item{Field: "assignee", From: is.Assignee, To: assignee})
	}
	if len(items) > 0 {
		s.modify(is, s.opts.Account, items, func(i *Issue) {
			i.Labels, i.Components, i.Assignee = labels, components, assignee
		})
	}
	w.WriteHeader(http.StatusNoContent)
}

func applyOp(list []string, verb string, raw json.RawMessage, decode func(json.RawMessage) (string, error)) ([]string, error) {
	if verb == "set" {
		var vs []json.RawMessage
		if err := json.Unmarshal(raw, &vs); err != nil {
			return list, fmt.Errorf("Operation value must be an array")
		}
		list = list[:0]
		for _, v := range vs {
			s, err := decode(v)
			if err != nil {
				return list, err
			}
			list = append(list, s)
		}
		return list, nil
	}
	v, err := decode(raw)
	if err != nil {
		return list, fmt.Errorf("Operation value is not valid")
	}
	switch verb {
	case "add":
		if !slices.Contains(list, v) {
			list = append(list, v)
		}
	case "remove":
		list = slices.DeleteFunc(list, func(l string) bool { return l == v })
	default:
		return list, fmt.Errorf("Operation '%s' is not supported", verb)
	}
	return list, nil
}

// addComment handles POST /issue/{key}/comment: {"body": wiki} on v2,
// {"body": ADF} on v3. go-jira v1's Comment struct also sends empty
// author/updateAuthor/visibility objects, which Cloud rejects.
func (s *Server) addComment(w http.ResponseWriter, version, key string, body []byte) {
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		badRequest(w, []string{"Invalid request payload. Refer to the REST API documentation and try again."}, nil)
		return
	}
	for _, k := range []string{"author", "updateAuthor", "visibility"} {
		if _, ok := req[k]; ok && s.opts.Flavor == Cloud {
			badRequest(w, []string{"Invalid request payload. Refer to the REST API documentation and try again."}, nil)
			return
		}
	}
	v, msg, fatal := checkBody(version, req["body"])
	if _, ok := req["body"]; !ok || fatal != "" || (msg != "" && msg != tooLong) {
		badRequest(w, []string{"Comment body is not valid!"}, nil)
		return
	}
	if msg != "" {
		badRequest(w, nil, map[string]string{"comment": msg})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.find(key)
	if is == nil {
		noIssue(w)
		return
	}
	s.nextID++
	c := Comment{ID: strconv.Itoa(s.nextID), Author: s.opts.Account, API: version, Body: v, Created: s.now()}
	s.modify(is, s.opts.Account, nil, func(i *Issue) { i.Comments = append(i.Comments, c) })
	writeJSON(w, http.StatusCreated, map[string]any{
		"id": c.ID, "self": s.URL + "/rest/api/" + version + "/issue/" + is.ID + "/comment/" + c.ID,
		"author": s.userJSON(c.Author), "updateAuthor": s.userJSON(c.Author), "body": v,
		"created": s.fmtTime(c.Created), "updated": s.fmtTime(c.Created),
	})
}

// listComments handles GET /issue/{key}/comment: a page (startAt,
// maxResults, default 100) ordered by created (orderBy=created, +created,
// -created), each body in the version asked for.
func (s *Server) listComments(w http.ResponseWriter, r *http.Request, version, key string) {
	q := r.URL.Query()
	start, _ := strconv.Atoi(q.Get("startAt"))
	max, err := strconv.Atoi(q.Get("maxResults"))
	if err != nil || max <= 0 || max > 100 {
		max = 100
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.find(key)
	if is == nil {
		noIssue(w)
		return
	}
	cs := slices.Clone(is.Comments)
	if q.Get("orderBy") == "-created" {
		slices.Reverse(cs)
	}
	page := []any{}
	for i := start; i < len(cs) && len(page) < max; i++ {
		c := cs[i]
		body := c.Body
		switch {
		case c.API == "2" && version == "3":
			body = adfParagraph(fmt.Sprint(c.Body))
		case c.API == "3" && version == "2":
			body = PlainText(c.Body)
		}
		page = append(page, map[string]any{
			"id": c.ID, "self": s.URL + "/rest/api/" + version + "/issue/" + is.ID + "/comment/" + c.ID,
			"author": s.userJSON(c.Author), "updateAuthor": s.userJSON(c.Author), "body": body,
			"created": s.fmtTime(c.Created), "updated": s.fmtTime(c.Created),
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"startAt": start, "maxResults": max, "total": len(cs), "comments": page})
}

// listTransitions handles GET /issue/{key}/transitions: every transition
// except the one into the current status.
func (s *Server) listTransitions(w http.ResponseWriter, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.find(key)
	if is == nil {
		noIssue(w)
		return
	}
	var trs []any
	for _, t := range s.opts.Transitions {
		if t.To == is.Status {
			continue
		}
		trs = append(trs, map[string]any{
			"id": t.ID, "name": t.Name, "hasScreen": false, "isAvailable": true, "isConditional": false,
			"isGlobal": true, "isInitial": false, "fields": map[string]any{},
			"to": map[string]any{"name": t.To, "id": "1" + t.ID, "self": s.URL + "/rest/api/2/status/1" + t.ID},
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"expand": "transitions", "transitions": trs})
}

// doTransition handles POST /issue/{key}/transitions: 204 and no body.
func (s *Server) doTransition(w http.ResponseWriter, key string, body []byte) {
	var req struct {
		Transition struct {
			ID string `json:"id"`
		} `json:"transition"`
	}
	_ = json.Unmarshal(body, &req)
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.find(key)
	if is == nil {
		noIssue(w)
		return
	}
	for _, t := range s.opts.Transitions {
		if t.ID == req.Transition.ID && t.To != is.Status {
			items := []Item{{Field: "status", From: is.Status, To: t.To}}
			if is.Resolution != "" && !doneStatus(t.To) {
				// Jira's workflows clear the resolution when an issue reopens.
				items = append(items, Item{Field: "resolution", From: is.Resolution})
			}
			s.modify(is, s.opts.Account, items, func(i *Issue) {
				i.Status = t.To
				if !doneStatus(t.To) {
					i.Resolution = ""
				}
			})
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	badRequest(w, []string{fmt.Sprintf("Transition id '%s' is not valid for this issue.", req.Transition.ID)}, nil)
}

func splitList(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
	}
	return out
}
