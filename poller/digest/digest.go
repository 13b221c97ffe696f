// Package digest sends the scheduled summaries of [[digest]] entries: per
// channel, on a cron schedule, optionally for some teams only, what is
// open by severity and team, which plans wait for an approver and for how
// long, what patrol did since the last digest, and which detections fail
// or lag.
//
// A digest is sent once per schedule tick, crash-safe: the tick is
// recorded in the state with the digest's delivery in one transaction
// (so it is queued once, and the outbox sends it until it arrives), and
// each run looks for the latest tick that is due but not queued, so a
// tick that passed while patrol was stopping or down is still sent, late,
// when it runs again. Of several ticks missed in a row only the latest is
// sent (saying how many were skipped): it covers the whole span since the
// last digest, so no action is left out.
package digest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/state"
)

// Config is one [[digest]] entry.
type Config struct {
	Channel  string   `toml:"channel"`  // where it goes: #name or a channel ID
	Schedule string   `toml:"schedule"` // cron, e.g. "0 9 * * 1-5"
	Teams    []string `toml:"teams"`    // optional: only these [[teams]]
}

// Validate checks the entry; teams are checked against [[teams]] by the
// config loader.
func (c Config) Validate() []poller.FieldError {
	var errs []poller.FieldError
	if strings.TrimSpace(c.Channel) == "" {
		errs = append(errs, poller.FieldError{Key: "channel", Msg: "is required (a channel name like #security or an ID)"})
	}
	if c.Schedule == "" {
		errs = append(errs, poller.FieldError{Key: "schedule", Msg: "is required (a cron schedule like \"0 9 * * 1-5\")"})
	} else if _, err := cron.ParseStandard(c.Schedule); err != nil {
		errs = append(errs, poller.FieldError{Key: "schedule", Msg: fmt.Sprintf("%q is not a cron schedule: %v", c.Schedule, err)})
	}
	for _, t := range c.Teams {
		if strings.TrimSpace(t) == "" {
			errs = append(errs, poller.FieldError{Key: "teams", Msg: "has an empty entry"})
		}
	}
	return errs
}

// Name identifies the entry in the state: its channel, schedule and
// teams. Changing any of them makes a new digest.
func (c Config) Name() string {
	h := sha256.Sum256([]byte(c.Channel + "\x1f" + c.Schedule + "\x1f" + strings.Join(c.Teams, ",")))
	return c.Channel + " " + hex.EncodeToString(h[:])[:8]
}

// Store is the part of the state a digest reads and writes.
type Store interface {
	Meta(ctx context.Context, key string) (string, error)
	SetMetaTime(ctx context.Context, key string, t time.Time) error
	MetaTime(ctx context.Context, key string) (time.Time, error)
	LastDigest(ctx context.Context, name string) (time.Time, error)
	QueueDigest(ctx context.Context, name string, tick, since time.Time, d state.Delivery) (bool, error)
	OpenAlerts(ctx context.Context) ([]state.Alert, error)
	AlertByTicket(ctx context.Context, key string) (*state.Alert, error)
	Ticket(ctx context.Context, key string) (*state.TicketRow, error)
	TicketsInStage(ctx context.Context, stages ...string) ([]state.TicketRow, error)
	ActionOutcomes(ctx context.Context, since, until time.Time) ([]state.ActionEvent, error)
	LastRuns(ctx context.Context) ([]state.RunSummary, error)
	Checkpoints(ctx context.Context) (map[string]time.Time, error)
}

var _ Store = (*state.DB)(nil)

// Job is one [[digest]] entry, ready to run.
type Job struct {
	Config   Config
	Schedule cron.Schedule
	Store    Store
	// Detections returns the loaded detections (reloads swap them).
	Detections func() []*detections.Detection
	Router     poller.Router
	// MaxLag: a checkpoint older than this is stale (health.max_lag).
	MaxLag time.Duration
	// Expiring lists the exceptions and silences that end within 7 days
	// of now; nil while patrol has none.
	Expiring func(now time.Time) []poller.DigestExpiring
	// Flush sends queued deliveries (the respond job's courier).
	Flush  func(ctx context.Context) error
	Now    func() time.Time
	Logger *slog.Logger

	dets map[string]*detections.Detection // by id, while a digest is built
}

// New builds the job of one entry.
func New(c Config) (*Job, error) {
	sched, err := cron.ParseStandard(c.Schedule)
	if err != nil {
		return nil, fmt.Errorf("digest for %s: schedule %q: %w", c.Channel, c.Schedule, err)
	}
	return &Job{Config: c, Schedule: sched}, nil
}

// Late is how long after its tick a digest is still on time.
const late = 2 * time.Minute

// missedWindow bounds the search for missed ticks (a long outage).
const missedWindow = 31 * 24 * time.Hour

// Run queues the digest of the latest tick that is due and not queued
// yet, then sends what is queued. It reports whether it queued one. The
// first run of a new entry only notes when digests begin: the first digest
// goes out at the first tick after that.
func (j *Job) Run(ctx context.Context) (bool, error) {
	now := j.now()
	name := j.Config.Name()
	last, err := j.Store.LastDigest(ctx, name)
	if err != nil {
		return false, fmt.Errorf("digest %s: %w", name, err)
	}
	since := last
	if since.IsZero() {
		startKey := "digest_start:" + name
		if since, err = j.Store.MetaTime(ctx, startKey); err != nil {
			return false, err
		}
		if since.IsZero() {
			j.log().Info("digest scheduled: the first one goes out at its next tick", "digest", name, "next", j.Schedule.Next(now))
			return false, j.Store.SetMetaTime(ctx, startKey, now)
		}
	}
	from := since
	if now.Sub(from) > missedWindow {
		from = now.Add(-missedWindow)
	}
	var tick time.Time
	ticks := 0
	for t := j.Schedule.Next(from); !t.After(now) && !t.IsZero(); t = j.Schedule.Next(t) {
		tick, ticks = t, ticks+1
	}
	if tick.IsZero() {
		return false, j.flush(ctx)
	}
	d, err := j.build(ctx, since, tick, now)
	if err != nil {
		return false, fmt.Errorf("digest %s: %w", name, err)
	}
	d.Skipped = ticks - 1
	d.Late = now.Sub(tick) > late
	del, err := poller.EncodeDelivery("digest:"+name, poller.NotifyDelivery(poller.Notification{Channel: j.Config.Channel, Digest: &d}))
	if err != nil {
		return false, err
	}
	queued, err := j.Store.QueueDigest(ctx, name, tick, since, del)
	if err != nil {
		return false, fmt.Errorf("digest %s: queue: %w", name, err)
	}
	if queued {
		j.log().Info("digest queued", "digest", name, "tick", tick, "late", d.Late, "skipped", d.Skipped,
			"open", d.OpenTotal, "waiting", d.WaitingTotal, "actions", d.ActionsTotal, "detections", len(d.Detections))
	}
	return queued, j.flush(ctx)
}

func (j *Job) flush(ctx context.Context) error {
	if j.Flush == nil {
		return nil
	}
	return j.Flush(ctx)
}

func (j *Job) now() time.Time {
	if j.Now != nil {
		return j.Now().UTC()
	}
	return time.Now().UTC()
}

func (j *Job) log() *slog.Logger {
	if j.Logger != nil {
		return j.Logger
	}
	return slog.Default()
}
