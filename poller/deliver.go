package poller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/patrolsec/patrol/state"
)

// Delivery is a write to the tracker or the notifier that must follow a
// change patrol recorded: a comment, a chat message, a transition, labels,
// a route. It is queued in the same state transaction as the change and
// sent afterwards, in order per ticket and destination, until it succeeds;
// one that fails for good is set aside as a dead letter and never holds
// back the others. Other features queue their own deliveries the same way.
type Delivery struct {
	Kind         string // one of the state.Deliver* kinds
	Message      Message
	Notification Notification
	Transition   string
	Labels       []string
	Route        Route
	// Link is the ticket a link delivery relates this one to.
	Link string
	// Plan, on a comment, is the digest of the plan it shows: once the
	// comment is delivered, approvals given after it count for that plan.
	Plan string
}

// CommentDelivery is a ticket comment.
func CommentDelivery(m Message) Delivery { return Delivery{Kind: state.DeliverComment, Message: m} }

// NotifyDelivery is a chat message.
func NotifyDelivery(n Notification) Delivery {
	return Delivery{Kind: state.DeliverNotify, Notification: n}
}

// TransitionDelivery moves the ticket with the transition called name.
func TransitionDelivery(name string) Delivery {
	return Delivery{Kind: state.DeliverTransition, Transition: name}
}

// LabelsDelivery adds labels to the ticket (trackers that implement Labeler).
func LabelsDelivery(labels ...string) Delivery {
	return Delivery{Kind: state.DeliverLabels, Labels: labels}
}

// RouteDelivery sets the ticket's assignee and component.
func RouteDelivery(r Route) Delivery { return Delivery{Kind: state.DeliverRoute, Route: r} }

// LinkDelivery links the ticket to other (trackers that implement Linker).
func LinkDelivery(other string) Delivery { return Delivery{Kind: state.DeliverLink, Link: other} }

// Linker is a Tracker that can link two tickets ("relates to").
type Linker interface {
	Link(ctx context.Context, key, other string) error
}

// Resolver is a Tracker that can say who resolved a ticket and when ("",
// zero when it cannot tell).
type Resolver interface {
	ResolvedBy(ctx context.Context, key string) (by string, at time.Time, err error)
}

// Labeler is a Tracker that can add labels to a ticket.
type Labeler interface {
	AddLabels(ctx context.Context, key string, labels ...string) error
}

// CommentStamper is a Tracker that reports when it stamped a comment, by
// its own clock: approvals (stamped by the same clock) are then ordered
// after a plan comment without trusting the two hosts' clocks to agree.
type CommentStamper interface {
	CommentAt(ctx context.Context, key string, m Message) (time.Time, error)
}

// CommentFinder is a Tracker that can find a comment it was sent by the
// reference it carries (Message.Ref), and say when the tracker stamped it.
// A comment whose delivery's outcome is unknown (patrol was killed while
// it was sent, or the answer was lost) is looked for before it is sent
// again: it appears on the ticket at most once.
type CommentFinder interface {
	FindComment(ctx context.Context, key string, m Message) (at time.Time, found bool, err error)
}

// deliveryPayload is the stored form of every kind but notify, which
// stores its Notification as it always has.
type deliveryPayload struct {
	Message    *Message `json:"message,omitempty"`
	Transition string   `json:"transition,omitempty"`
	Labels     []string `json:"labels,omitempty"`
	Route      *Route   `json:"route,omitempty"`
	Plan       string   `json:"plan,omitempty"`
	Link       string   `json:"link,omitempty"`
}

func (d Delivery) encode(key string) (state.Delivery, error) {
	var v any
	switch d.Kind {
	case state.DeliverNotify:
		v = d.Notification
	case state.DeliverComment:
		v = deliveryPayload{Message: &d.Message, Plan: d.Plan}
	case state.DeliverTransition:
		v = deliveryPayload{Transition: d.Transition}
	case state.DeliverLabels:
		v = deliveryPayload{Labels: d.Labels}
	case state.DeliverRoute:
		v = deliveryPayload{Route: &d.Route}
	case state.DeliverLink:
		v = deliveryPayload{Link: d.Link}
	default:
		return state.Delivery{}, fmt.Errorf("unknown delivery kind %q", d.Kind)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return state.Delivery{}, err
	}
	return state.Delivery{TicketKey: key, Kind: d.Kind, Payload: string(b)}, nil
}

