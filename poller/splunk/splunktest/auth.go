package splunktest

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
)

// authenticate checks the Authorization header as splunkd does and answers
// 401 with splunkd's bodies when it fails.
func (s *Server) authenticate(a *answer, r *http.Request) bool {
	h := r.Header.Get("Authorization")
	sch, cred, _ := strings.Cut(h, " ")
	switch sch {
	case "Bearer":
		if s.opts.Token != "" && cred == s.opts.Token {
			return true
		}
	case "Basic":
		if u, p, ok := r.BasicAuth(); ok && s.opts.Username != "" && u == s.opts.Username && p == s.opts.Password {
			return true
		}
		a.w.Header().Set("WWW-Authenticate", `Basic realm="/splunk"`)
		a.messages(http.StatusUnauthorized, "ERROR", "Unauthorized")
		return false
	case "Splunk":
		now := s.opts.Now()
		s.mu.Lock()
		last, ok := s.sessions[cred]
		if ok && now.Sub(last) < s.opts.SessionIdle {
			s.sessions[cred] = now
			s.mu.Unlock()
			return true
		}
		delete(s.sessions, cred)
		s.mu.Unlock()
	}
	a.messages(http.StatusUnauthorized, "WARN", "call not properly authenticated")
	return false
}

// login implements POST /services/auth/login.
func (s *Server) login(a *answer, r *http.Request) {
	if r.Method != http.MethodPost {
		a.messages(http.StatusMethodNotAllowed, "ERROR", "Method Not Allowed")
		return
	}
	u, p := r.PostForm.Get("username"), r.PostForm.Get("password")
	if u == "" || p == "" {
		a.messages(http.StatusBadRequest, "ERROR", "username or password not provided")
		return
	}
	if s.opts.Username == "" || u != s.opts.Username || p != s.opts.Password {
		a.messages(http.StatusUnauthorized, "WARN", "Login failed")
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	key := hex.EncodeToString(b)
	s.mu.Lock()
	s.sessions[key] = s.opts.Now()
	s.issued = append(s.issued, key)
	s.logins++
	s.mu.Unlock()
	if a.json {
		a.jsonBody(http.StatusOK, map[string]string{"sessionKey": key})
		return
	}
	a.xmlBody(http.StatusOK, "<response>\n  <sessionKey>"+key+"</sessionKey>\n</response>\n")
}

// ExpireSessions drops every session key, as a splunkd restart would.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	clear(s.sessions)
	s.mu.Unlock()
}

// SessionKeys returns every session key the fake has issued, expired or
// not, so tests can check a client never logs one.
func (s *Server) SessionKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issued...)
}
