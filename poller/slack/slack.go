// Package slack is patrol's Slack notifier, over slack-go/slack.
//
// Each ticket gets one thread. The first Notification posts a parent
// "card" (severity, summary, status, detection, ticket link) and the
// message's details as the first reply, and returns the thread reference
// "CHANNELID:TS". Later Notifications update the card with their status
// (chat.update) and post their message as a reply in the thread.
package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	goslack "github.com/slack-go/slack"

	"github.com/patrolsec/patrol/poller"
)

// Options are what the wiring gives a Notifier besides its config section.
type Options struct {
	// BaseDir is the config file's folder; a relative token_file is read
	// from it.
	BaseDir string
	Logger  *slog.Logger
	// HTTPClient is optional; by default a client with the configured
	// timeout is used.
	HTTPClient *http.Client
	// Sleep replaces the wait before a rate-limited retry (tests).
	Sleep func(context.Context, time.Duration) error
}

// Notifier is a poller.Notifier posting to Slack.
type Notifier struct {
	cfg        Config
	api        *goslack.Client
	log        *slog.Logger
	sleep      func(context.Context, time.Duration) error
	maxRetries int
}

var _ poller.Notifier = (*Notifier)(nil)

// maxRetryWait is the longest a call waits for a rate limit before giving
// the error back to the job.
const maxRetryWait = 60 * time.Second

// New builds a Notifier. It reads the token but does not contact Slack;
// call Check for that.
func New(cfg Config, opts Options) (*Notifier, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		joined := make([]error, len(errs))
		for i, e := range errs {
			joined[i] = e
		}
		return nil, fmt.Errorf("slack config: %w", errors.Join(joined...))
	}
	token, err := poller.ReadSecret(cfg.TokenEnv, cfg.TokenFile, opts.BaseDir)
	if err != nil {
		return nil, fmt.Errorf("slack token: %w", err)
	}
	n := &Notifier{cfg: cfg, api: newClient(cfg, httpClient(cfg, opts.HTTPClient), token), log: opts.Logger, sleep: opts.Sleep, maxRetries: cfg.MaxRetries}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	if n.sleep == nil {
		n.sleep = sleepCtx
	}
	return n, nil
}

// httpClient is the HTTP client of every Slack call: the configured
// timeout, and no redirect followed (slack-go sends the bot token in the
// POST body, which Go would resend on a 307 or 308 to any host).
func httpClient(cfg Config, base *http.Client) *http.Client {
	timeout, _ := time.ParseDuration(cfg.Timeout)
	hc := &http.Client{Timeout: timeout}
	if base != nil {
		c := *base
		hc = &c
	}
	hc.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		return errors.New(poller.RedirectError(req.Response))
	}
	return hc
}

// newClient is a slack-go client on cfg's API URL. No OptionRetry:
// slack-go's would sleep on the wall clock, and its 5xx handlers would
// repeat posts that may have gone out. Rate limits are retried in call.
func newClient(cfg Config, hc *http.Client, token string, extra ...goslack.Option) *goslack.Client {
	options := append([]goslack.Option{goslack.OptionHTTPClient(hc)}, extra...)
	if cfg.APIURL != "" {
		api := cfg.APIURL
		if !strings.HasSuffix(api, "/") {
			api += "/" // slack-go appends the method name to it
		}
		options = append(options, goslack.OptionAPIURL(api))
	}
	return goslack.New(token, options...)
}

// Check verifies the token with auth.test.
func (n *Notifier) Check(ctx context.Context) error {
	return n.call(ctx, "auth.test", func() error {
		_, err := n.api.AuthTestContext(ctx)
		return err
	})
}

// Notify posts n (see the package comment for the thread layout).
//
// A notification with Replace updates that message instead (the one whose
// Approve or Hold button was clicked); one with a Digest posts it on its
// own in its channel.
func (n *Notifier) Notify(ctx context.Context, note poller.Notification) (string, error) {
	switch {
	case note.Digest != nil:
		return "", n.postDigest(ctx, note)
	case note.Replace != "":
		return note.Thread, n.replace(ctx, note)
	}
	if note.Thread == "" {
		return n.start(ctx, note)
	}
	channel, ts, err := ParseThread(note.Thread)
	if err != nil {
		return "", err
	}
	// The card first: chat.update is idempotent, so if the reply then
	// fails, doing it all again only posts the reply once.
	err = n.call(ctx, "update "+note.Ticket.Key, func() error {
		_, _, _, err := n.api.UpdateMessageContext(ctx, channel, ts,
			goslack.MsgOptionText(cardText(note), false), goslack.MsgOptionBlocks(Card(note)...))
		return err
	})
	if err != nil {
		return note.Thread, err
	}
	if err := n.reply(ctx, note, channel, ts); err != nil {
		return note.Thread, err
	}
	return note.Thread, nil
}

