package poller

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/patrolsec/patrol/state"
)

// Kinds of click on a plan's buttons in the chat.
const (
	ClickApprove = state.ChatApprove
	ClickHold    = state.ChatHold
)

// Click is a person's click on the Approve or Hold button of a plan's
// message in the chat. Every field but At comes from the chat's payload:
// who clicked is the chat's word (Slack's, over its authenticated socket);
// which ticket and plan come from the button, which patrol made, and are
// checked against the state before anything is done.
type Click struct {
	Kind     string // ClickApprove | ClickHold
	Chat     string // the chat's name as people know it: "Slack"
	User     string // the chat's user id (Slack U0123ABCD)
	UserName string // the name the chat shows, for messages only
	Ticket   string
	Digest   string // the plan the button was for
	Message  string // the message clicked, "CHANNEL:TS"
	At       time.Time
}

// ClickAnswer is what only the person who clicked is told (an ephemeral
// message); "" says nothing. Counted reports whether the click was recorded.
type ClickAnswer struct {
	Text    string
	Counted bool
}

// ClickHandler acts on clicks: the Responder.
type ClickHandler interface {
	Click(ctx context.Context, c Click) ClickAnswer
}

// Listener is a long-lived connection on which clicks arrive (Slack's
// Socket Mode, opened outward: nothing connects in). Listen runs until ctx
// ends, reconnecting by itself, and hands each click to h.
type Listener interface {
	Listen(ctx context.Context, h ClickHandler) error
}

// ConnState is a Listener's connection, for `patrol status`.
type ConnState struct {
	State    string    `json:"state"` // connecting | connected | failed | stopped
	Since    time.Time `json:"since"`
	Error    string    `json:"error,omitempty"`
	Connects int       `json:"connects"` // connections made since patrol started
}

// Click handles a click on a plan's Approve or Hold button. It changes
// nothing unless the person is mapped to an approver (ChatApprovers) and
// the plan clicked is the ticket's current plan, still waiting (an Approve
// on a ticket closed in the tracker counts for nothing): then it
// records the click (and, for Approve, the approval, via the chat) with its
// mirror in the tracker (the label and a comment) and the update of the
// message clicked, in one transaction. An approval then hands the ticket to
// the respond job at once, in-process. Anything else gets an explanation
// for the person alone.
func (r *Responder) Click(ctx context.Context, c Click) ClickAnswer {
	if r.ClickTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.ClickTimeout)
		defer cancel()
	}
	ans, t := r.recordClick(ctx, c)
	if !ans.Counted {
		return ans
	}
	if c.Kind == ClickApprove {
		if _, _, err := r.handle(ctx, t, false); err != nil {
			r.logger().Warn("respond to approved ticket (the next pass retries)", "ticket", t.Key, "err", err)
		}
	}
	if err := r.flush(ctx); err != nil {
		r.logger().Warn("deliveries queued for the next pass", "ticket", t.Key, "err", err)
	}
	return ans
}

