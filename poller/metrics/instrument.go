package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/patrolsec/patrol/poller"
)

// Searcher counts a searcher's failures as request errors of backend.
func (m *Metrics) Searcher(s poller.Searcher, backend string) poller.Searcher {
	return searcher{s, m, backend}
}

type searcher struct {
	poller.Searcher
	m       *Metrics
	backend string
}

func (s searcher) Search(ctx context.Context, q poller.Query, emit func(poller.Result) error) error {
	return s.m.count(s.backend, s.Searcher.Search(ctx, q, emit))
}

func (m *Metrics) count(backend string, err error) error {
	if err != nil {
		m.RequestError(backend, err)
	}
	return err
}

// Notifier counts a notifier's failures as request errors of backend.
func (m *Metrics) Notifier(n poller.Notifier, backend string) poller.Notifier {
	return notifier{n, m, backend}
}

type notifier struct {
	poller.Notifier
	m       *Metrics
	backend string
}

func (n notifier) Notify(ctx context.Context, note poller.Notification) (string, error) {
	ref, err := n.Notifier.Notify(ctx, note)
	return ref, n.m.count(n.backend, err)
}

// Tracker counts a tracker's failures as request errors of backend.
func (m *Metrics) Tracker(t poller.Tracker, backend string) poller.Tracker {
	if _, ok := t.(poller.CommentFinder); ok {
		return findingTracker{tracker{t, m, backend}}
	}
	return tracker{t, m, backend}
}

type tracker struct {
	t       poller.Tracker
	m       *Metrics
	backend string
}

func (t tracker) Create(ctx context.Context, nt poller.NewTicket) (poller.Ticket, error) {
	tk, err := t.t.Create(ctx, nt)
	return tk, t.m.count(t.backend, err)
}

func (t tracker) Find(ctx context.Context, label string) ([]poller.Ticket, error) {
	tks, err := t.t.Find(ctx, label)
	return tks, t.m.count(t.backend, err)
}

func (t tracker) Poll(ctx context.Context, since time.Time) ([]poller.Ticket, error) {
	tks, err := t.t.Poll(ctx, since)
	return tks, t.m.count(t.backend, err)
}

func (t tracker) Get(ctx context.Context, key string) (poller.Ticket, error) {
	tk, err := t.t.Get(ctx, key)
	return tk, t.m.count(t.backend, err)
}

func (t tracker) Comment(ctx context.Context, key string, msg poller.Message) error {
	return t.m.count(t.backend, t.t.Comment(ctx, key, msg))
}

func (t tracker) Transition(ctx context.Context, key, name string) error {
	return t.m.count(t.backend, t.t.Transition(ctx, key, name))
}

func (t tracker) Approvals(ctx context.Context, key, label string) ([]poller.Approval, error) {
	a, err := t.t.Approvals(ctx, key, label)
	return a, t.m.count(t.backend, err)
}

func (t tracker) SetRoute(ctx context.Context, key string, r poller.Route) error {
	return t.m.count(t.backend, t.t.SetRoute(ctx, key, r))
}

// Actions counts the actions' AWS failures as request errors of "aws". A
// wrapped action can revert or read back exactly when the action can.
func (m *Metrics) Actions(in map[string]poller.Action) map[string]poller.Action {
	out := make(map[string]poller.Action, len(in))
	for name, a := range in {
		w := action{a, m}
		_, rev := a.(poller.Reverter)
		_, chk := a.(poller.Checker)
		switch {
		case rev && chk:
			out[name] = revertingChecking{w}
		case rev:
			out[name] = reverting{w}
		case chk:
			out[name] = checking{w}
		default:
			out[name] = w
		}
	}
	return out
}

type action struct {
	a poller.Action
	m *Metrics
}

func (a action) Plan(ctx context.Context, req poller.ActionRequest) (poller.Plan, error) {
	return a.a.Plan(ctx, req)
}

