// Package jiratest is a fake Jira for tests: an httptest server on
// 127.0.0.1 that speaks the REST API patrol uses, as Jira Cloud or as Jira
// Data Center, including the behaviours that break naive clients:
//
//   - Cloud answers the removed /rest/api/{2,3}/search with 410 and the real
//     body; /search/jql pages by nextPageToken until isLast, returns ids
//     only unless fields are asked for, rejects unbounded JQL, and can lag
//     behind writes (IndexLag) unless the issue is in reconcileIssues.
//   - Data Center has /rest/api/2/search (startAt/total) and no /search/jql
//     or REST v3 (404).
//   - JQL date literals are read in the account's time zone (TimeZone),
//     with minute precision; times are written as 2026-11-22T08:01:02.345+0000.
//   - Creates and comments are checked like Jira does (summary length and
//     newlines, label spaces, 32,767-char bodies, ADF on v3, wiki strings on
//     v2, go-jira's empty author objects), with Jira's error bodies.
//   - Faults (429 with Retry-After, 5xx, lost responses) can be injected.
package jiratest

import (
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

//go:embed samples/*.json
var samples embed.FS

// Flavor is the kind of Jira the server plays.
type Flavor string

// The two flavors.
const (
	Cloud      Flavor = "cloud"
	DataCenter Flavor = "datacenter"
)

// TimeLayout is how Jira writes times.
const TimeLayout = "2006-01-02T15:04:05.000-0700"

// Options configure a Server. Zero values get the defaults noted.
type Options struct {
	Flavor  Flavor // default Cloud
	Project string // default "SEC"
	// User and Token are the credentials the server accepts: Cloud basic
	// auth with User (e-mail) and Token; Data Center a bearer Token (PAT),
	// or basic auth when User is set. Defaults "bot@example.com", "token".
	User  string
	Token string
	// Account is the authenticated account: Cloud accountId, Data Center
	// user name (default "patrol-bot").
	Account string
	// TimeZone is the account's zone: /myself reports it and JQL date
	// literals are read in it (default "UTC").
	TimeZone string
	// IndexLag (Cloud) is how long after a change search still shows the
	// issue as it was before (or not at all, if new).
	IndexLag time.Duration
	// MaxPage caps the issues on one search page (default 50).
	MaxPage int
	// Now is the server's clock (default time.Now).
	Now func() time.Time
	// Transitions is the workflow (default To Do, In Progress, Done).
	Transitions []Transition
}

// Transition is one workflow transition.
type Transition struct {
	ID, Name, To string
}

// Request is a request the server received.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Body   []byte
	Header http.Header
}

// Server is a running fake Jira.
type Server struct {
	URL  string
	opts Options
	zone *time.Location
	srv  *httptest.Server

	onSearch func(n int) // called before the nth search is answered

	mu       sync.Mutex
	searches int
	issues   []*issue
	users    []*user // Data Center's user directory
	faults   []*Fault
	requests []Request
	nextID   int
}

// New starts a fake Jira on 127.0.0.1 and stops it when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Start starts a fake Jira on 127.0.0.1; Close stops it.
func Start(opts Options) (*Server, error) {
	if opts.Flavor == "" {
		opts.Flavor = Cloud
	}
	if opts.Project == "" {
		opts.Project = "SEC"
	}
	if opts.User == "" && opts.Flavor == Cloud {
		opts.User = "bot@example.com"
	}
	if opts.Token == "" {
		opts.Token = "token"
	}
	if opts.Account == "" {
		opts.Account = "patrol-bot"
	}
	if opts.TimeZone == "" {
		opts.TimeZone = "UTC"
	}
	if opts.MaxPage <= 0 {
		opts.MaxPage = 50
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Transitions == nil {
		opts.Transitions = []Transition{{"11", "To Do", "To Do"}, {"21", "In Progress", "In Progress"}, {"31", "Done", "Done"}}
	}
	zone, err := time.LoadLocation(opts.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("jiratest: time zone: %w", err)
	}
	s := &Server{opts: opts, zone: zone, nextID: 10000}
	if opts.Flavor == DataCenter {
		s.users = []*user{{key: "JIRAUSER10100", name: opts.Account}}
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve)) // binds 127.0.0.1
	s.URL = s.srv.URL
	return s, nil
}

// OnSearch sets a hook run before each search (/search, /search/jql) is
// answered, with its 1-based number: tests change issues between pages.
func (s *Server) OnSearch(f func(n int)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onSearch = f
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Fail injects a fault.
func (s *Server) Fail(f Fault) {
	if f.Times == 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Count is how many requests matched method and path (exact).
func (s *Server) Count(method, path string) int {
	n := 0
	for _, r := range s.Requests() {
		if (method == "" || r.Method == method) && r.Path == path {
			n++
		}
	}
	return n
}

func (s *Server) now() time.Time { return s.opts.Now() }

// fmtTime writes t as Jira does, in the account's zone.
func (s *Server) fmtTime(t time.Time) string { return t.In(s.zone).Format(TimeLayout) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Body: body, Header: r.Header.Clone()})
	fault := s.takeFault(r)
	s.mu.Unlock()

	if !s.authorized(r) {
		writeJSON(w, http.StatusUnauthorized, errorBody([]string{"Client must be authenticated to access this resource."}, nil))
		return
	}
	if fault != nil && fault.Delay > 0 {
		select {
		case <-time.After(fault.Delay):
		case <-r.Context().Done():
			return
		}
	}
	if fault != nil && fault.Apply {
		s.route(httptest.NewRecorder(), r, body)
	}
	if fault != nil && fault.Hold != nil {
		select {
		case <-fault.Hold:
		case <-r.Context().Done():
			return
		}
	}
	if fault != nil {
		writeFault(w, fault)
		return
	}
	s.route(w, r, body)
}

