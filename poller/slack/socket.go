package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	goslack "github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/patrolsec/patrol/poller"
)

// Listener takes clicks on patrol's Approve and Hold buttons over Slack's
// Socket Mode: it calls apps.connections.open with the app-level token,
// dials the wss:// URL Slack returns (outbound: nothing connects in), and
// reads envelopes. Every envelope is acknowledged as soon as it is read,
// before it is acted on, so Slack's 3-second deadline holds however long
// the action takes. slack-go's socketmode client reconnects when Slack asks
// (a disconnect message) or the socket drops, with backoff; Listen also
// retries, with its own backoff, after the errors slack-go gives up on (a
// refused token).
type Listener struct {
	sm       *socketmode.Client
	hc       *http.Client
	base     string // the Web API's base URL
	insecure bool
	log      *slog.Logger
	onState  func(poller.ConnState)
	retry    time.Duration
	maxRetry time.Duration
	now      func() time.Time

	mu    sync.Mutex
	state poller.ConnState
	seen  map[string]bool // envelope ids already handled (redeliveries)
	order []string
}

var _ poller.Listener = (*Listener)(nil)

// ListenerOptions are what the wiring gives a Listener besides its config.
type ListenerOptions struct {
	BaseDir string
	Logger  *slog.Logger
	// OnState hears every change of the connection's state (status).
	OnState func(poller.ConnState)
	// Retry is the first wait after an error slack-go gives up on (default
	// 30s), doubled each time up to MaxRetry (default 10m).
	Retry, MaxRetry time.Duration
	// PingInterval: without a WebSocket ping from Slack this long, the
	// connection counts as dead and is reopened (default 30s).
	PingInterval time.Duration
	Now          func() time.Time
}

// NewListener builds a Listener from the [notify.slack] section. It reads
// the app-level token but does not connect: Check does, once.
func NewListener(cfg Config, opts ListenerOptions) (*Listener, error) {
	if !cfg.SocketMode() {
		return nil, errors.New("slack: no app-level token (app_token_env or app_token_file): Socket Mode is off")
	}
	appToken, err := poller.ReadSecret(cfg.AppTokenEnv, cfg.AppTokenFile, opts.BaseDir)
	if err != nil {
		return nil, fmt.Errorf("slack app-level token: %w", err)
	}
	if !strings.HasPrefix(appToken, "xapp-") {
		return nil, errors.New("slack app-level token: it does not start with xapp- (Socket Mode needs an app-level token with connections:write, not a bot token)")
	}
	l := &Listener{log: opts.Logger, onState: opts.OnState, retry: opts.Retry, maxRetry: opts.MaxRetry, now: opts.Now,
		insecure: insecureOK(cfg), seen: map[string]bool{}, base: cfg.baseURL()}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if l.retry <= 0 {
		l.retry = 30 * time.Second
	}
	if l.maxRetry <= 0 {
		l.maxRetry = 10 * time.Minute
	}
	if l.now == nil {
		l.now = time.Now
	}
	l.hc = httpClient(cfg, nil)
	// The bot token is not needed here: messages go out through the
	// Notifier's client. Only apps.connections.open is called with this one.
	api := newClient(cfg, l.hc, "", goslack.OptionAppLevelToken(appToken))
	dialer := &websocket.Dialer{HandshakeTimeout: 45 * time.Second, WriteBufferSize: 32 * 1024, Proxy: l.proxy}
	smOpts := []socketmode.Option{socketmode.OptionDialer(dialer), socketmode.OptionLog(debugLog{l.log}),
		socketmode.OptionReadLimit(1 << 20)}
	if opts.PingInterval > 0 {
		smOpts = append(smOpts, socketmode.OptionPingInterval(opts.PingInterval))
	}
	l.sm = socketmode.New(api, smOpts...)
	return l, nil
}

// insecureOK reports whether plain ws:// and http:// are allowed: only
// with allow_insecure_http (a loopback test server).
func insecureOK(cfg Config) bool { return cfg.AllowInsecureHTTP }

// proxy refuses a Socket Mode URL that is not wss:// (unless
// allow_insecure_http is set), then uses the environment's proxy like any
// request.
func (l *Listener) proxy(req *http.Request) (*url.URL, error) {
	if req.URL.Scheme != "https" && !l.insecure {
		return nil, fmt.Errorf("slack: refusing Socket Mode URL on %s: not wss://", req.URL.Host)
	}
	return http.ProxyFromEnvironment(req)
}

// Probe opens a Socket Mode URL once (apps.connections.open) without
// dialing it: the app-level token works and Socket Mode is on. It returns
// the app's id.
func (l *Listener) Probe(ctx context.Context) (string, error) {
	_, raw, err := l.sm.OpenContext(ctx)
	if err != nil {
		return "", newError("apps.connections.open", err)
	}
	app := "(unknown)"
	if u, err := url.Parse(raw); err == nil && u.Query().Get("app_id") != "" {
		app = u.Query().Get("app_id")
	}
	return "Socket Mode for app " + app, nil
}