func decodeDelivery(kind, payload string) (Delivery, error) {
	d := Delivery{Kind: kind}
	if kind == state.DeliverNotify {
		return d, json.Unmarshal([]byte(payload), &d.Notification)
	}
	var p deliveryPayload
	if err := json.Unmarshal([]byte(payload), &p); err != nil {
		return d, err
	}
	if p.Message != nil {
		d.Message = *p.Message
	}
	if p.Route != nil {
		d.Route = *p.Route
	}
	d.Transition, d.Labels, d.Plan, d.Link = p.Transition, p.Labels, p.Plan, p.Link
	return d, nil
}

// EncodeDelivery turns a delivery about ticket key into the state's form,
// for queuing in a state transaction with the change it follows.
func EncodeDelivery(key string, d Delivery) (state.Delivery, error) { return d.encode(key) }

// encodeAll encodes deliveries about one ticket for the state.
func encodeAll(key string, ds []Delivery) ([]state.Delivery, error) {
	out := make([]state.Delivery, 0, len(ds))
	for _, d := range ds {
		sd, err := d.encode(key)
		if err != nil {
			return nil, err
		}
		out = append(out, sd)
	}
	return out, nil
}

// lane is the destination a delivery goes to: each ticket's deliveries to
// one destination go in order, and a destination that is down holds back
// only its own.
func lane(kind string) string {
	if kind == state.DeliverNotify {
		return "notifier"
	}
	return "tracker"
}

// Permanent reports whether err says the same write will never succeed
// (a 4xx other than 429, a Slack channel that does not exist): retrying it
// would only hold back what is queued behind it. An error that says
// nothing either way, a cancelled context and an authentication failure
// (every write would fail the same way: an outage, not this write's fault)
// are not permanent.
func Permanent(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var a interface{ Unauthorized() bool }
	if errors.As(err, &a) && a.Unauthorized() {
		return false
	}
	var r interface{ Retryable() bool }
	return errors.As(err, &r) && !r.Retryable()
}

// errorClass names the kind of a permanent failure, for the one
// self-alert raised per kind ("404", "channel_not_found").
func errorClass(err error) string {
	var c interface{ Class() string }
	if errors.As(err, &c) && c.Class() != "" {
		return c.Class()
	}
	return "error"
}

// outboxMu serialises flushes: detect runs, hand-offs and respond passes
// all flush, and two flushes reading the same queue would send twice.
var outboxMu sync.Mutex

// courier sends queued deliveries.
type courier struct {
	store    Store
	tracker  Tracker
	notifier Notifier // nil: notifications stay queued
	health   *Health  // nil: dead letters are only logged
	log      *slog.Logger
	now      func() time.Time
}

// flush sends queued deliveries in order. A delivery that fails stays
// queued and holds back the later ones of its ticket and destination; one
// that fails for good is set aside and the rest go on.
func (c courier) flush(ctx context.Context) error {
	outboxMu.Lock()
	defer outboxMu.Unlock()
	items, err := c.store.PendingOutbox(ctx, 500)
	if err != nil {
		return fmt.Errorf("read outbox: %w", err)
	}
	blocked := map[string]bool{}
	var errs []error
	var dead []deadLetter
	for _, it := range items {
		ln := it.TicketKey + "|" + lane(it.Kind)
		if blocked[ln] || (lane(it.Kind) == "notifier" && c.notifier == nil) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		d, err := decodeDelivery(it.Kind, it.Payload)
		if err != nil {
			err = permanentError{fmt.Errorf("unreadable outbox item %d: %w", it.ID, err)}
		} else {
			err = c.send(ctx, it, d)
		}
		var se storeError
		switch {
		case errors.As(err, &se):
			// The write went out but recording it did not: stop here.
			return se.error
		case err == nil:
			if err := c.store.OutboxSent(ctx, it.ID); err != nil {
				return err
			}
		case Permanent(err):
			c.log.Error("delivery failed for good: set aside", "ticket", it.TicketKey, "kind", it.Kind, "err", err)
			if err := c.store.OutboxDead(ctx, it.ID, err.Error()); err != nil {
				return err
			}
			dead = append(dead, deadLetter{item: it, err: err})
		default:
			blocked[ln] = true
			errs = append(errs, fmt.Errorf("%s %s: %w", it.Kind, it.TicketKey, err))
			if ferr := c.store.OutboxFailed(context.WithoutCancel(ctx), it.ID, err.Error()); ferr != nil {
				return ferr
			}
		}
	}
	if len(dead) > 0 && c.health != nil {
		if err := c.health.deadLetters(ctx, dead); err != nil {
			c.log.Error("self-alert", "problem", "dead letters", "err", err)
		}
	}
	if len(errs) > 0 {
		c.log.Warn("deliveries left queued", "count", len(errs), "err", errors.Join(errs...))
	}
	return errors.Join(errs...)
}