func (s *Server) authorized(r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	if s.opts.User != "" {
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte(s.opts.User+":"+s.opts.Token))
		if auth == want {
			return true
		}
	}
	return s.opts.Flavor == DataCenter && auth == "Bearer "+s.opts.Token
}

// route dispatches on the path.
func (s *Server) route(w http.ResponseWriter, r *http.Request, body []byte) {
	p := r.URL.Path
	version := ""
	switch {
	case strings.HasPrefix(p, "/rest/api/2/"):
		version, p = "2", strings.TrimPrefix(p, "/rest/api/2")
	case strings.HasPrefix(p, "/rest/api/3/") && s.opts.Flavor == Cloud:
		version, p = "3", strings.TrimPrefix(p, "/rest/api/3")
	default:
		notFound(w)
		return
	}
	parts := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case p == "/serverInfo" && r.Method == http.MethodGet:
		s.serverInfo(w)
	case p == "/myself" && r.Method == http.MethodGet:
		s.myself(w)
	case p == "/user" && r.Method == http.MethodGet && s.opts.Flavor == DataCenter:
		s.getUser(w, r.URL.Query())
	case p == "/search":
		s.beforeSearch()
		s.searchLegacy(w, r, body)
	case p == "/search/jql":
		s.beforeSearch()
		s.searchJQL(w, r, body)
	case p == "/issue" && r.Method == http.MethodPost:
		s.create(w, version, body)
	case len(parts) == 2 && parts[0] == "issue":
		switch r.Method {
		case http.MethodGet:
			s.getIssue(w, r, parts[1])
		case http.MethodPut:
			s.editIssue(w, parts[1], body)
		default:
			notFound(w)
		}
	case len(parts) == 3 && parts[0] == "issue" && parts[2] == "comment" && r.Method == http.MethodPost:
		s.addComment(w, version, parts[1], body)
	case len(parts) == 3 && parts[0] == "issue" && parts[2] == "comment" && r.Method == http.MethodGet:
		s.listComments(w, r, version, parts[1])
	case len(parts) == 3 && parts[0] == "issue" && parts[2] == "transitions":
		if r.Method == http.MethodPost {
			s.doTransition(w, parts[1], body)
		} else {
			s.listTransitions(w, parts[1])
		}
	case p == "/issueLink" && r.Method == http.MethodPost:
		s.linkIssues(w, body)
	case len(parts) == 3 && parts[0] == "issue" && parts[2] == "changelog" && s.opts.Flavor == Cloud:
		s.changelog(w, r, parts[1])
	default:
		notFound(w)
	}
}

func (s *Server) beforeSearch() {
	s.mu.Lock()
	s.searches++
	n, f := s.searches, s.onSearch
	s.mu.Unlock()
	if f != nil {
		f(n)
	}
}

func (s *Server) serverInfo(w http.ResponseWriter) {
	name := "samples/serverinfo-cloud.json"
	if s.opts.Flavor == DataCenter {
		name = "samples/serverinfo-openapi.json"
	}
	info := sample(name)
	info["baseUrl"] = s.URL
	info["serverTime"] = s.fmtTime(s.now())
	if s.opts.Flavor == DataCenter {
		info["deploymentType"] = "Server"
		info["version"] = "9.12.15"
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) myself(w http.ResponseWriter) {
	me := sample("samples/myself.json")
	me["timeZone"] = s.opts.TimeZone
	me["self"] = s.URL + "/rest/api/2/user?accountId=" + s.opts.Account
	if s.opts.Flavor == Cloud {
		me["accountId"] = s.opts.Account
		me["name"], me["key"] = "", ""
	} else {
		delete(me, "accountId")
		delete(me, "accountType")
		me["name"], me["key"] = s.opts.Account, "JIRAUSER10100"
		me["self"] = s.URL + "/rest/api/2/user?username=" + s.opts.Account
	}
	writeJSON(w, http.StatusOK, me)
}

func sample(name string) map[string]any {
	b, err := samples.ReadFile(name)
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	return m
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func errorBody(messages []string, fields map[string]string) map[string]any {
	if messages == nil {
		messages = []string{}
	}
	if fields == nil {
		fields = map[string]string{}
	}
	return map[string]any{"errorMessages": messages, "errors": fields}
}

func badRequest(w http.ResponseWriter, messages []string, fields map[string]string) {
	writeJSON(w, http.StatusBadRequest, errorBody(messages, fields))
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, errorBody([]string{"No resource found for this path."}, nil))
}

func noIssue(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, errorBody([]string{"Issue does not exist or you do not have permission to see it."}, nil))
}
