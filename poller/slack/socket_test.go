package slack

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/slack/slackfake"
)

// clicks records the clicks a Listener hands over and answers with text;
// block, when set, holds each click until it is closed (a slow action).
type clicks struct {
	mu     sync.Mutex
	got    []poller.Click
	answer string
	block  chan struct{}
}

func (c *clicks) Click(ctx context.Context, cl poller.Click) poller.ClickAnswer {
	c.mu.Lock()
	c.got = append(c.got, cl)
	block := c.block
	c.mu.Unlock()
	if block != nil {
		<-block
	}
	return poller.ClickAnswer{Text: c.answer}
}

func (c *clicks) all() []poller.Click {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]poller.Click(nil), c.got...)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// listen starts a Listener on fake's Socket Mode and returns it with the
// message that carries the buttons, and a stop that returns once every
// click in hand is handled.
func listen(t *testing.T, h poller.ClickHandler) (*Listener, *slackfake.Server, slackfake.Message, func()) {
	t.Helper()
	n, fake, _ := setup(t)
	t.Setenv("TEST_SLACK_APP_TOKEN", "xapp-test")
	cfg := Defaults()
	cfg.TokenEnv, cfg.Channel, cfg.APIURL, cfg.AppTokenEnv = "TEST_SLACK_TOKEN", "#security-alerts", fake.URL, "TEST_SLACK_APP_TOKEN"
	cfg.AllowInsecureHTTP = true // the fake is plain HTTP and ws:// on loopback
	var mu sync.Mutex
	var states []string
	l, err := NewListener(cfg, ListenerOptions{Retry: 10 * time.Millisecond, OnState: func(s poller.ConnState) {
		mu.Lock()
		states = append(states, s.State)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	if who, err := l.Probe(context.Background()); err != nil || who != "Socket Mode for app A0PATROL" {
		t.Fatalf("apps.connections.open: %q %v", who, err)
	}
	nt := note()
	nt.ApprovalDigest = "0123456789ab"
	if _, err := n.Notify(context.Background(), nt); err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Listen(ctx, h); close(done) }()
	stop := func() {
		cancel()
		<-done
		if st := l.State(); st.State != "stopped" {
			t.Errorf("state after stop: %+v", st)
		}
	}
	t.Cleanup(stop)
	waitFor(t, "connected", func() bool { return l.State().State == "connected" })
	return l, fake, msgs[len(msgs)-1], stop
}

// TestListenerTakesClicks: a press of Approve arrives as a Click with the
// ticket and digest of the button, who pressed it and the message, and
// the envelope is acknowledged at once; what the handler answers goes to
// the person alone, through the response_url.
func TestListenerTakesClicks(t *testing.T) {
	h := &clicks{answer: "You are not an approver <!channel>"}
	_, fake, msg, _ := listen(t, h)
	id, err := fake.PressButton(slackfake.Press{Channel: msg.Channel, TS: msg.TS, ActionID: "patrol_approve", User: "U0ALICE", UserName: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	ack, ok := fake.WaitAck(id, 3*time.Second)
	if !ok || ack.After > 3*time.Second {
		t.Fatalf("no acknowledgement within 3s: %+v", ack)
	}
	waitFor(t, "the ephemeral answer", func() bool { return len(fake.Ephemerals()) == 1 })
	got := h.all()
	if len(got) != 1 {
		t.Fatalf("clicks %+v", got)
	}
	c := got[0]
	if c.Kind != poller.ClickApprove || c.Ticket != "SEC-1" || c.Digest != "0123456789ab" || c.User != "U0ALICE" || c.UserName != "alice" ||
		c.Message != msg.Channel+":"+msg.TS || c.Chat != "Slack" || c.At.IsZero() {
		t.Errorf("click %+v", c)
	}
	e := fake.Ephemerals()[0]
	if e.ResponseType != "ephemeral" || e.ReplaceOriginal || !strings.Contains(e.Text, "&lt;!channel&gt;") {
		t.Errorf("ephemeral %+v", e)
	}
}

// TestAckBeforeSlowAction: the acknowledgement does not wait for what the
// click starts.
func TestAckBeforeSlowAction(t *testing.T) {
	h := &clicks{block: make(chan struct{})}
	defer close(h.block)
	_, fake, msg, _ := listen(t, h)
	id, err := fake.PressButton(slackfake.Press{Channel: msg.Channel, TS: msg.TS, ActionID: "patrol_hold", User: "U0ALICE"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := fake.WaitAck(id, 3*time.Second); !ok {
		t.Fatal("the envelope was not acknowledged while its click was handled")
	}
	waitFor(t, "the click", func() bool { return len(h.all()) == 1 })
}

// TestReconnects: after the socket drops, and after Slack asks for a
// refresh, the listener opens a new connection and clicks flow again; a
// redelivered envelope is acknowledged and not handled twice; events
// patrol does not handle are acknowledged and ignored.
func TestReconnects(t *testing.T) {
	h := &clicks{}
	l, fake, msg, stop := listen(t, h)
	press := func() string {
		t.Helper()
		id, err := fake.PressButton(slackfake.Press{Channel: msg.Channel, TS: msg.TS, ActionID: "patrol_approve", User: "U0ALICE"})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := fake.WaitAck(id, 3*time.Second); !ok {
			t.Fatal("not acknowledged")
		}
		return id
	}
	press()
	fake.Drop()
	if !fake.WaitConnections(2, 10*time.Second) {
		t.Fatal("no new connection after the socket dropped")
	}
	waitFor(t, "connected again", func() bool { return l.State().State == "connected" })
	press()
	fake.Disconnect("refresh_requested")
	if !fake.WaitConnections(3, 10*time.Second) {
		t.Fatal("no new connection after a disconnect message")
	}
	waitFor(t, "connected again", func() bool { return l.State().State == "connected" })
	id := press()
	waitFor(t, "three clicks", func() bool { return len(h.all()) == 3 })

	for _, e := range fake.Envelopes() {
		if e.EnvelopeID == id {
			e.RetryAttempt, e.RetryReason = 1, "timeout"
			if _, err := fake.Send(e); err != nil {
				t.Fatal(err)
			}
		}
	}
	ev, err := fake.Send(slackfake.Envelope{Type: "events_api", Payload: json.RawMessage(`{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention","text":"hi"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := fake.WaitAck(ev, 3*time.Second); !ok {
		t.Fatal("events_api envelope not acknowledged")
	}
	if st := l.State(); st.Connects != 3 {
		t.Errorf("state %+v, want 3 connections", st)
	}
	stop() // returns once every click in hand is handled
	if n := len(h.all()); n != 3 {
		t.Errorf("%d clicks handled, want 3 (a redelivery handled twice?)", n)
	}
}

// TestListenerRetriesAfterRefusals: apps.connections.open failing (Slack
// down) is retried with backoff until a connection opens.
func TestListenerRetriesAfterRefusals(t *testing.T) {
	h := &clicks{}
	_, fake, _ := setup(t)
	fake.RefuseOpen(3)
	t.Setenv("TEST_SLACK_APP_TOKEN", "xapp-test")
	cfg := Defaults()
	cfg.TokenEnv, cfg.Channel, cfg.APIURL, cfg.AppTokenEnv = "TEST_SLACK_TOKEN", "#security-alerts", fake.URL, "TEST_SLACK_APP_TOKEN"
	cfg.AllowInsecureHTTP = true // the fake is plain HTTP and ws:// on loopback
	l, err := NewListener(cfg, ListenerOptions{Retry: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Listen(ctx, h); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "connected after three refusals", func() bool { return l.State().State == "connected" })
	if got := fake.Count("apps.connections.open"); got != 4 {
		t.Errorf("%d apps.connections.open calls, want 4", got)
	}
}

// TestAppTokens: the app-level token goes in the Authorization header; a
// bot token, or a wrong one, is refused with Slack's own errors.
func TestAppTokens(t *testing.T) {
	_, fake, _ := setup(t)
	cfg := Defaults()
	cfg.TokenEnv, cfg.Channel, cfg.APIURL, cfg.AppTokenEnv = "TEST_SLACK_TOKEN", "#security-alerts", fake.URL, "TEST_SLACK_APP_TOKEN"
	cfg.AllowInsecureHTTP = true // the fake is plain HTTP and ws:// on loopback
	t.Setenv("TEST_SLACK_APP_TOKEN", "xoxb-test")
	if _, err := NewListener(cfg, ListenerOptions{}); err == nil || !strings.Contains(err.Error(), "xapp-") {
		t.Errorf("a bot token as app token: %v", err)
	}
	t.Setenv("TEST_SLACK_APP_TOKEN", "xapp-wrong")
	l, err := NewListener(cfg, ListenerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Probe(context.Background()); err == nil || !strings.Contains(err.Error(), "invalid_auth") {
		t.Errorf("wrong app token: %v", err)
	}
	calls := fake.Calls()
	last := calls[len(calls)-1]
	if last.Method != "apps.connections.open" || last.Header.Get("Authorization") != "Bearer xapp-wrong" {
		t.Errorf("call %+v", last)
	}
}

// TestRefusesPlainSocketURL: a Socket Mode URL that is not wss:// is
// refused unless the API itself is plain http (loopback tests).
func TestRefusesPlainSocketURL(t *testing.T) {
	l := &Listener{}
	req := &http.Request{URL: &url.URL{Scheme: "http", Host: "wss-primary.slack.com"}}
	if _, err := l.proxy(req); err == nil {
		t.Error("plain ws:// accepted")
	}
	req.URL.Scheme = "https"
	if _, err := l.proxy(req); err != nil {
		t.Errorf("wss:// refused: %v", err)
	}
}

// BenchmarkAck measures a click's round trip over Socket Mode: the fake
// sends the envelope, the listener acknowledges it (Slack allows 3 s).
func BenchmarkAck(b *testing.B) {
	h := &clicks{}
	fake := slackfake.New(b, slackfake.Options{})
	b.Setenv("TEST_SLACK_TOKEN", "xoxb-test")
	b.Setenv("TEST_SLACK_APP_TOKEN", "xapp-test")
	cfg := Defaults()
	cfg.TokenEnv, cfg.Channel, cfg.APIURL, cfg.AppTokenEnv, cfg.AllowInsecureHTTP = "TEST_SLACK_TOKEN", "#security-alerts", fake.URL, "TEST_SLACK_APP_TOKEN", true
	n, err := New(cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	nt := note()
	nt.ApprovalDigest = "0123456789ab"
	if _, err := n.Notify(context.Background(), nt); err != nil {
		b.Fatal(err)
	}
	msg := fake.Messages()[1]
	l, err := NewListener(cfg, ListenerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Listen(ctx, h); close(done) }()
	defer func() { cancel(); <-done }()
	for l.State().State != "connected" {
		time.Sleep(time.Millisecond)
	}
	var worst time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id, err := fake.PressButton(slackfake.Press{Channel: msg.Channel, TS: msg.TS, ActionID: "patrol_approve", User: "U0ALICE"})
		if err != nil {
			b.Fatal(err)
		}
		ack, ok := fake.WaitAck(id, 3*time.Second)
		if !ok {
			b.Fatal("not acknowledged within 3s")
		}
		worst = max(worst, ack.After)
	}
	b.ReportMetric(float64(worst.Microseconds()), "worst-µs")
}