type deadLetter struct {
	item state.OutboxItem
	err  error
}

// send makes one delivery.
func (c courier) send(ctx context.Context, it state.OutboxItem, d Delivery) error {
	key := it.TicketKey
	switch d.Kind {
	case state.DeliverNotify:
		return c.notify(ctx, key, d.Notification)
	case state.DeliverComment:
		return c.comment(ctx, it, d)
	case state.DeliverTransition:
		return c.tracker.Transition(ctx, key, d.Transition)
	case state.DeliverLabels:
		l, ok := c.tracker.(Labeler)
		if !ok {
			return permanentError{fmt.Errorf("the ticket backend cannot add labels")}
		}
		return l.AddLabels(ctx, key, d.Labels...)
	case state.DeliverRoute:
		return c.tracker.SetRoute(ctx, key, d.Route)
	case state.DeliverLink:
		l, ok := c.tracker.(Linker)
		if !ok {
			return nil // the ticket's description names the other one already
		}
		return l.Link(ctx, key, d.Link)
	}
	return permanentError{fmt.Errorf("unknown delivery kind %q", d.Kind)}
}

// comment posts a comment, at most once: it carries a reference, and an
// earlier attempt whose outcome is unknown is looked for by it first. A
// plan comment records when the tracker stamped it.
func (c courier) comment(ctx context.Context, it state.OutboxItem, d Delivery) error {
	key, m := it.TicketKey, d.Message
	m.Ref = deliveryRef(it)
	finder, canFind := c.tracker.(CommentFinder)
	var at time.Time
	found := false
	if canFind && !it.Sending.IsZero() {
		var err error
		if at, found, err = finder.FindComment(ctx, key, m); err != nil {
			return fmt.Errorf("look for the comment an earlier attempt may have posted (not posting it again while the tracker cannot say): %w", err)
		}
		if found {
			c.log.Info("comment found on the ticket: an earlier attempt posted it", "ticket", key, "ref", m.Ref)
		}
	}
	if !found {
		if canFind {
			if err := c.store.OutboxSending(ctx, it.ID); err != nil {
				return storeError{err}
			}
		}
		at = c.now()
		var err error
		if s, ok := c.tracker.(CommentStamper); ok && d.Plan != "" {
			at, err = s.CommentAt(ctx, key, m)
		} else {
			err = c.tracker.Comment(ctx, key, m)
		}
		if err != nil {
			return err
		}
	}
	if d.Plan == "" {
		return nil
	}
	if err := c.store.PlanPosted(context.WithoutCancel(ctx), key, d.Plan, at); err != nil {
		return storeError{err}
	}
	return nil
}

// deliveryRef is the reference a queued comment carries: short, and
// unique to the delivery (its id and when it was queued).
func deliveryRef(it state.OutboxItem) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%d|%s|%s", it.ID, it.TicketKey, it.Created.UTC().Format(time.RFC3339Nano))))
	return hex.EncodeToString(h[:6])
}

// notify posts a chat message in the ticket's thread, starting the thread
// if there is none yet.
func (c courier) notify(ctx context.Context, key string, note Notification) error {
	row, err := c.store.Ticket(ctx, key)
	if err != nil {
		return storeError{err}
	}
	if row != nil {
		note.Thread = row.Thread
		if note.Channel == "" {
			note.Channel = row.Channel
		}
	}
	thread, err := c.notifier.Notify(ctx, note)
	if thread != "" && row != nil && row.Thread == "" {
		// Kept even when the notifier also reports an error: the first
		// message went out, so a retry must go to its thread.
		if uerr := c.store.UpdateTicket(context.WithoutCancel(ctx), key, state.TicketUpdate{Thread: &thread}); uerr != nil {
			return storeError{uerr}
		}
	}
	return err
}

// storeError is a failure to record what a delivery did.
type storeError struct{ error }

// permanentError is a failure that no retry can fix.
type permanentError struct{ error }

func (e permanentError) Unwrap() error   { return e.error }
func (e permanentError) Retryable() bool { return false }
