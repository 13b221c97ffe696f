package jiratest

import (
	"io"
	"net/http"
	"strings"
	"time"
)

// Fault makes matching requests fail. Path matches the URL path exactly,
// or as a prefix when it ends in "*"; Method "" matches any method.
type Fault struct {
	Method, Path string
	Status       int
	Header       http.Header
	Body         string // JSON unless Header says otherwise
	Times        int    // how many requests fail (default 1)
	// Apply handles the request normally first and then answers with the
	// fault: the change happened but the client never learns it (a lost
	// response).
	Apply bool
	// After lets this many matching requests through before the fault
	// starts.
	After int
	// Delay makes the server take this long before it handles the request
	// (a slow Jira).
	Delay time.Duration
	// Hold, when set, makes the request wait (after it is applied, with
	// Apply) until Hold is closed or the client goes away: a request in
	// flight when its client dies.
	Hold <-chan struct{}
}

func (s *Server) takeFault(r *http.Request) *Fault {
	for _, f := range s.faults {
		if f.Times <= 0 || (f.Method != "" && f.Method != r.Method) {
			continue
		}
		if p, ok := strings.CutSuffix(f.Path, "*"); ok && strings.HasPrefix(r.URL.Path, p) || f.Path == r.URL.Path {
			if f.After > 0 {
				f.After--
				continue
			}
			f.Times--
			return f
		}
	}
	return nil
}

func writeFault(w http.ResponseWriter, f *Fault) {
	for k, v := range f.Header {
		w.Header()[k] = v
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	}
	w.WriteHeader(f.Status)
	_, _ = io.WriteString(w, f.Body)
}
