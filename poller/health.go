package poller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/state"
)

// SelfLabel marks tickets patrol raises about itself.
const SelfLabel = "patrol-self"

// Health raises one ticket (and notification) per problem patrol has with
// itself — a data source gone quiet, a detection failing run after run, a
// checkpoint falling behind, deliveries that fail for good — and clears it
// when the problem goes away. Each problem is keyed, so it is raised once,
// never once per run. A self-alert is an alert in the ledger (detection
// "patrol", fingerprint from its key), and its ticket is made the way an
// alert's is: recorded as pending first, looked up rather than created
// again after a crash or a create with an unknown outcome.
type Health struct {
	Tracker Tracker
	Store   Store
	Label   string
	// FailuresBeforeAlert is how many failed runs in a row raise an alert (0 = off).
	FailuresBeforeAlert int
	// MaxLag raises an alert when a checkpoint is older than this (0 = off).
	MaxLag time.Duration
	// IndexLag and CreateTimeout are the tracker's search lag and the
	// longest a create may take (see Detector).
	IndexLag, CreateTimeout time.Duration
	// Runs returns the consecutive failures of a job's latest runs (of one
	// detection for "detect", "" for "respond").
	Runs   func(ctx context.Context, job, detection string) (int, error)
	Now    func() time.Time
	Logger *slog.Logger
}

const selfKeyPrefix = "self_alert:"

// SelfDetection is the detection id of self-alerts in the ledger.
const SelfDetection = "patrol"

// selfFingerprint is the alert fingerprint of a self-alert problem key.
func selfFingerprint(key string) string {
	return Fingerprint(SelfDetection, []string{"problem"}, Result{"problem": {key}})
}

func (h *Health) creator() creator {
	return creator{tracker: h.Tracker, store: h.Store, lag: h.IndexLag, timeout: h.CreateTimeout, now: h.now, log: h.logger()}
}

// Raise opens a self-alert for key unless one is open.
func (h *Health) Raise(ctx context.Context, key, summary string, m Message) error {
	if legacy, err := h.Store.Meta(ctx, selfKeyPrefix+key); err != nil || legacy != "" {
		return err // raised before the ledger kept self-alerts
	}
	fp := selfFingerprint(key)
	defer alertLocks.lock(fp)()
	a, err := h.Store.LatestAlert(ctx, fp)
	if err != nil {
		return err
	}
	switch {
	case a != nil && a.State == state.AlertOpen:
		return nil
	case a == nil || a.State != state.AlertPending:
		now := h.now()
		res, _ := json.Marshal(Result{"problem": {key}, "summary": {summary}})
		if a, err = h.Store.CreatePendingAlert(ctx, state.Alert{Detection: SelfDetection, Fingerprint: fp, FirstSeen: now, LastSeen: now,
			Count: 1, WindowStart: now, WindowCount: 1, Result: string(res), CreateUnknownAt: time.Time{}}); err != nil {
			return fmt.Errorf("raise %s: %w", key, err)
		}
	}
	nt := NewTicket{Detection: SelfDetection, Fingerprint: fp, Summary: summary, Severity: "high",
		Labels: []string{h.Label, SelfLabel, FingerprintLabel(fp)}, Description: m}
	t, _, err := h.creator().ensure(ctx, a, nt)
	var wait *WaitingError
	if errors.As(err, &wait) {
		h.logger().Info("self-alert waits for the tracker's index", "problem", key, "until", wait.Until)
		return nil
	}
	if err != nil {
		return fmt.Errorf("raise %s: %w", key, err)
	}
	if err := openSelfAlert(ctx, h.Store, a, t, summary, m); err != nil {
		return err
	}
	h.logger().Warn("self-alert raised", "problem", key, "ticket", t.Key)
	return nil
}