func (a action) Apply(ctx context.Context, p poller.Plan) (poller.Outcome, error) {
	out, err := a.a.Apply(ctx, p)
	return out, a.m.count("aws", err)
}

// MarksSends passes through what the wrapped action says.
func (a action) MarksSends() bool {
	m, ok := a.a.(poller.SendMarker)
	return ok && m.MarksSends()
}

func (a action) revert(ctx context.Context, p poller.Plan, snapshot string) (poller.Outcome, error) {
	out, err := a.a.(poller.Reverter).Revert(ctx, p, snapshot)
	return out, a.m.count("aws", err)
}

func (a action) check(ctx context.Context, p poller.Plan, since time.Time) (poller.Outcome, error) {
	out, err := a.a.(poller.Checker).Check(ctx, p, since)
	return out, a.m.count("aws", err)
}

type reverting struct{ action }

func (a reverting) Revert(ctx context.Context, p poller.Plan, snapshot string) (poller.Outcome, error) {
	return a.revert(ctx, p, snapshot)
}

type checking struct{ action }

func (a checking) Check(ctx context.Context, p poller.Plan, since time.Time) (poller.Outcome, error) {
	return a.check(ctx, p, since)
}

type revertingChecking struct{ action }

func (a revertingChecking) Revert(ctx context.Context, p poller.Plan, snapshot string) (poller.Outcome, error) {
	return a.revert(ctx, p, snapshot)
}

func (a revertingChecking) Check(ctx context.Context, p poller.Plan, since time.Time) (poller.Outcome, error) {
	return a.check(ctx, p, since)
}

// CommentAt passes through to a tracker that stamps its comments; for one
// that does not, the local clock stands in.
func (t tracker) CommentAt(ctx context.Context, key string, msg poller.Message) (time.Time, error) {
	if s, ok := t.t.(poller.CommentStamper); ok {
		at, err := s.CommentAt(ctx, key, msg)
		return at, t.m.count(t.backend, err)
	}
	err := t.t.Comment(ctx, key, msg)
	return time.Now(), t.m.count(t.backend, err)
}

// AddLabels passes through to a tracker that can add labels.
func (t tracker) AddLabels(ctx context.Context, key string, labels ...string) error {
	l, ok := t.t.(poller.Labeler)
	if !ok {
		return unsupported{errors.New("the ticket backend cannot add labels")}
	}
	return t.m.count(t.backend, l.AddLabels(ctx, key, labels...))
}

// findingTracker is a tracker that can find the comments it was sent.
type findingTracker struct{ tracker }

func (t findingTracker) FindComment(ctx context.Context, key string, msg poller.Message) (time.Time, bool, error) {
	at, found, err := t.t.(poller.CommentFinder).FindComment(ctx, key, msg)
	return at, found, t.m.count(t.backend, err)
}

// Link passes through to a tracker that links tickets; for one that does
// not, there is nothing to do (the ticket's text names the other one).
func (t tracker) Link(ctx context.Context, key, other string) error {
	l, ok := t.t.(poller.Linker)
	if !ok {
		return nil
	}
	return t.m.count(t.backend, l.Link(ctx, key, other))
}

// ResolvedBy passes through to a tracker that can say who resolved a
// ticket; for one that cannot, nobody is known.
func (t tracker) ResolvedBy(ctx context.Context, key string) (string, time.Time, error) {
	r, ok := t.t.(poller.Resolver)
	if !ok {
		return "", time.Time{}, nil
	}
	by, at, err := r.ResolvedBy(ctx, key)
	return by, at, t.m.count(t.backend, err)
}

// unsupported is a write the backend cannot make: retrying cannot help.
type unsupported struct{ error }

func (unsupported) Retryable() bool { return false }

var (
	_ poller.CommentStamper = tracker{}
	_ poller.Labeler        = tracker{}
	_ poller.Linker         = tracker{}
	_ poller.Resolver       = tracker{}
	_ poller.CommentFinder  = findingTracker{}
)