// State returns the connection's state now.
func (l *Listener) State() poller.ConnState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state
}

func (l *Listener) setState(state string, err error) {
	l.mu.Lock()
	if state == "connected" {
		l.state.Connects++
	}
	if state != l.state.State {
		l.state.Since = l.now().UTC()
	}
	l.state.State, l.state.Error = state, ""
	if err != nil {
		l.state.Error = err.Error()
	}
	st := l.state
	l.mu.Unlock()
	if l.onState != nil {
		l.onState(st)
	}
}

// Listen connects and hands clicks to h until ctx ends. Clicks being
// handled when it ends get a cancelled context and are waited for.
func (l *Listener) Listen(ctx context.Context, h poller.ClickHandler) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { l.consume(ctx, h, &wg) })
	wait := l.retry
	for {
		err := l.sm.RunContext(ctx)
		if ctx.Err() != nil {
			break
		}
		l.setState("failed", err)
		l.log.Error("slack socket mode: cannot connect; retrying", "err", err, "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		if ctx.Err() != nil {
			break
		}
		wait = min(2*wait, l.maxRetry)
	}
	cancel()
	wg.Wait()
	l.setState("stopped", nil)
	return nil
}

// consume reads the client's events until ctx ends.
func (l *Listener) consume(ctx context.Context, h poller.ClickHandler, wg *sync.WaitGroup) {
	for {
		select {
		case <-ctx.Done():
			return
		case evt := <-l.sm.Events:
			l.event(ctx, h, evt, wg)
		}
	}
}

func (l *Listener) event(ctx context.Context, h poller.ClickHandler, evt socketmode.Event, wg *sync.WaitGroup) {
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		l.setState("connecting", nil)
	case socketmode.EventTypeConnectionError:
		var err error
		if e, ok := evt.Data.(*goslack.ConnectionErrorEvent); ok {
			err = e.ErrorObj
			l.log.Warn("slack socket mode: connection failed; reconnecting", "attempt", e.Attempt, "wait", e.Backoff, "err", err)
		}
		l.setState("connecting", err)
	case socketmode.EventTypeInvalidAuth:
		l.setState("failed", errors.New("invalid_auth"))
	case socketmode.EventTypeHello:
		if evt.Request != nil {
			l.log.Info("slack socket mode connected", "app_id", evt.Request.ConnectionInfo.AppID, "connections", evt.Request.NumConnections)
		}
		l.setState("connected", nil)
	case socketmode.EventTypeInteractive, socketmode.EventTypeEventsAPI, socketmode.EventTypeSlashCommand:
		if evt.Request == nil {
			return
		}
		// Acknowledge first: Slack wants it within 3 seconds, and what the
		// click starts may take longer.
		actx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := l.sm.AckCtx(actx, evt.Request.EnvelopeID, nil)
		cancel()
		if err != nil {
			l.log.Error("slack socket mode: acknowledge", "envelope_id", evt.Request.EnvelopeID, "err", err)
		}
		if !l.first(evt.Request.EnvelopeID) {
			l.log.Info("slack socket mode: envelope delivered again; acknowledged, not handled twice",
				"envelope_id", evt.Request.EnvelopeID, "retry_attempt", evt.Request.RetryAttempt, "retry_reason", evt.Request.RetryReason)
			return
		}
		cb, ok := evt.Data.(goslack.InteractionCallback)
		if !ok || cb.Type != goslack.InteractionTypeBlockActions {
			return // patrol subscribes to no events and has no commands
		}
		wg.Go(func() { l.interaction(ctx, h, cb) })
	case socketmode.EventTypeIncomingError, socketmode.EventTypeErrorBadMessage, socketmode.EventTypeErrorWriteFailed:
		l.log.Warn("slack socket mode", "event", string(evt.Type), "detail", fmt.Sprint(evt.Data))
	}
}

// first reports whether an envelope id is seen for the first time (the
// last 1000 are remembered).
func (l *Listener) first(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if id == "" {
		return true
	}
	if l.seen[id] {
		return false
	}
	l.seen[id] = true
	l.order = append(l.order, id)
	if len(l.order) > 1000 {
		delete(l.seen, l.order[0])
		l.order = l.order[1:]
	}
	return true
}

// debugLog passes slack-go's debug lines to slog at debug level.
type debugLog struct{ log *slog.Logger }

func (d debugLog) Output(_ int, s string) error {
	d.log.Debug("slack socket mode: " + strings.TrimSpace(s))
	return nil
}