// Clear closes the self-alert for key, if one is open.
func (h *Health) Clear(ctx context.Context, key, text string) error {
	m := Message{Sections: []Section{{Heading: "Resolved", Text: text}}}
	resolved := func(ticketKey string) ([]state.Delivery, error) {
		return encodeAll(ticketKey, []Delivery{CommentDelivery(m),
			NotifyDelivery(Notification{Ticket: Ticket{Key: ticketKey}, Detection: SelfDetection, Status: "resolved", Message: m})})
	}
	if legacy, err := h.Store.Meta(ctx, selfKeyPrefix+key); err != nil {
		return err
	} else if legacy != "" {
		ds, err := resolved(legacy)
		if err != nil {
			return err
		}
		if err := h.Store.EnqueueDeliveries(ctx, ds...); err != nil {
			return err
		}
		return h.Store.SetMeta(ctx, selfKeyPrefix+key, "")
	}
	fp := selfFingerprint(key)
	defer alertLocks.lock(fp)()
	a, err := h.Store.LatestAlert(ctx, fp)
	if err != nil || a == nil {
		return err
	}
	if a.State == state.AlertPending {
		// Raised, but its ticket not confirmed: find it, or give it up.
		if a.CreateUnknownAt.IsZero() {
			return h.Store.DropAlert(ctx, a.ID)
		}
		t, found, err := h.creator().lookup(ctx, a)
		if err != nil || !found {
			if err == nil {
				err = h.Store.DropAlert(ctx, a.ID)
			}
			var wait *WaitingError
			if errors.As(err, &wait) {
				return nil
			}
			return err
		}
		row := state.TicketRow{Key: t.Key, ID: t.ID, Detection: SelfDetection, Fingerprint: a.Fingerprint, Summary: t.Summary,
			Status: t.Status, Labels: t.Labels, URL: t.URL, Stage: state.StageDone}
		if err := h.Store.OpenAlert(ctx, a.ID, row, nil); err != nil {
			return err
		}
		a.State, a.TicketKey = state.AlertOpen, t.Key
	}
	if a.State != state.AlertOpen {
		return nil
	}
	ds, err := resolved(a.TicketKey)
	if err != nil {
		return err
	}
	if err := h.Store.ResolveAlert(ctx, a.ID, ds); err != nil {
		return fmt.Errorf("clear %s: %w", key, err)
	}
	h.logger().Info("self-alert cleared", "problem", key, "ticket", a.TicketKey)
	return nil
}