// recordClick checks a click and records it when it counts; it returns
// the ticket as the tracker shows it now.
func (r *Responder) recordClick(ctx context.Context, c Click) (ClickAnswer, Ticket) {
	r.mu.Lock()
	defer r.mu.Unlock()
	log := r.logger().With("ticket", c.Ticket, "chat_user", c.User, "click", c.Kind, "digest", c.Digest)
	refuse := func(format string, args ...any) (ClickAnswer, Ticket) {
		text := fmt.Sprintf(format, args...)
		log.Warn("click changed nothing", "why", firstLine(text))
		return ClickAnswer{Text: text + " Nothing was changed."}, Ticket{}
	}
	by, ok := r.ChatApprovers[c.User]
	if !ok || !contains(r.Approvers, by) {
		return refuse("You are not one of patrol's approvers: your %s user %s is not mapped to an approver in tickets.slack_approvers.", c.Chat, c.User)
	}
	row, err := r.Store.Ticket(ctx, c.Ticket)
	if err != nil {
		log.Error("read state for a click", "err", err)
		return ClickAnswer{Text: "patrol could not read its state (" + err.Error() + "). Nothing was changed; try again."}, Ticket{}
	}
	if row == nil {
		return refuse("patrol has no ticket %s.", c.Ticket)
	}
	if row.Stage != state.StageApproval && row.Stage != state.StageDeferred {
		return refuse("%s no longer waits for approval (its remediation is %s: %s).", row.Key, row.Stage, orNone(row.Note))
	}
	cur, err := r.Store.CurrentPlan(ctx, row.Key)
	if err != nil {
		log.Error("read state for a click", "err", err)
		return ClickAnswer{Text: "patrol could not read its state (" + err.Error() + "). Nothing was changed; try again."}, Ticket{}
	}
	if cur == nil || cur.Digest != c.Digest {
		now := "none"
		if cur != nil {
			now = cur.Digest
		}
		return refuse("The plan you clicked on (digest %s) is no longer the current plan of %s (now %s): the current plan is in the ticket's thread.", c.Digest, row.Key, now)
	}
	t := r.current(ctx, row)
	actions, err := r.Store.ChatActions(ctx, row.Key)
	if err != nil {
		log.Error("read state for a click", "err", err)
		return ClickAnswer{Text: "patrol could not read its state (" + err.Error() + "). Nothing was changed; try again."}, Ticket{}
	}
	for i := len(actions) - 1; i >= 0; i-- {
		a := actions[i]
		if a.Digest != c.Digest {
			continue
		}
		if a.Kind == c.Kind { // the last click on this plan did the same
			what := "approved"
			if a.Kind == ClickHold {
				what = "held"
			}
			return refuse("%s was already %s by %s at %s.", row.Key, what, orNone(a.ChatName), a.At.UTC().Format(time.RFC3339))
		}
		break
	}
	if c.Kind == ClickApprove && r.closed(t, row) {
		return refuse("%s is closed (status %q): patrol does not run its remediation. Reopen the ticket if it should run; it then needs a new approval.", row.Key, t.Status)
	}
	if c.Kind == ClickApprove && r.HoldLabel != "" && t.HasLabel(r.HoldLabel) {
		return refuse("%s is on hold: the label %q is on the ticket. Remove it in the tracker, then approve again.", row.Key, r.HoldLabel)
	}
	name := orNone(c.UserName)
	at := c.At.UTC().Format(time.RFC3339)
	act := &state.ChatAction{Digest: c.Digest, Kind: c.Kind, Via: strings.ToLower(c.Chat), ChatUser: c.User, ChatName: c.UserName,
		By: by, Message: c.Message, At: c.At}
	ch := change{Change: state.Change{ChatAction: act}}
	var comment, update string
	switch c.Kind {
	case ClickApprove:
		ch.Approval = &state.Approval{TicketKey: row.Key, Digest: c.Digest, By: by, At: c.At, Via: act.Via}
		ch.deliveries = append(ch.deliveries, LabelsDelivery(r.ApproveLabel))
		comment = fmt.Sprintf("Remediation approved by %s in %s (%s user %s, approver %s) at %s, for the plan with digest %s. patrol added the label %q to record it here.",
			name, c.Chat, c.Chat, c.User, by, at, c.Digest, r.ApproveLabel)
		update = fmt.Sprintf("Approved by %s in %s at %s (plan digest %s). patrol runs it now.", name, c.Chat, at, c.Digest)
		log.Info("remediation approved in the chat", "by", by)
	case ClickHold:
		ch.deliveries = append(ch.deliveries, LabelsDelivery(r.HoldLabel))
		comment = fmt.Sprintf("Remediation held by %s in %s (%s user %s, approver %s) at %s: patrol does not run it. patrol added the label %q; to let the remediation run, remove it and approve the plan again.",
			name, c.Chat, c.Chat, c.User, by, at, r.HoldLabel)
		update = fmt.Sprintf("Held by %s in %s at %s: the remediation does not run. To let it run, remove the label %q from %s and approve again.", name, c.Chat, at, r.HoldLabel, row.Key)
		log.Info("remediation held in the chat", "by", by)
	default:
		return refuse("patrol does not know the button %q.", c.Kind)
	}
	m := Message{Sections: []Section{{Heading: "Remediation", Text: comment}}}
	ch.deliveries = append(ch.deliveries, CommentDelivery(m), r.replace(t, row, c.Message, update))
	if err := r.record(ctx, row.Key, ch); err != nil {
		log.Error("record a click", "err", err)
		return ClickAnswer{Text: "patrol could not record your click (" + err.Error() + "). Nothing was changed; try again."}, Ticket{}
	}
	return ClickAnswer{Counted: true}, t
}

// current returns the ticket as the tracker shows it now (its labels
// matter), or as last recorded when the tracker cannot say.
func (r *Responder) current(ctx context.Context, row *state.TicketRow) Ticket {
	t, err := r.Tracker.Get(ctx, row.Key)
	if err != nil {
		r.logger().Warn("read ticket for a click: using the labels last seen", "ticket", row.Key, "err", err)
		return ticketFromRow(*row)
	}
	return t
}

// replace is the update of a message that carried a plan's buttons.
func (r *Responder) replace(t Ticket, row *state.TicketRow, ref, text string) Delivery {
	n := Notification{Ticket: t, Detection: row.Detection, Status: row.Stage, Replace: ref,
		Message: Message{Sections: []Section{{Heading: "Remediation", Text: text}}}}
	if r.Detection != nil {
		if d := r.Detection(row.Detection); d != nil {
			n.Severity = d.Severity
		}
	}
	return NotifyDelivery(n)
}

// outcomeUpdate is the update, with a ticket's outcome, of the last
// message whose buttons were clicked; nil when none was.
func (r *Responder) outcomeUpdate(ctx context.Context, t Ticket, row *state.TicketRow, text string) (*Delivery, error) {
	actions, err := r.Store.ChatActions(ctx, t.Key)
	if err != nil || len(actions) == 0 {
		return nil, err
	}
	a := actions[len(actions)-1]
	if a.Message == "" {
		return nil, nil
	}
	what := "Approved"
	if a.Kind == ClickHold {
		what = "Held"
	}
	head := fmt.Sprintf("%s by %s in %s at %s (plan digest %s).", what, orNone(a.ChatName), chatName(a.Via), a.At.UTC().Format(time.RFC3339), a.Digest)
	d := r.replace(t, row, a.Message, head+"\n"+text)
	return &d, nil
}

func chatName(via string) string {
	if via == "slack" {
		return "Slack"
	}
	return via
}

func orNone(s string) string {
	if strings.TrimSpace(s) == "" {
		return "(none)"
	}
	return s
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
