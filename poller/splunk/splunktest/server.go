// Package splunktest is a fake splunkd management API for tests and
// benchmarks: search jobs, results paging, export, the search parser, and
// the three auth schemes, following the wire behaviour in patrol's Splunk
// spec (specs/splunk.md §10). It answers XML unless output_mode=json is
// sent, so a client that forgets it fails as it would against Splunk.
//
// Data comes from events added with Add (filtered by the search's time
// bounds and its leading key=value terms) or from Generate (a lazily built
// result set of any size, for benchmarks). Job behaviour is scripted with
// PlanJobs (failures, truncation, slow jobs) and HTTP failures with Fail.
// The server binds 127.0.0.1 only.
package splunktest

import (
	"context"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options configures a fake.
type Options struct {
	// Token is the accepted bearer token; "" accepts none.
	Token string
	// Username and Password are accepted by Basic auth and auth/login.
	Username, Password string
	// TLS serves HTTPS with httptest's self-signed certificate (CertPEM).
	TLS bool
	// SessionIdle expires a session key unused this long (Splunk's
	// sessionTimeout); default 1h. Time is read from Now.
	SessionIdle time.Duration
	// MaxJobs is the concurrent-search quota: a dispatch or export beyond
	// it is refused with Splunk's 503 "maximum number of concurrent
	// historical searches" text. 0 means no quota.
	MaxJobs int
	// MaxResultRows caps rows per /results call (limits.conf
	// maxresultrows); default 50,000.
	MaxResultRows int
	// Zone is the offset _time is rendered in (the search user's time zone);
	// default UTC-8, so clients meet a non-zero offset.
	Zone *time.Location
	// Now is the fake's clock: session expiry, the default for the "now"
	// parameter, and which events are indexed yet (IndexTime <= Now).
	// Default time.Now.
	Now func() time.Time
	// Match overrides which added events a search returns; by default an
	// event matches when it has every key=value term of the leading search.
	Match func(spl string, e Event) bool
	// Plan is how jobs behave when no PlanJobs entry is queued.
	Plan JobPlan
	// Lookups are the lookup definitions that exist
	// (data/transforms/lookups/NAME answers 200 for them, 404 for others).
	Lookups []string
	// LookupRows are the contents of lookups, which exist too: a search
	// that begins "| inputlookup NAME" returns NAME's rows (and nothing
	// else of the pipeline is applied).
	LookupRows map[string][]map[string]string
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL, e.g. http://127.0.0.1:41234.
	URL string

	srv  *httptest.Server
	opts Options

	mu          sync.Mutex
	changed     chan struct{}
	events      []Event
	gen         *generator
	jobs        map[string]*job
	deleted     map[string]bool
	plans       []JobPlan
	faults      []Fault
	sessions    map[string]time.Time
	issued      []string
	requests    []Request
	dispatches  []url.Values
	sids        []string
	seq         int
	inFlight    int
	held        int
	maxInFlight int
	logins      int
	xml         int
}

// New starts a fake on 127.0.0.1 and stops it when the test ends.
func New(tb testing.TB, opts Options) *Server {
	tb.Helper()
	if opts.SessionIdle == 0 {
		opts.SessionIdle = time.Hour
	}
	if opts.MaxResultRows == 0 {
		opts.MaxResultRows = 50000
	}
	if opts.Zone == nil {
		opts.Zone = time.FixedZone("UTC-8", -8*3600)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:     opts,
		changed:  make(chan struct{}),
		jobs:     map[string]*job{},
		deleted:  map[string]bool{},
		sessions: map[string]time.Time{},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("splunktest: listen: %v", err)
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.Listener.Close()
	s.srv.Listener = ln
	// A client refusing the certificate is a test passing, not news.
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if opts.TLS {
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	s.URL = s.srv.URL
	tb.Cleanup(s.Close)
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// CertPEM returns the TLS certificate as PEM, for a client's ca_file.
func (s *Server) CertPEM() []byte {
	c := s.srv.Certificate()
	if c == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// Endpoint names a kind of request, for faults and the request log.
type Endpoint string

// The endpoints the fake serves.
const (
	Login    Endpoint = "login"
	Dispatch Endpoint = "dispatch" // POST search/jobs
	Status   Endpoint = "status"   // GET search/jobs/{sid}
	Results  Endpoint = "results"  // GET search/jobs/{sid}/results
	Delete   Endpoint = "delete"   // DELETE search/jobs/{sid}
	Export   Endpoint = "export"   // search/jobs/export
	Parser   Endpoint = "parser"   // GET search/parser
	Info     Endpoint = "info"     // GET server/info
	Lookup   Endpoint = "lookup"   // GET data/transforms/lookups/{name}
)

// Request is one request as the fake saw it.
type Request struct {
	Method, Path string
	Endpoint     Endpoint
	Owner, App   string // from /servicesNS/{owner}/{app}/; "" under /services/
	Form         url.Values
	AuthScheme   string // Bearer, Basic, Splunk or ""
	Status       int    // the status the fake answered
}

// Fault makes the fake answer requests to one endpoint with an error.
type Fault struct {
	Endpoint Endpoint
	Status   int
	// Text is the message; the body is {"messages":[{"type":Type,"text":Text}]}.
	Text string
	Type string // default ERROR
	// RetryAfter is sent as the Retry-After header when set.
	RetryAfter string
	// Times is how many requests it answers; default 1.
	Times int
}

// QuotaText is Splunk's refusal when a role's concurrent-search quota is full.
const QuotaText = `Search not executed: The maximum number of concurrent historical searches for this user based on their role quota has been reached., concurrency_category="historical", concurrency_context="user_instance-wide", current_concurrency=3, concurrency_limit=3`

// QuotaFault is the 503 Splunk answers a dispatch beyond the search quota.
func QuotaFault(times int) Fault {
	return Fault{Endpoint: Dispatch, Status: http.StatusServiceUnavailable, Text: QuotaText, Type: "WARN", Times: times}
}

// Fail queues f; faults for an endpoint apply in the order queued.
func (s *Server) Fail(f Fault) {
	if f.Times == 0 {
		f.Times = 1
	}
	if f.Type == "" {
		f.Type = "ERROR"
	}
	s.mu.Lock()
	s.faults = append(s.faults, f)
	s.mu.Unlock()
}

// takeFault returns the first queued fault for ep, using up one of its times.
func (s *Server) takeFault(ep Endpoint) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.faults {
		if s.faults[i].Endpoint == ep {
			f := s.faults[i]
			s.faults[i].Times--
			if s.faults[i].Times <= 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
			return f, true
		}
	}
	return Fault{}, false
}

// serve routes a request: auth/login, then /services/ or
// /servicesNS/{owner}/{app}/ followed by a search endpoint.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	rw := &recorder{ResponseWriter: w, status: http.StatusOK}
	req := Request{Method: r.Method, Path: r.URL.Path, Form: r.Form, AuthScheme: scheme(r.Header.Get("Authorization"))}
	defer func() {
		req.Status = rw.status
		s.mu.Lock()
		if len(s.requests) < 10000 { // bounded: benchmarks run many searches
			s.requests = append(s.requests, req)
		}
		s.mu.Unlock()
		s.notify()
	}()
	a := &answer{w: rw, json: r.Form.Get("output_mode") == "json", s: s}

	rest, ok := "", false
	p := r.URL.Path
	if after, found := strings.CutPrefix(p, "/services/"); found {
		rest, ok = after, true
	} else if after, found := strings.CutPrefix(p, "/servicesNS/"); found {
		parts := strings.SplitN(after, "/", 3)
		if len(parts) == 3 {
			req.Owner, req.App, rest, ok = parts[0], parts[1], parts[2], true
		}
	}
	if !ok {
		a.messages(http.StatusNotFound, "ERROR", "Not Found")
		return
	}
	if rest == "auth/login" && req.Owner == "" {
		req.Endpoint = Login
		if !s.fault(a, Login) {
			s.login(a, r)
		}
		return
	}
	if !s.authenticate(a, r) {
		return
	}
	switch {
	case rest == "search/jobs" && r.Method == http.MethodPost:
		req.Endpoint = Dispatch
		s.recordDispatch(r.Form)
		if !s.fault(a, Dispatch) {
			s.dispatch(a, r)
		}
	case rest == "search/jobs/export" && (r.Method == http.MethodPost || r.Method == http.MethodGet):
		req.Endpoint = Export
		s.recordDispatch(r.Form)
		if !s.fault(a, Export) {
			s.export(a, r)
		}
	case rest == "server/info" && r.Method == http.MethodGet:
		req.Endpoint = Info
		if !s.fault(a, Info) {
			s.serverInfo(a)
		}
	case strings.HasPrefix(rest, "data/transforms/lookups/") && r.Method == http.MethodGet:
		req.Endpoint = Lookup
		if !s.fault(a, Lookup) {
			s.lookupDefinition(a, strings.TrimPrefix(rest, "data/transforms/lookups/"))
		}
	case rest == "search/parser" && r.Method == http.MethodGet:
		req.Endpoint = Parser
		if !s.fault(a, Parser) {
			s.parser(a, r)
		}
	case strings.HasPrefix(rest, "search/jobs/"):
		sid, sub, _ := strings.Cut(strings.TrimPrefix(rest, "search/jobs/"), "/")
		switch {
		case sub == "" && r.Method == http.MethodGet:
			req.Endpoint = Status
			if !s.fault(a, Status) {
				s.status(a, r, sid)
			}
		case sub == "" && r.Method == http.MethodDelete:
			req.Endpoint = Delete
			if !s.fault(a, Delete) {
				s.deleteJob(a, sid)
			}
		case sub == "results" && r.Method == http.MethodGet:
			req.Endpoint = Results
			if !s.fault(a, Results) {
				s.results(a, r, sid)
			}
		default:
			a.messages(http.StatusNotFound, "ERROR", "Not Found")
		}
	default:
		a.messages(http.StatusNotFound, "ERROR", "Not Found")
	}
}

func (s *Server) recordDispatch(form url.Values) {
	s.mu.Lock()
	s.dispatches = append(s.dispatches, form)
	s.mu.Unlock()
}

// fault answers with the next queued fault for ep, if there is one.
func (s *Server) fault(a *answer, ep Endpoint) bool {
	f, ok := s.takeFault(ep)
	if !ok {
		return false
	}
	if f.RetryAfter != "" {
		a.w.Header().Set("Retry-After", f.RetryAfter)
	}
	a.messages(f.Status, f.Type, f.Text)
	return true
}

func scheme(h string) string {
	if i := strings.IndexByte(h, ' '); i > 0 {
		return h[:i]
	}
	return ""
}

// notify wakes Await callers after any change.
func (s *Server) notify() {
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// Await blocks until cond holds for the server's stats or ctx ends. It
// re-checks after every request, so tests wait on conditions, not time.
func (s *Server) Await(ctx context.Context, cond func(Stats) bool) error {
	for {
		s.mu.Lock()
		st := s.statsLocked()
		ch := s.changed
		s.mu.Unlock()
		if cond(st) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
