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
	Generations(ctx context.Context, fingerprint string) ([]state.Alert, error)
	PendingAlerts(ctx context.Context, detection string) ([]state.Alert, error)
	AlertByTicket(ctx context.Context, key string) (*state.Alert, error)
	CreatePendingAlert(ctx context.Context, a state.Alert) (*state.Alert, error)
	RecordWindow(ctx context.Context, c state.WindowChange) ([]state.Alert, error)
	SetCreateUnknown(ctx context.Context, alertID int64, t time.Time) error
	OpenAlert(ctx context.Context, alertID int64, t state.TicketRow, ds []state.Delivery) error
	ResolveAlert(ctx context.Context, alertID int64, ds []state.Delivery) error
	DropAlert(ctx context.Context, alertID int64) error
	KnownTicketKeys(ctx context.Context, fingerprint string) (map[string]bool, error)

	UpsertTicket(ctx context.Context, t state.TicketRow) error
	Ticket(ctx context.Context, key string) (*state.TicketRow, error)
	UpdateTicket(ctx context.Context, key string, u state.TicketUpdate) error
	TicketsInStage(ctx context.Context, stages ...string) ([]state.TicketRow, error)

	Record(ctx context.Context, c state.Change) ([]int64, error)
	CurrentPlan(ctx context.Context, key string) (*state.PlanRow, error)
	PlanPosted(ctx context.Context, key, digest string, at time.Time) error
	Approvals(ctx context.Context, key string) ([]state.Approval, error)
	ChatActions(ctx context.Context, key string) ([]state.ChatAction, error)

	AppendAction(ctx context.Context, a state.ActionEvent) (int64, error)
	AttemptEvents(ctx context.Context, attempt string) ([]state.ActionEvent, error)
	TicketActions(ctx context.Context, key string) ([]state.ActionEvent, error)
	Action(ctx context.Context, id int64) (*state.ActionEvent, error)
	StartedSince(ctx context.Context, t time.Time) (int, error)
	FailuresInARow(ctx context.Context, since time.Time, limit int) (int, error)
	TicketVerdict(ctx context.Context, key string) (*state.Verdict, error)
	PendingUndos(ctx context.Context) ([]state.UndoRequest, error)
	UndoDone(ctx context.Context, id int64, result, detail string) error

	Enqueue(ctx context.Context, key string, payloads ...string) error
	EnqueueDeliveries(ctx context.Context, ds ...state.Delivery) error
	PendingOutbox(ctx context.Context, limit int) ([]state.OutboxItem, error)
	OutboxSending(ctx context.Context, id int64) error
	OutboxSent(ctx context.Context, id int64) error
	OutboxFailed(ctx context.Context, id int64, msg string) error
	OutboxDead(ctx context.Context, id int64, msg string) error

	Prune(ctx context.Context, before time.Time) (int64, error)

	Meta(ctx context.Context, key string) (string, error)
	SetMeta(ctx context.Context, key, value string) error
	MetaTime(ctx context.Context, key string) (time.Time, error)
	SetMetaTime(ctx context.Context, key string, t time.Time) error
}

var _ Store = (*state.DB)(nil)
