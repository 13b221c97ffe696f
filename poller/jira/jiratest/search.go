package jiratest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// searchParams are a search's inputs, from the query string (GET) or the
// JSON body (POST).
type searchParams struct {
	JQL             string   `json:"jql"`
	NextPageToken   string   `json:"nextPageToken"`
	StartAt         int      `json:"startAt"`
	MaxResults      int      `json:"maxResults"`
	Fields          []string `json:"fields"`
	ReconcileIssues []int    `json:"reconcileIssues"`
}

func readSearch(r *http.Request, body []byte) (searchParams, bool) {
	var p searchParams
	if r.Method == http.MethodPost {
		return p, json.Unmarshal(body, &p) == nil
	}
	q := r.URL.Query()
	p.JQL = q.Get("jql")
	p.NextPageToken = q.Get("nextPageToken")
	p.StartAt, _ = strconv.Atoi(q.Get("startAt"))
	p.MaxResults, _ = strconv.Atoi(q.Get("maxResults"))
	p.Fields = splitList(q["fields"])
	for _, id := range splitList(q["reconcileIssues"]) {
		n, err := strconv.Atoi(id)
		if err != nil {
			return p, false
		}
		p.ReconcileIssues = append(p.ReconcileIssues, n)
	}
	return p, true
}

// run finds the issues matching p.JQL as search sees them, in order.
func (s *Server) run(w http.ResponseWriter, p searchParams) ([]*Issue, bool) {
	q, err := parseJQL(p.JQL)
	if err != nil {
		badRequest(w, []string{"Error in the JQL Query: " + err.Error()}, nil)
		return nil, false
	}
	if s.opts.Flavor == Cloud && len(q.clauses) == 0 {
		badRequest(w, []string{"Unbounded JQL queries are not allowed here. Please add a search restriction to your query."}, nil)
		return nil, false
	}
	reconcile := map[string]bool{}
	for _, id := range p.ReconcileIssues {
		reconcile[strconv.Itoa(id)] = true
	}
	now := s.now()
	var out []*Issue
	for _, is := range s.issues {
		view := &is.Issue
		if s.opts.IndexLag > 0 && !reconcile[is.ID] && now.Before(is.modified.Add(s.opts.IndexLag)) {
			view = is.indexed // the index has not caught up
		}
		if view == nil {
			continue
		}
		ok, err := q.match(view, s.opts.Project, s.zone)
		if err != nil {
			badRequest(w, []string{"Error in the JQL Query: " + err.Error()}, nil)
			return nil, false
		}
		if ok {
			out = append(out, view)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return q.less(out[i], out[j]) })
	return out, true
}

func (s *Server) pageSize(n int) int {
	if n <= 0 {
		n = 50
	}
	return min(n, s.opts.MaxPage)
}

// searchJQL handles Cloud's enhanced search, /search/jql: token paging,
// isLast, no total, ids only unless fields are asked for.
func (s *Server) searchJQL(w http.ResponseWriter, r *http.Request, body []byte) {
	if s.opts.Flavor != Cloud {
		notFound(w)
		return
	}
	p, ok := readSearch(r, body)
	if !ok {
		badRequest(w, []string{"Invalid request payload. Refer to the REST API documentation and try again."}, nil)
		return
	}
	if len(p.ReconcileIssues) > 50 {
		badRequest(w, []string{"reconcileIssues accepts at most 50 issue ids."}, nil)
		return
	}
	start := 0
	if p.NextPageToken != "" {
		raw, err := base64.RawURLEncoding.DecodeString(p.NextPageToken)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(raw), "offset:"))
		if err != nil || err2 != nil || !strings.HasPrefix(string(raw), "offset:") {
			badRequest(w, []string{"The provided next page token is invalid or expired."}, nil)
			return
		}
		start = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	found, ok := s.run(w, p)
	if !ok {
		return
	}
	start = min(start, len(found))
	end := min(start+s.pageSize(p.MaxResults), len(found))
	issues := []any{}
	for _, is := range found[start:end] {
		if len(p.Fields) == 0 || (len(p.Fields) == 1 && p.Fields[0] == "id") {
			issues = append(issues, map[string]any{"id": is.ID}) // the default: ids only
			continue
		}
		issues = append(issues, s.issueJSON(is, p.Fields, "2"))
	}
	resp := map[string]any{"issues": issues, "isLast": end >= len(found)}
	if end < len(found) {
		resp["nextPageToken"] = base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
	}
	writeJSON(w, http.StatusOK, resp)
}

// searchLegacy handles /search: removed on Cloud (410), startAt/total
// paging on Data Center.
func (s *Server) searchLegacy(w http.ResponseWriter, r *http.Request, body []byte) {
	if s.opts.Flavor == Cloud {
		gone, _ := samples.ReadFile("samples/search-410.json")
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(http.StatusGone)
		_, _ = w.Write(gone)
		return
	}
	p, ok := readSearch(r, body)
	if !ok {
		badRequest(w, []string{"Invalid request payload. Refer to the REST API documentation and try again."}, nil)
		return
	}
	if len(p.Fields) == 0 {
		p.Fields = []string{"*navigable"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	found, ok := s.run(w, p)
	if !ok {
		return
	}
	size := s.pageSize(p.MaxResults)
	start := min(max(p.StartAt, 0), len(found))
	end := min(start+size, len(found))
	issues := []any{}
	for _, is := range found[start:end] {
		issues = append(issues, s.issueJSON(is, p.Fields, "2"))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"expand": "schema,names", "startAt": start, "maxResults": size, "total": len(found), "issues": issues,
	})
}
