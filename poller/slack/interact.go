package slack

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"

	goslack "github.com/slack-go/slack"

	"github.com/patrolsec/patrol/poller"
)

// interaction hands the clicks on patrol's buttons in a block_actions
// payload to h, and tells the person what h answers, privately (an
// ephemeral message through the payload's response_url).
func (l *Listener) interaction(ctx context.Context, h poller.ClickHandler, cb goslack.InteractionCallback) {
	for _, act := range cb.ActionCallback.BlockActions {
		if act == nil {
			continue
		}
		kind, ticket, digest, ok := parseButton(act.ActionID, act.Value)
		if !ok {
			l.log.Warn("slack click on something that is not a patrol button: ignored", "action_id", act.ActionID, "user", cb.User.ID)
			continue
		}
		c := poller.Click{Kind: kind, Chat: "Slack", User: cb.User.ID, UserName: cb.User.Name, Ticket: ticket, Digest: digest,
			At: slackTime(act.ActionTs, l.now)}
		if channelID.MatchString(cb.Container.ChannelID) && slackTS.MatchString(cb.Container.MessageTs) {
			c.Message = cb.Container.ChannelID + ":" + cb.Container.MessageTs
		}
		ans := h.Click(ctx, c)
		if ans.Text != "" {
			l.ephemeral(ctx, cb.ResponseURL, ans.Text)
		}
	}
}

// ephemeral shows text to the person who clicked, and only to them.
func (l *Listener) ephemeral(ctx context.Context, responseURL, text string) {
	u, err := url.Parse(responseURL)
	if err != nil || u.Host == "" || u.User != nil || (u.Scheme != "https" && !(l.insecure && u.Scheme == "http")) {
		l.log.Warn("slack click without a usable response_url: the person is not told why nothing changed", "text", text)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	msg := &goslack.WebhookMessage{Text: fit(text, maxFallback*3, Escape), ResponseType: goslack.ResponseTypeEphemeral, ReplaceOriginal: false}
	if err := goslack.PostWebhookCustomHTTPContext(ctx, responseURL, l.hc, msg); err != nil {
		l.log.Warn("slack ephemeral answer", "err", err)
	}
}

// slackTime reads a Slack ts ("1548426417.840180"); now when it cannot.
func slackTime(ts string, now func() time.Time) time.Time {
	sec, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || s <= 0 {
		return now().UTC()
	}
	var ns int64
	if frac != "" {
		frac = (frac + "000000000")[:9]
		ns, _ = strconv.ParseInt(frac, 10, 64)
	}
	return time.Unix(s, ns).UTC()
}
