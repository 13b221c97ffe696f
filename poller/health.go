package poller

import (
	"context"
	"encoding/json"
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
// checkpoint falling behind — and clears it when the problem goes away.
// Each problem is keyed, so it is raised once, never once per run.
type Health struct {
	Tracker Tracker
	Store   Store
	Label   string
	// FailuresBeforeAlert is how many failed runs in a row raise an alert (0 = off).
	FailuresBeforeAlert int
	// MaxLag raises an alert when a checkpoint is older than this (0 = off).
	MaxLag time.Duration
	// Runs returns the consecutive failures of a job's latest runs (of one
	// detection for "detect", "" for "respond").
	Runs   func(ctx context.Context, job, detection string) (int, error)
	Now    func() time.Time
	Logger *slog.Logger
}

const selfKeyPrefix = "self_alert:"

// SelfFingerprintPrefix starts the ledger fingerprint of a self-alert's
// ticket; the problem's key follows (stale:ID, failing:ID, lagging:ID,
// flood:ID, failing:respond), so the report can say what was raised when.
const SelfFingerprintPrefix = "self:"

// Raise opens a self-alert for key unless one is open.
func (h *Health) Raise(ctx context.Context, key, summary string, m Message) error {
	open, err := h.Store.Meta(ctx, selfKeyPrefix+key)
	if err != nil || open != "" {
		return err
	}
	t, err := h.Tracker.Create(ctx, NewTicket{Detection: "patrol", Summary: summary, Severity: "high",
		Labels: []string{h.Label, SelfLabel}, Description: m})
	if err != nil {
		return fmt.Errorf("raise %s: %w", key, err)
	}
	if err := h.Store.SetMeta(ctx, selfKeyPrefix+key, t.Key); err != nil {
		return err
	}
	if err := h.Store.UpsertTicket(ctx, state.TicketRow{Key: t.Key, ID: t.ID, Detection: "", Fingerprint: SelfFingerprintPrefix + key, Summary: t.Summary, Status: t.Status,
		Labels: t.Labels, URL: t.URL, Stage: state.StageDone}); err != nil {
		return err
	}
	h.logger().Warn("self-alert raised", "problem", key, "ticket", t.Key)
	note, _ := json.Marshal(Notification{Ticket: t, Detection: "patrol", Severity: "high", Status: "open", Message: Message{Title: summary, Sections: m.Sections}})
	return h.Store.Enqueue(ctx, t.Key, string(note))
}

// Clear closes the self-alert for key, if one is open.
func (h *Health) Clear(ctx context.Context, key, text string) error {
	open, err := h.Store.Meta(ctx, selfKeyPrefix+key)
	if err != nil || open == "" {
		return err
	}
	m := Message{Sections: []Section{{Heading: "Resolved", Text: text}}}
	if err := h.Tracker.Comment(ctx, open, m); err != nil {
		return fmt.Errorf("clear %s: %w", key, err)
	}
	if err := h.Store.SetMeta(ctx, selfKeyPrefix+key, ""); err != nil {
		return err
	}
	h.logger().Info("self-alert cleared", "problem", key, "ticket", open)
	note, _ := json.Marshal(Notification{Ticket: Ticket{Key: open}, Detection: "patrol", Status: "resolved", Message: m})
	return h.Store.Enqueue(ctx, open, string(note))
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
