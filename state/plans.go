package state

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// PlanRow is a remediation plan shown on a ticket for approval.
type PlanRow struct {
	ID         int64
	TicketKey  string
	Digest     string // short hash of action, target and resolved params
	Plan       string // JSON of the plan
	Created    time.Time
	Posted     time.Time // the tracker's time of the plan comment; zero until delivered
	Void       time.Time // superseded: approvals of it no longer count
	VoidReason string
}

// Approval is an approval that counted: who approved which plan, when, and
// how (via: "label" for the tracker's approve label; other channels add
// their own).
type Approval struct {
	ID        int64
	TicketKey string
	Digest    string
	By        string
	At        time.Time // when the approver approved, by the approving system's clock
	Via       string
	Recorded  time.Time
}

const planCols = `id, ticket_key, digest, plan, created_at, coalesce(posted_at, ''), coalesce(void_at, ''), void_reason`

func scanPlan(row interface{ Scan(...any) error }) (*PlanRow, error) {
	var p PlanRow
	var created, posted, void string
	if err := row.Scan(&p.ID, &p.TicketKey, &p.Digest, &p.Plan, &created, &posted, &void, &p.VoidReason); err != nil {
		return nil, err
	}
	p.Created, p.Posted, p.Void = parseTS(created), parseTS(posted), parseTS(void)
	return &p, nil
}

// CurrentPlan returns the ticket's latest plan that is not void, or nil.
func (s *DB) CurrentPlan(ctx context.Context, key string) (*PlanRow, error) {
	p, err := scanPlan(s.db.QueryRowContext(ctx, `SELECT `+planCols+` FROM plans WHERE ticket_key = ? AND void_at IS NULL ORDER BY id DESC LIMIT 1`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return p, err
}

// Plans returns every plan of a ticket, oldest first.
func (s *DB) Plans(ctx context.Context, key string) ([]PlanRow, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+planCols+` FROM plans WHERE ticket_key = ? ORDER BY id`, key)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PlanRow
	for rows.Next() {
		p, err := scanPlan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *p)
	}
	return out, rows.Err()
}

// PlanPosted records when the tracker stamped the comment showing the
// ticket's current plan with digest; approvals count only after it.
func (s *DB) PlanPosted(ctx context.Context, key, digest string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE plans SET posted_at = ? WHERE ticket_key = ? AND digest = ? AND void_at IS NULL AND posted_at IS NULL`,
		ts(at), key, digest)
	return err
}

// Approvals returns the approvals that counted on a ticket, oldest first.
func (s *DB) Approvals(ctx context.Context, key string) ([]Approval, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, ticket_key, digest, by_user, at, via, recorded_at FROM approvals WHERE ticket_key = ? ORDER BY id`, key)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Approval
	for rows.Next() {
		var a Approval
		var at, rec string
		if err := rows.Scan(&a.ID, &a.TicketKey, &a.Digest, &a.By, &at, &a.Via, &rec); err != nil {
			return nil, err
		}
		a.At, a.Recorded = parseTS(at), parseTS(rec)
		out = append(out, a)
	}
	return out, rows.Err()
}
