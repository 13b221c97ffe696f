package slackfake

// Socket Mode, as Slack documents it (api.slack.com/apis/connections/socket
// and socket-implement): apps.connections.open, called with an app-level
// token in the Authorization header (a token in the body is refused), returns
// a one-use WebSocket URL. On connect Slack sends
//
//	{"type":"hello","num_connections":1,"debug_info":{...},"connection_info":{"app_id":"A…"}}
//
// then envelopes
//
//	{"envelope_id":"…","type":"interactive"|"events_api"|"slash_commands","payload":{…},
//	 "accepts_response_payload":false,"retry_attempt":0,"retry_reason":""}
//
// each of which the app acknowledges with {"envelope_id":"…"} (optionally
// a "payload") within 3 seconds. An events_api envelope not acknowledged
// in time is delivered again with retry_attempt raised and retry_reason
// "timeout"; an interactive one is not (the person sees an error). Slack
// sends {"type":"disconnect","reason":"refresh_requested"|"warning"|
// "link_disabled",...} before it closes a connection, and pings the socket.

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Ack is an acknowledgement the fake received.
type Ack struct {
	EnvelopeID string
	Payload    json.RawMessage
	After      time.Duration // from sending the envelope to the ack
}

// Envelope is a Socket Mode envelope the fake sent.
type Envelope struct {
	EnvelopeID             string          `json:"envelope_id"`
	Type                   string          `json:"type"`
	Payload                json.RawMessage `json:"payload"`
	AcceptsResponsePayload bool            `json:"accepts_response_payload"`
	RetryAttempt           int             `json:"retry_attempt"`
	RetryReason            string          `json:"retry_reason"`
}

type wsConn struct {
	c      *websocket.Conn
	mu     sync.Mutex // one writer at a time
	closed chan struct{}
	once   sync.Once
}

func (w *wsConn) write(v any) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return w.c.WriteJSON(v)
}

func (w *wsConn) close() {
	w.once.Do(func() {
		close(w.closed)
		_ = w.c.Close()
	})
}

