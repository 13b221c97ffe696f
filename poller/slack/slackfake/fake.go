// Package slackfake is a fake Slack for tests: an httptest server on
// 127.0.0.1 with the Web API methods patrol calls (chat.postMessage,
// chat.update, auth.test, apps.connections.open) as Slack answers them,
// Socket Mode over a loopback ws:// URL (hello, envelopes, acknowledgements,
// disconnects, pings: see socket.go) and response_url answers (interact.go). API errors are HTTP 200 with {"ok":false,"error":...}; a
// token is taken from the form or an Authorization bearer header; form and
// JSON bodies are accepted; each message gets a unique "sec.micro" ts;
// chat.update needs a channel ID and an existing ts. Unlike slack-go's
// slacktest it records every call and injects faults (429 with
// Retry-After, 5xx, ok:false).
package slackfake

import (
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

// Options configure a Server; zero values get the defaults noted.
type Options struct {
	Token string // accepted bot token (default "xoxb-test")
	// Channels maps names (with #) to IDs (default #security-alerts →
	// C0SECALERTS, #payments-sec → C0PAYMENTS).
	Channels map[string]string
	Now      func() time.Time // default time.Now
	// AppToken is the accepted app-level token (default "xapp-test").
	AppToken string
	AppID    string // default "A0PATROL"
	TeamID   string // default "T0PATROL"
	// PingInterval is how often a Socket Mode connection is pinged
	// (default 5s).
	PingInterval time.Duration
	// AckTimeout is how long an envelope may wait for its acknowledgement
	// (Slack's 3s).
	AckTimeout time.Duration
}

// Message is a message as the server holds it.
type Message struct {
	Channel  string // ID
	TS       string
	ThreadTS string // "" for a top-level message
	Text     string
	Blocks   json.RawMessage
	Updates  int // how often chat.update replaced it
}

// Call is one Web API call the server received.
type Call struct {
	Method string     // "chat.postMessage"
	Args   url.Values // form values (JSON bodies flattened to strings)
	Header http.Header
}

// Fault makes calls to Method fail Times times (default 1) with Status,
// Header and Body (default {"ok":false,"error":Error} at 200).
type Fault struct {
	Method string
	Status int
	Header http.Header
	Error  string // an ok:false error code
	Body   string
	Times  int
	After  int // matching calls let through before the fault starts
}

// Server is a running fake Slack.
type Server struct {
	// URL is the Web API base URL, with the trailing slash slack-go needs.
	URL  string
	opts Options
	srv  *httptest.Server

	mu           sync.Mutex
	messages     []*Message
	calls        []Call
	faults       []*Fault
	seq          int
	responseURLs map[string]*responseURL
	ephemerals   []Ephemeral

	sock socket
}

// New starts a fake Slack and stops it when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Token == "" {
		opts.Token = "xoxb-test"
	}
	if opts.Channels == nil {
		opts.Channels = map[string]string{"#security-alerts": "C0SECALERTS", "#payments-sec": "C0PAYMENTS"}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.AppToken == "" {
		opts.AppToken = "xapp-test"
	}
	if opts.AppID == "" {
		opts.AppID = "A0PATROL"
	}
	if opts.TeamID == "" {
		opts.TeamID = "T0PATROL"
	}
	if opts.PingInterval == 0 {
		opts.PingInterval = 5 * time.Second
	}
	if opts.AckTimeout == 0 {
		opts.AckTimeout = 3 * time.Second
	}
	s := &Server{opts: opts, responseURLs: map[string]*responseURL{}}
	s.sock = socket{tickets: map[string]bool{}, sent: map[string]time.Time{}, ackWait: make(chan struct{}), stopping: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", s.serve)
	mux.HandleFunc("/link/", s.link)
	mux.HandleFunc("/actions/", s.answer)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL + "/api/"
	t.Cleanup(func() {
		close(s.sock.stopping)
		for _, wc := range s.open() {
			wc.close()
		}
		s.srv.Close()
	})
	return s
}

// Fail injects a fault.
func (s *Server) Fail(f Fault) {
	if f.Times == 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// Messages returns copies of the messages, in posting order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	for i, m := range s.messages {
		out[i] = *m
	}
	return out
}

