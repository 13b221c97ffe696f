package poller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/state"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// event is one thing the fake searcher knows about.
type event struct {
	at     time.Time
	fields Result
}

// fakeSearcher returns the events whose time is in the queried window, and
// records the windows it was asked for.
type fakeSearcher struct {
	mu      sync.Mutex
	events  []event
	windows []Window
	// failAfter, when >= 0, makes a search fail after emitting that many results.
	failAfter int
	err       error
}

func newSearcher(evs ...event) *fakeSearcher { return &fakeSearcher{events: evs, failAfter: -1} }

func (s *fakeSearcher) add(evs ...event) {
	s.mu.Lock()
	s.events = append(s.events, evs...)
	s.mu.Unlock()
}

func (s *fakeSearcher) Search(ctx context.Context, q Query, emit func(Result) error) error {
	s.mu.Lock()
	s.windows = append(s.windows, q.Window)
	evs := append([]event(nil), s.events...)
	failAfter, err := s.failAfter, s.err
	s.mu.Unlock()
	n := 0
	for _, e := range evs {
		if (!q.Window.Start.IsZero() && !e.at.After(q.Window.Start)) || (!q.Window.End.IsZero() && e.at.After(q.Window.End)) {
			continue
		}
		if failAfter >= 0 && n == failAfter {
			return errors.New("search failed midway")
		}
		r := Result{"_time": {e.at.Format(time.RFC3339)}}
		for k, v := range e.fields {
			r[k] = v
		}
		if err := emit(r); err != nil {
			return err
		}
		n++
	}
	if failAfter >= 0 && n == failAfter {
		return errors.New("search failed at the end")
	}
	return err
}

// fakeTracker is an in-memory ticket system.
type fakeTracker struct {
	mu          sync.Mutex
	clock       *clock
	tickets     map[string]*fakeTicket
	order       []string
	creates     int
	failCreate  error // returned by Create without creating
	lostCreate  bool  // Create creates the ticket, then returns an error (a timeout)
	failFind    error
	failComment error
	hidden      map[string]bool // created but invisible to Find (eventual consistency)
}

type fakeTicket struct {
	Ticket
	comments    []Message
	transitions []string
	labelsBy    []Approval // approve label events
	route       Route
}

func newTracker(c *clock) *fakeTracker {
	return &fakeTracker{clock: c, tickets: map[string]*fakeTicket{}, hidden: map[string]bool{}}
}

func (f *fakeTracker) Create(ctx context.Context, nt NewTicket) (Ticket, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failCreate != nil {
		return Ticket{}, f.failCreate
	}
	f.creates++
	key := fmt.Sprintf("SEC-%d", len(f.order)+1)
	now := f.clock.Now()
	t := &fakeTicket{Ticket: Ticket{ID: fmt.Sprint(10000 + len(f.order)), Key: key, Summary: nt.Summary, Status: "Open",
		Labels: append([]string(nil), nt.Labels...), Created: now, Updated: now}, route: nt.Route}
	f.tickets[key] = t
	f.order = append(f.order, key)
	if f.lostCreate {
		return Ticket{}, errors.New("timeout waiting for response")
	}
	return t.Ticket, nil
}

func (f *fakeTracker) Find(ctx context.Context, label string) ([]Ticket, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failFind != nil {
		return nil, f.failFind
	}
	var out []Ticket
	for _, k := range f.order {
		if t := f.tickets[k]; t.HasLabel(label) && !f.hidden[k] {
			out = append(out, t.Ticket)
		}
	}
	return out, nil
}

func (f *fakeTracker) Poll(ctx context.Context, since time.Time) ([]Ticket, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Ticket
	for _, k := range f.order {
		if t := f.tickets[k]; !t.Updated.Before(since) {
			out = append(out, t.Ticket)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Updated.Before(out[j].Updated) })
	return out, nil
}

func (f *fakeTracker) Get(ctx context.Context, key string) (Ticket, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tickets[key]
	if !ok {
		return Ticket{}, errors.New("no such ticket")
	}
	return t.Ticket, nil
}

func (f *fakeTracker) touch(t *fakeTicket) { t.Updated = f.clock.Now() }

func (f *fakeTracker) Comment(ctx context.Context, key string, m Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failComment != nil {
		return f.failComment
	}
	t := f.tickets[key]
	t.comments = append(t.comments, m)
	f.touch(t)
	return nil
}