// socket is the Socket Mode side of a Server.
type socket struct {
	mu       sync.Mutex
	tickets  map[string]bool
	conns    []*wsConn
	opened   int // connections that got a hello
	sent     map[string]time.Time
	envs     []Envelope
	acks     []Ack
	refuse   int // apps.connections.open calls to refuse with internal_error
	ackWait  chan struct{}
	stopping chan struct{}
}

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// openConnection answers apps.connections.open. The caller holds s.mu.
func (s *Server) openConnection(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch {
	case !ok || token == "":
		reply(w, map[string]any{"ok": false, "error": "not_authed"})
		return
	case !strings.HasPrefix(token, "xapp-"):
		reply(w, map[string]any{"ok": false, "error": "not_allowed_token_type"})
		return
	case token != s.opts.AppToken:
		reply(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	s.sock.mu.Lock()
	defer s.sock.mu.Unlock()
	if s.sock.refuse > 0 {
		s.sock.refuse--
		reply(w, map[string]any{"ok": false, "error": "internal_error"})
		return
	}
	ticket := newID()
	s.sock.tickets[ticket] = true
	reply(w, map[string]any{"ok": true, "url": "ws://" + r.Host + "/link/?ticket=" + ticket + "&app_id=" + s.opts.AppID})
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// link is the WebSocket endpoint: one connection per ticket.
func (s *Server) link(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	s.sock.mu.Lock()
	ok := s.sock.tickets[ticket]
	delete(s.sock.tickets, ticket)
	s.sock.mu.Unlock()
	if !ok {
		http.Error(w, "invalid or used ticket", http.StatusUnauthorized)
		return
	}
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	wc := &wsConn{c: c, closed: make(chan struct{})}
	s.sock.mu.Lock()
	s.sock.conns = append(s.sock.conns, wc)
	s.sock.opened++
	n := len(s.sock.conns)
	s.sock.mu.Unlock()
	_ = wc.write(map[string]any{"type": "hello", "num_connections": n,
		"debug_info":      map[string]any{"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
		"connection_info": map[string]any{"app_id": s.opts.AppID}})
	go s.ping(wc)
	s.read(wc)
}

func (s *Server) ping(wc *wsConn) {
	t := time.NewTicker(s.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-wc.closed:
			return
		case <-s.sock.stopping:
			return
		case <-t.C:
			wc.mu.Lock()
			err := wc.c.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(5*time.Second))
			wc.mu.Unlock()
			if err != nil {
				return
			}
		}
	}
}

// read takes acknowledgements until the connection ends.
func (s *Server) read(wc *wsConn) {
	defer func() {
		wc.close()
		s.sock.mu.Lock()
		for i, c := range s.sock.conns {
			if c == wc {
				s.sock.conns = append(s.sock.conns[:i], s.sock.conns[i+1:]...)
				break
			}
		}
		s.sock.mu.Unlock()
	}()
	for {
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if err := wc.c.ReadJSON(&ack); err != nil {
			return
		}
		s.sock.mu.Lock()
		a := Ack{EnvelopeID: ack.EnvelopeID, Payload: ack.Payload}
		if at, ok := s.sock.sent[ack.EnvelopeID]; ok {
			a.After = time.Since(at)
		}
		s.sock.acks = append(s.sock.acks, a)
		close(s.sock.ackWait)
		s.sock.ackWait = make(chan struct{})
		s.sock.mu.Unlock()
	}
}

// Send delivers an envelope on the newest connection and returns its id
// (a new one when e has none). An events_api envelope not acknowledged
// within AckTimeout is sent again, up to 3 times, as Slack does.
func (s *Server) Send(e Envelope) (string, error) {
	if e.EnvelopeID == "" {
		e.EnvelopeID = newID()
	}
	s.sock.mu.Lock()
	if len(s.sock.conns) == 0 {
		s.sock.mu.Unlock()
		return "", fmt.Errorf("slackfake: no Socket Mode connection")
	}
	wc := s.sock.conns[len(s.sock.conns)-1]
	if _, ok := s.sock.sent[e.EnvelopeID]; !ok || e.RetryAttempt == 0 {
		s.sock.sent[e.EnvelopeID] = time.Now()
	}
	s.sock.envs = append(s.sock.envs, e)
	s.sock.mu.Unlock()
	if err := wc.write(e); err != nil {
		return "", err
	}
	if e.Type == "events_api" && e.RetryAttempt < 3 {
		go func() {
			if _, ok := s.WaitAck(e.EnvelopeID, s.opts.AckTimeout); !ok {
				e.RetryAttempt++
				e.RetryReason = "timeout"
				_, _ = s.Send(e)
			}
		}()
	}
	return e.EnvelopeID, nil
}

// WaitAck waits up to d for the acknowledgement of envelope id.
func (s *Server) WaitAck(id string, d time.Duration) (Ack, bool) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		s.sock.mu.Lock()
		for _, a := range s.sock.acks {
			if a.EnvelopeID == id {
				s.sock.mu.Unlock()
				return a, true
			}
		}
		wait := s.sock.ackWait
		s.sock.mu.Unlock()
		select {
		case <-wait:
		case <-deadline.C:
			return Ack{}, false
		}
	}
}

// Acks returns the acknowledgements received.
func (s *Server) Acks() []Ack {
	s.sock.mu.Lock()
	defer s.sock.mu.Unlock()
	return append([]Ack(nil), s.sock.acks...)
}

// Envelopes returns the envelopes sent, retries included.
func (s *Server) Envelopes() []Envelope {
	s.sock.mu.Lock()
	defer s.sock.mu.Unlock()
	return append([]Envelope(nil), s.sock.envs...)
}

// Connections is how many Socket Mode connections were opened (got a
// hello), and how many are open now.
func (s *Server) Connections() (opened, open int) {
	s.sock.mu.Lock()
	defer s.sock.mu.Unlock()
	return s.sock.opened, len(s.sock.conns)
}

// WaitConnections waits up to d until n connections were opened and one
// is open.
func (s *Server) WaitConnections(n int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if opened, open := s.Connections(); opened >= n && open > 0 {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// Disconnect sends every open connection a disconnect message with reason
// ("refresh_requested", "warning", "link_disabled") and closes it, as
// Slack does when it refreshes a connection.
func (s *Server) Disconnect(reason string) {
	for _, wc := range s.open() {
		_ = wc.write(map[string]any{"type": "disconnect", "reason": reason, "debug_info": map[string]any{"host": "applink-fake"}})
		wc.close()
	}
}

// Drop cuts every open connection without a word (a network failure).
func (s *Server) Drop() {
	for _, wc := range s.open() {
		_ = wc.c.UnderlyingConn().Close()
		wc.close()
	}
}

// RefuseOpen makes the next n apps.connections.open calls fail with
// internal_error (Slack down): the client must back off and retry.
func (s *Server) RefuseOpen(n int) {
	s.sock.mu.Lock()
	defer s.sock.mu.Unlock()
	s.sock.refuse += n
}

func (s *Server) open() []*wsConn {
	s.sock.mu.Lock()
	defer s.sock.mu.Unlock()
	return append([]*wsConn(nil), s.sock.conns...)
}