// start posts a ticket's card and its first details.
func (n *Notifier) start(ctx context.Context, note poller.Notification) (string, error) {
	dest := note.Channel
	if dest == "" {
		dest = n.cfg.Channel
	}
	var channel, ts string
	err := n.call(ctx, "post "+note.Ticket.Key, func() error {
		var err error
		channel, ts, err = n.api.PostMessageContext(ctx, dest, append(noUnfurl(),
			goslack.MsgOptionText(cardText(note), false), goslack.MsgOptionBlocks(Card(note)...))...)
		return err
	})
	if err != nil {
		return "", err
	}
	ref := channel + ":" + ts
	if err := n.reply(ctx, note, channel, ts); err != nil {
		// The card is out: hand its thread back so it is not posted twice.
		return ref, fmt.Errorf("slack: card posted as %s, details not: %w", ref, err)
	}
	n.log.Debug("slack thread started", "ticket", note.Ticket.Key, "thread", ref)
	return ref, nil
}

func (n *Notifier) reply(ctx context.Context, note poller.Notification, channel, ts string) error {
	var blocks []goslack.Block
	if note.ApprovalDigest != "" {
		blocks = append(messageBlocks(note.Message, 1), approvalBlock(note.Ticket.Key, note.ApprovalDigest))
	} else {
		blocks = MessageBlocks(note.Message)
	}
	if len(blocks) == 0 {
		return nil
	}
	return n.call(ctx, "reply on "+note.Ticket.Key, func() error {
		_, _, err := n.api.PostMessageContext(ctx, channel, append(noUnfurl(), goslack.MsgOptionTS(ts),
			goslack.MsgOptionText(messageText(note), false), goslack.MsgOptionBlocks(blocks...))...)
		return err
	})
}

// replace updates the message note.Replace with note's message: its
// buttons go, and what happened takes their place.
func (n *Notifier) replace(ctx context.Context, note poller.Notification) error {
	channel, ts, err := ParseThread(note.Replace)
	if err != nil {
		return err
	}
	return n.call(ctx, "update "+note.Ticket.Key, func() error {
		_, _, _, err := n.api.UpdateMessageContext(ctx, channel, ts,
			goslack.MsgOptionText(messageText(note), false), goslack.MsgOptionBlocks(MessageBlocks(note.Message)...))
		return err
	})
}

// postDigest posts a digest in its channel.
func (n *Notifier) postDigest(ctx context.Context, note poller.Notification) error {
	dest := note.Channel
	if dest == "" {
		dest = n.cfg.Channel
	}
	return n.call(ctx, "post digest to "+dest, func() error {
		_, _, err := n.api.PostMessageContext(ctx, dest, append(noUnfurl(),
			goslack.MsgOptionText(DigestText(*note.Digest), false), goslack.MsgOptionBlocks(DigestBlocks(*note.Digest)...))...)
		return err
	})
}

// noUnfurl keeps Slack from fetching or previewing any URL in a post.
func noUnfurl() []goslack.MsgOption {
	return []goslack.MsgOption{goslack.MsgOptionDisableLinkUnfurl(), goslack.MsgOptionDisableMediaUnfurl()}
}

var (
	channelID = regexp.MustCompile(`^[CGD][A-Z0-9]+$`)
	slackTS   = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
)

// ParseThread splits a thread reference "CHANNELID:TS". The ts stays a
// string: as a float it would lose digits.
func ParseThread(ref string) (channel, ts string, err error) {
	channel, ts, ok := strings.Cut(ref, ":")
	if !ok || !channelID.MatchString(channel) || !slackTS.MatchString(ts) {
		return "", "", fmt.Errorf("slack: %q is not a thread reference (CHANNELID:TS)", ref)
	}
	return channel, ts, nil
}

// call runs one Slack call, waiting out rate limits (429 with
// Retry-After: the call was refused, so repeating it cannot duplicate).
// Nothing else is retried.
func (n *Notifier) call(ctx context.Context, op string, f func() error) error {
	for attempt := 0; ; attempt++ {
		err := f()
		var rl *goslack.RateLimitedError
		if errors.As(err, &rl) && attempt < n.maxRetries && rl.RetryAfter <= maxRetryWait {
			wait := max(rl.RetryAfter, time.Second)
			n.log.Debug("slack rate limited", "op", op, "wait", wait)
			if err := n.sleep(ctx, wait); err != nil {
				return &Error{Op: op, Err: err}
			}
			continue
		}
		if err != nil {
			return newError(op, err)
		}
		return nil
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