func (f *fakeTracker) Transition(ctx context.Context, key, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tickets[key]
	t.transitions = append(t.transitions, name)
	t.Status = name
	f.touch(t)
	return nil
}

func (f *fakeTracker) Approvals(ctx context.Context, key, label string) ([]Approval, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Approval(nil), f.tickets[key].labelsBy...), nil
}

func (f *fakeTracker) SetRoute(ctx context.Context, key string, r Route) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tickets[key]
	t.route = r
	f.touch(t)
	return nil
}

// addLabel is a person adding a label in the tracker's UI.
func (f *fakeTracker) addLabel(key, label, by string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tickets[key]
	t.Labels = append(t.Labels, label)
	t.labelsBy = append(t.labelsBy, Approval{By: by, At: f.clock.Now()})
	f.touch(t)
}

func (f *fakeTracker) ticket(key string) *fakeTicket {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tickets[key]
}

func (f *fakeTracker) count() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.order) }

func (f *fakeTracker) comments(key string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, m := range f.tickets[key].comments {
		out = append(out, m.PlainText())
	}
	return out
}

// fakeNotifier records notifications.
type fakeNotifier struct {
	mu   sync.Mutex
	sent []Notification
	fail error
}

func (n *fakeNotifier) Notify(ctx context.Context, note Notification) (string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fail != nil {
		return "", n.fail
	}
	n.sent = append(n.sent, note)
	if note.Thread == "" {
		return "thread-" + note.Ticket.Key, nil
	}
	return "", nil
}

// fakeAction records plans and applies.
type fakeAction struct {
	mu         sync.Mutex
	applied    []Plan
	principal  string
	applyErr   error
	unverified bool
	onApply    func()
}

func (a *fakeAction) Plan(ctx context.Context, req ActionRequest) (Plan, error) {
	return Plan{Target: "trail/" + req.Params["trail"], Principal: a.principal, Account: req.Params["account"],
		Params: req.Params, Steps: []string{"StartLogging " + req.Params["trail"]}}, nil
}

func (a *fakeAction) Apply(ctx context.Context, p Plan) (Outcome, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.onApply != nil {
		a.onApply()
	}
	a.applied = append(a.applied, p)
	if a.applyErr != nil {
		return Outcome{}, a.applyErr
	}
	return Outcome{Detail: "IsLogging: true", Verified: !a.unverified, Snapshot: `{"IsLogging":false}`}, nil
}

func (a *fakeAction) count() int { a.mu.Lock(); defer a.mu.Unlock(); return len(a.applied) }

// fakeEnricher answers from a map, or fails.
type fakeEnricher struct {
	name string
	err  error
}

func (e fakeEnricher) Name() string { return e.name }
func (e fakeEnricher) Enrich(ctx context.Context, in EnrichInput) (Enrichment, error) {
	if e.err != nil {
		return Enrichment{}, e.err
	}
	return Enrichment{Facts: []Field{{Name: "Account owner", Value: "alice@" + in.Fields.Get("recipientAccountId")}},
		Route: Route{Team: "payments", Assignee: "alice"}}, nil
}

// failStore makes one Store method fail while fail[name] is set.
type failStore struct {
	Store
	mu   sync.Mutex
	fail map[string]error
}

func (f *failStore) err(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fail[name]
}

func (f *failStore) set(name string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.fail, name)
		return
	}
	f.fail[name] = err
}

func (f *failStore) AddHits(ctx context.Context, d string, h []state.Hit) error {
	if err := f.err("AddHits"); err != nil {
		return err
	}
	return f.Store.AddHits(ctx, d, h)
}

func (f *failStore) CompleteWindow(ctx context.Context, d string, end time.Time) error {
	if err := f.err("CompleteWindow"); err != nil {
		return err
	}
	return f.Store.CompleteWindow(ctx, d, end)
}

func (f *failStore) OpenAlert(ctx context.Context, id int64, t state.TicketRow, ds []state.Delivery) error {
	if err := f.err("OpenAlert"); err != nil {
		return err
	}
	return f.Store.OpenAlert(ctx, id, t, ds)
}

func (f *failStore) CreatePendingAlert(ctx context.Context, a state.Alert) (*state.Alert, error) {
	if err := f.err("CreatePendingAlert"); err != nil {
		return nil, err
	}
	return f.Store.CreatePendingAlert(ctx, a)
}