// Calls returns the calls received, faulted ones included.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Count is how many calls were made to method.
func (s *Server) Count(method string) int {
	n := 0
	for _, c := range s.Calls() {
		if c.Method == method {
			n++
		}
	}
	return n
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	if method == "apps.connections.open" {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.calls = append(s.calls, Call{Method: method, Args: url.Values{}, Header: r.Header.Clone()})
		if !s.fault(w, method) {
			s.openConnection(w, r)
		}
		return
	}
	args, err := readArgs(r)
	if err != nil {
		reply(w, map[string]any{"ok": false, "error": "invalid_form_data"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{Method: method, Args: args, Header: r.Header.Clone()})
	if s.fault(w, method) {
		return
	}
	token := args.Get("token")
	if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		token = b
	}
	if token == "" {
		reply(w, map[string]any{"ok": false, "error": "not_authed"})
		return
	}
	if token != s.opts.Token {
		reply(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	switch method {
	case "auth.test":
		reply(w, map[string]any{"ok": true, "url": "https://patrol-test.slack.com/", "team": "patrol-test",
			"user": "patrol", "team_id": "T0PATROL", "user_id": "U0PATROL", "bot_id": "B0PATROL"})
	case "chat.postMessage":
		s.post(w, args)
	case "chat.update":
		s.update(w, args)
	default:
		reply(w, map[string]any{"ok": false, "error": "unknown_method"})
	}
}

// fault answers with the next fault injected for method, if any.
func (s *Server) fault(w http.ResponseWriter, method string) bool {
	f := s.takeFault(method)
	if f == nil {
		return false
	}
	for k, v := range f.Header {
		w.Header()[k] = v
	}
	status, body := f.Status, f.Body
	if status == 0 {
		status = http.StatusOK
	}
	if body == "" && f.Error != "" {
		body = fmt.Sprintf(`{"ok":false,"error":%q}`, f.Error)
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
	return true
}

func (s *Server) takeFault(method string) *Fault {
	for _, f := range s.faults {
		if f.Times > 0 && f.Method == method {
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

// readArgs reads a form or JSON body into form-like values.
func readArgs(r *http.Request) (url.Values, error) {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			return nil, err
		}
		v := url.Values{}
		for k, x := range m {
			if s, ok := x.(string); ok {
				v.Set(k, s)
				continue
			}
			b, _ := json.Marshal(x)
			v.Set(k, string(b))
		}
		return v, nil
	}
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	return r.Form, nil
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

// resolve turns a channel name or ID into an ID.
func (s *Server) resolve(ch string) (string, bool) {
	if id, ok := s.opts.Channels[ch]; ok {
		return id, true
	}
	if id, ok := s.opts.Channels["#"+ch]; ok {
		return id, true
	}
	for _, id := range s.opts.Channels {
		if id == ch {
			return id, true
		}
	}
	return "", false
}

func (s *Server) find(channel, ts string) *Message {
	for _, m := range s.messages {
		if m.Channel == channel && m.TS == ts {
			return m
		}
	}
	return nil
}

func checkBlocks(raw string) bool {
	if raw == "" {
		return true
	}
	var blocks []map[string]any
	return json.Unmarshal([]byte(raw), &blocks) == nil && len(blocks) <= 50
}

func (s *Server) post(w http.ResponseWriter, args url.Values) {
	channel, ok := s.resolve(args.Get("channel"))
	switch {
	case !ok:
		reply(w, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	case args.Get("text") == "" && args.Get("blocks") == "":
		reply(w, map[string]any{"ok": false, "error": "no_text"})
		return
	case !checkBlocks(args.Get("blocks")):
		reply(w, map[string]any{"ok": false, "error": "invalid_blocks"})
		return
	}
	thread := args.Get("thread_ts")
	if thread != "" && s.find(channel, thread) == nil {
		reply(w, map[string]any{"ok": false, "error": "thread_not_found"})
		return
	}
	s.seq++
	ts := fmt.Sprintf("%d.%06d", s.opts.Now().Unix(), s.seq)
	m := &Message{Channel: channel, TS: ts, ThreadTS: thread, Text: args.Get("text"), Blocks: json.RawMessage(args.Get("blocks"))}
	s.messages = append(s.messages, m)
	reply(w, map[string]any{"ok": true, "channel": channel, "ts": ts,
		"message": map[string]any{"type": "message", "subtype": "bot_message", "text": m.Text, "ts": ts, "thread_ts": thread, "bot_id": "B0PATROL"}})
}

func (s *Server) update(w http.ResponseWriter, args url.Values) {
	channel := args.Get("channel")
	if strings.HasPrefix(channel, "#") {
		reply(w, map[string]any{"ok": false, "error": "channel_not_found"}) // needs the ID
		return
	}
	m := s.find(channel, args.Get("ts"))
	if m == nil {
		reply(w, map[string]any{"ok": false, "error": "message_not_found"})
		return
	}
	if !checkBlocks(args.Get("blocks")) {
		reply(w, map[string]any{"ok": false, "error": "invalid_blocks"})
		return
	}
	m.Text = args.Get("text")
	if b := args.Get("blocks"); b != "" {
		m.Blocks = json.RawMessage(b)
	}
	m.Updates++
	reply(w, map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS, "text": m.Text,
		"message": map[string]any{"text": m.Text, "user": "U0PATROL"}})
}