// deadLetters raises one self-alert per kind of permanent delivery
// failure (a Slack channel that does not exist, a transition the workflow
// lacks): raised the first time, never once per delivery.
func (h *Health) deadLetters(ctx context.Context, dead []deadLetter) error {
	type group struct {
		kind, class string
		items       []deadLetter
	}
	var order []string
	groups := map[string]*group{}
	for _, d := range dead {
		k := d.item.Kind + ":" + errorClass(d.err)
		if groups[k] == nil {
			groups[k] = &group{kind: d.item.Kind, class: errorClass(d.err)}
			order = append(order, k)
		}
		groups[k].items = append(groups[k].items, d)
	}
	var errs []error
	for _, k := range order {
		g := groups[k]
		fields := []Field{{Name: "Kind", Value: g.kind}, {Name: "Failure", Value: g.class}}
		for _, d := range g.items {
			fields = append(fields, Field{Name: d.item.TicketKey, Value: d.err.Error()})
		}
		err := h.Raise(ctx, "dead-letter:"+k, fmt.Sprintf("patrol: %s deliveries fail for good (%s)", g.kind, g.class), Message{Sections: []Section{{
			Text: "These deliveries failed in a way no retry can fix, so patrol set them aside (they no longer hold back the others). " +
				"'patrol status' lists every delivery set aside; later ones failing the same way are listed there, not raised again. Fix the cause (a channel, a permission, a workflow) and act on the listed tickets by hand.",
			Fields: fields,
		}}})
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// AfterRun raises or clears a detection's failing and lagging alerts, and
// clears a flood alert once the detection runs cleanly again.
func (h *Health) AfterRun(ctx context.Context, d *detections.Detection, runErr error) error {
	if runErr == nil {
		if err := h.Clear(ctx, "flood:"+d.ID, "The detection ran again within detections.max_new_alerts."); err != nil {
			return err
		}
	}
	if h.FailuresBeforeAlert > 0 && h.Runs != nil {
		n, err := h.Runs(ctx, "detect", d.ID)
		if err != nil {
			return err
		}
		key := "failing:" + d.ID
		if n >= h.FailuresBeforeAlert && runErr != nil {
			if err := h.Raise(ctx, key, fmt.Sprintf("patrol: detection %s failed %d runs in a row", d.ID, n), Message{Sections: []Section{{
				Text:   "The detection's search or handling keeps failing, so its window is not advancing. Nothing is lost: it catches up once the cause is fixed. Last error:",
				Pre:    runErr.Error(),
				Fields: []Field{{Name: "Detection", Value: d.ID}, {Name: "Failures in a row", Value: fmt.Sprint(n)}},
			}}}); err != nil {
				return err
			}
		} else if runErr == nil {
			if err := h.Clear(ctx, key, "The detection ran successfully again."); err != nil {
				return err
			}
		}
	}
	if h.MaxLag > 0 {
		cp, ok, err := h.Store.Checkpoint(ctx, d.ID)
		if err != nil || !ok {
			return err
		}
		lag := h.now().Sub(cp)
		key := "lagging:" + d.ID
		if lag > h.MaxLag {
			return h.Raise(ctx, key, fmt.Sprintf("patrol: detection %s is %s behind", d.ID, lag.Round(time.Minute)), Message{Sections: []Section{{
				Text:   fmt.Sprintf("The detection's checkpoint is older than health.max_lag (%s): events after it are not searched yet.", h.MaxLag),
				Fields: []Field{{Name: "Detection", Value: d.ID}, {Name: "Checkpoint", Value: cp.Format(time.RFC3339)}},
			}}})
		}
		return h.Clear(ctx, key, "The detection caught up.")
	}
	return nil
}

// ExpiredExceptions raises one self-alert per expired exception of d: it
// no longer applies, so the results it muted open tickets again, and its
// owner should renew or remove it. An exception renewed and expired again
// raises a new one.
func (h *Health) ExpiredExceptions(ctx context.Context, d *detections.Detection) error {
	now := h.now()
	for _, e := range d.Exceptions {
		if now.Before(e.Expires) {
			continue
		}
		key := "exception-expired:" + d.ID + ":" + e.Key() + ":" + e.Expires.Format(time.RFC3339)
		fields := []Field{{Name: "Detection", Value: d.ID}, {Name: "File", Value: fmt.Sprintf("%s:%d", e.File, e.Line)},
			{Name: "Match", Value: e.String()}, {Name: "Reason", Value: e.Reason}, {Name: "Owner", Value: e.Owner},
			{Name: "Expired", Value: e.Expires.Format(time.RFC3339)}}
		if e.Ticket != "" {
			fields = append(fields, Field{Name: "Ticket", Value: e.Ticket})
		}
		err := h.Raise(ctx, key, fmt.Sprintf("patrol: an exception of %s expired (%s)", d.ID, e.Owner), Message{Sections: []Section{{
			Text:   "This exception no longer applies: results it excepted open tickets again. Its owner renews it (a new expires, at most a year ahead) or removes it from the detection file.",
			Fields: fields,
		}}})
		if err != nil {
			return err
		}
	}
	return nil
}

// AfterRespond raises or clears the alert of a respond job failing run
// after run (tickets not enriched or remediated while it lasts).
func (h *Health) AfterRespond(ctx context.Context, runErr error) error {
	if h.FailuresBeforeAlert <= 0 || h.Runs == nil {
		return nil
	}
	if runErr == nil {
		return h.Clear(ctx, "failing:respond", "The respond job ran successfully again.")
	}
	n, err := h.Runs(ctx, "respond", "")
	if err != nil || n < h.FailuresBeforeAlert {
		return err
	}
	return h.Raise(ctx, "failing:respond", fmt.Sprintf("patrol: the respond job failed %d runs in a row", n), Message{Sections: []Section{{
		Text: "Tickets are not being enriched or remediated while this lasts; approvals wait. Last error:",
		Pre:  runErr.Error(),
	}}})
}

// Freshness checks that a detection's source returned anything in the last
// d.Freshness; silence raises a "data stopped arriving" alert, data clears it.
func (h *Health) Freshness(ctx context.Context, s Searcher, d *detections.Detection, end time.Time) error {
	if d.Freshness == 0 || d.FreshnessSearch == "" {
		return nil
	}
	w := Window{Start: end.Add(-d.Freshness), End: end}
	seen := false
	err := s.Search(ctx, Query{Detection: d.ID, SPL: d.FreshnessSearch + " | head 1", Window: w, TimeMode: TimeMode(d.TimeMode)}, func(Result) error {
		seen = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: freshness search: %w", d.ID, err)
	}
	key := "stale:" + d.ID
	if seen {
		return h.Clear(ctx, key, "Events are arriving again.")
	}
	return h.Raise(ctx, key, fmt.Sprintf("patrol: data stopped arriving for %s", d.ID), Message{Sections: []Section{{
		Text: fmt.Sprintf("The source of detection %s returned no events at all in %s. CloudTrail stopped upstream of the search backend looks exactly like this: check the trail, the delivery to the backend, and the backend's inputs.", d.ID, windowString(w)),
		Pre:  d.FreshnessSearch,
	}}})
}

func (h *Health) now() time.Time {
	if h.Now != nil {
		return h.Now().UTC()
	}
	return time.Now().UTC()
}

func (h *Health) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}