func (f *failStore) RecordWindow(ctx context.Context, c state.WindowChange) ([]state.Alert, error) {
	if err := f.err("CreatePendingAlert"); err != nil && len(c.New) > 0 {
		return nil, err
	}
	return f.Store.RecordWindow(ctx, c)
}

// Record fails like AppendAction for the phases of the rows it appends.
func (f *failStore) Record(ctx context.Context, c state.Change) ([]int64, error) {
	for _, a := range c.Actions {
		if err := f.err("AppendAction:" + a.Phase); err != nil {
			return nil, err
		}
	}
	return f.Store.Record(ctx, c)
}

func (f *failStore) AppendAction(ctx context.Context, a state.ActionEvent) (int64, error) {
	if err := f.err("AppendAction:" + a.Phase); err != nil {
		return 0, err
	}
	return f.Store.AppendAction(ctx, a)
}

// harness wires the jobs to fakes over a real state file.
type harness struct {
	t        *testing.T
	clock    *clock
	db       *state.DB
	store    *failStore
	search   *fakeSearcher
	tracker  *fakeTracker
	notifier *fakeNotifier
	action   *fakeAction
	det      *detections.Detection
	detector *Detector
	resp     *Responder
}

func newHarness(t *testing.T, mode string) *harness {
	t.Helper()
	c := newClock()
	db, err := state.Open(filepath.Join(t.TempDir(), "patrol.db"), c.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h := &harness{t: t, clock: c, db: db, store: &failStore{Store: db, fail: map[string]error{}},
		search: newSearcher(), tracker: newTracker(c), notifier: &fakeNotifier{}, action: &fakeAction{}}
	h.det = testDetection(t, mode)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h.detector = &Detector{Logger: quiet, Searcher: h.search, Tracker: h.tracker, Store: h.store, Notifier: h.notifier, Label: "patrol",
		MaxWindow: 6 * time.Hour, Now: c.Now,
		Router: Router{Teams: []Team{{Name: "payments", Accounts: []string{"111122223333"}, SlackChannel: "#pay", JiraComponent: "Payments"}}}}
	h.resp = &Responder{Logger: quiet, Tracker: h.tracker, Store: h.store, Notifier: h.notifier,
		Actions:   map[string]Action{"cloudtrail.start_logging": h.action},
		Detection: func(id string) *detections.Detection { return map[string]*detections.Detection{h.det.ID: h.det}[id] },
		Guard:     Guard{DryRun: false, MaxPerHour: 20}, ApproveLabel: "patrol-approve", Approvers: []string{"alice"},
		DoneTransition: "Done", PollOverlap: 5 * time.Minute, FirstPoll: 24 * time.Hour, Now: c.Now}
	return h
}

func testDetection(t *testing.T, mode string) *detections.Detection {
	t.Helper()
	d := &detections.Detection{
		ID: "ct-stop", Title: "CloudTrail logging stopped", Severity: "critical", Settle: 2 * time.Minute, Lookback: 15 * time.Minute,
		Suppress: time.Hour, TimeMode: detections.TimeIndex, Search: "x", Expanded: "x",
		GroupBy: []string{"recipientAccountId", "requestParameters.name"},
	}
	var err error
	if d.Ticket.Summary, err = detections.ParseTemplate("CloudTrail {eventName} on {requestParameters.name}"); err != nil {
		t.Fatal(err)
	}
	if mode != "" {
		params := map[string]detections.Template{}
		for k, v := range map[string]string{"account": "{recipientAccountId}", "region": "{awsRegion}", "trail": "{requestParameters.name}"} {
			params[k], _ = detections.ParseTemplate(v)
		}
		d.Remediation = &detections.Remediation{Action: "cloudtrail.start_logging", Mode: mode, Params: params}
	}
	return d
}

// stop is a StopLogging event on trail at time at.
func stop(at time.Time, trail string) event {
	return event{at: at, fields: Result{
		"eventName": {"StopLogging"}, "recipientAccountId": {"111122223333"}, "awsRegion": {"us-east-1"},
		"requestParameters.name": {trail}, "userIdentity.arn": {"arn:aws:iam::111122223333:user/mallory"},
	}}
}

func (h *harness) detect() (DetectStats, error) {
	h.t.Helper()
	return h.detector.Run(context.Background(), h.det)
}

func (h *harness) checkpoint() time.Time {
	h.t.Helper()
	cp, _, err := h.db.Checkpoint(context.Background(), h.det.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	return cp
}
