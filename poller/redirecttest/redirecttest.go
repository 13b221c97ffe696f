// Package redirecttest serves the tests that patrol's clients follow no
// redirect: a server answering every request with a 307 to a second one,
// on another port, which records whatever reaches it.
package redirecttest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Server is the redirecting server; URL is its address.
type Server struct {
	URL  string
	mu   sync.Mutex
	seen []string
}

// New starts the pair, closed when the test ends. The other server answers
// each request it gets with status and body.
func New(t testing.TB, status int, body string) *Server {
	t.Helper()
	s := &Server{}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.seen = append(s.seen, r.Method+" "+r.URL.Path+" auth="+r.Header.Get("Authorization")+" body="+string(b))
		s.mu.Unlock()
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(other.Close)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)
	s.URL = redirector.URL
	return s
}

// Seen returns what reached the other server since the last call, one
// "METHOD PATH auth=AUTHORIZATION body=BODY" a request, and forgets it.
func (s *Server) Seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := s.seen
	s.seen = nil
	return seen
}
