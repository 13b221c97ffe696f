package splunktest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// recorder keeps the status written, for the request log.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// Flush lets streaming answers (export) reach the client as they are made.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// answer writes a response in the format the request asked for: JSON with
// output_mode=json, XML (splunkd's default) otherwise.
type answer struct {
	w    *recorder
	json bool
	s    *Server
}

// Message is a Splunk message: type DEBUG, INFO, WARN, ERROR or FATAL.
type Message struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// messages answers splunkd's error envelope.
func (a *answer) messages(status int, typ, text string) {
	if a.json {
		a.jsonBody(status, map[string][]Message{"messages": {{Type: typ, Text: text}}})
		return
	}
	a.xmlBody(status, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response>\n  <messages>\n    <msg type=\""+typ+"\">"+xmlEscape(text)+"</msg>\n  </messages>\n</response>\n")
}

func (a *answer) jsonBody(status int, v any) {
	a.w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	a.w.WriteHeader(status)
	_ = json.NewEncoder(a.w).Encode(v)
}

func (a *answer) xmlBody(status int, body string) {
	a.s.mu.Lock()
	a.s.xml++
	a.s.mu.Unlock()
	a.w.Header().Set("Content-Type", "text/xml; charset=UTF-8")
	a.w.WriteHeader(status)
	_, _ = a.w.Write([]byte(body))
}

func (a *answer) noContent() { a.w.WriteHeader(http.StatusNoContent) }

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")

func xmlEscape(s string) string { return xmlEscaper.Replace(s) }

// Stats is a snapshot of what the fake has seen.
type Stats struct {
	Requests    int
	Dispatched  int // jobs created and exports started
	LiveJobs    int // jobs created and not yet deleted
	InFlight    int // live jobs plus exports still streaming
	Held        int // status polls waiting on a JobPlan's Hold right now
	MaxInFlight int // the most InFlight has been
	Logins      int
	XMLAnswers  int // answers in XML because output_mode=json was missing
}

func (s *Server) statsLocked() Stats {
	return Stats{
		Requests:    len(s.requests),
		Dispatched:  len(s.dispatches),
		LiveJobs:    len(s.jobs),
		InFlight:    s.inFlight,
		Held:        s.held,
		MaxInFlight: s.maxInFlight,
		Logins:      s.logins,
		XMLAnswers:  s.xml,
	}
}

// Stats returns counters of what the fake has seen.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statsLocked()
}

// Requests returns the requests seen so far (the first 10,000).
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Dispatches returns the parameters of every job dispatch and export, in
// order: what a client sent as search, earliest_time, index_earliest, ...
func (s *Server) Dispatches() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.dispatches...)
}

// Deleted reports whether the job sid was deleted by a client.
func (s *Server) Deleted(sid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleted[sid]
}

// Sids returns the sids of every job created, in order.
func (s *Server) Sids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.sids...)
}

func (s *Server) enter() {
	s.mu.Lock()
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	s.mu.Unlock()
}

func (s *Server) leave() {
	s.mu.Lock()
	s.inFlight--
	s.mu.Unlock()
}
