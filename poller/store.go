package poller

import (
	"context"
	"time"

	"github.com/patrolsec/patrol/state"
)

// Store is the part of the state the jobs use. *state.DB implements it;
// tests wrap it to make one step fail.
type Store interface {
	Now() time.Time

	Checkpoint(ctx context.Context, detection string) (time.Time, bool, error)
	ClearHits(ctx context.Context, detection string) error
	AddHits(ctx context.Context, detection string, hits []state.Hit) error
	Hits(ctx context.Context, detection string, after *state.Hit, limit int) ([]state.Hit, error)
	CompleteWindow(ctx context.Context, detection string, end time.Time) error
	StartRun(ctx context.Context, r state.Run) (int64, error)
	FinishRun(r state.Run) error

	LatestAlert(ctx context.Context, fingerprint string) (*state.Alert, error)
	AlertByTicket(ctx context.Context, key string) (*state.Alert, error)
	CreatePendingAlert(ctx context.Context, a state.Alert) (*state.Alert, error)
	OpenAlert(ctx context.Context, alertID int64, t state.TicketRow, notes []string) error
	RecordRepeat(ctx context.Context, id int64, windowStart time.Time, n int, first, last time.Time) error
	MarkCommented(ctx context.Context, id int64, at time.Time) error
	KnownTicketKeys(ctx context.Context, fingerprint string) (map[string]bool, error)

	UpsertTicket(ctx context.Context, t state.TicketRow) error
	Ticket(ctx context.Context, key string) (*state.TicketRow, error)
	UpdateTicket(ctx context.Context, key string, u state.TicketUpdate) error
	TicketsInStage(ctx context.Context, stages ...string) ([]state.TicketRow, error)

	AppendAction(ctx context.Context, a state.ActionEvent) (int64, error)
	AttemptEvents(ctx context.Context, attempt string) ([]state.ActionEvent, error)
	Action(ctx context.Context, id int64) (*state.ActionEvent, error)
	StartedSince(ctx context.Context, t time.Time) (int, error)

	Enqueue(ctx context.Context, key string, payloads ...string) error
	PendingOutbox(ctx context.Context, limit int) ([]state.OutboxItem, error)
	OutboxSent(ctx context.Context, id int64) error
	OutboxFailed(ctx context.Context, id int64, msg string) error

	Prune(ctx context.Context, before time.Time) (int64, error)

	Meta(ctx context.Context, key string) (string, error)
	SetMeta(ctx context.Context, key, value string) error
	MetaTime(ctx context.Context, key string) (time.Time, error)
	SetMetaTime(ctx context.Context, key string, t time.Time) error
}

var _ Store = (*state.DB)(nil)
