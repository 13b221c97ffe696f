package state

import (
	"context"
	"time"
)

// UndoRequest is an undo asked for while another patrol process held the
// state file: the process that holds it carries it out.
type UndoRequest struct {
	ID        int64
	ActionID  int64
	By        string
	Requested time.Time
	Done      time.Time
	Result    string // "undone", "refused" or "failed" once done
	Detail    string
}

// RequestUndo queues an undo of action id for the running patrol.
func (s *DB) RequestUndo(ctx context.Context, actionID int64, by string) (int64, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO undo_requests (action_id, by_user, requested_at) VALUES (?, ?, ?)`, actionID, by, ts(s.Now()))
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

func (s *DB) queryUndo(ctx context.Context, where string, args ...any) ([]UndoRequest, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, action_id, by_user, requested_at, coalesce(done_at, ''), result, detail FROM undo_requests `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []UndoRequest
	for rows.Next() {
		var u UndoRequest
		var req, done string
		if err := rows.Scan(&u.ID, &u.ActionID, &u.By, &req, &done, &u.Result, &u.Detail); err != nil {
			return nil, err
		}
		u.Requested, u.Done = parseTS(req), parseTS(done)
		out = append(out, u)
	}
	return out, rows.Err()
}

// PendingUndos returns the queued undos not yet carried out, oldest first.
func (s *DB) PendingUndos(ctx context.Context) ([]UndoRequest, error) {
	return s.queryUndo(ctx, `WHERE done_at IS NULL ORDER BY id`)
}

// RecentUndos returns the newest undo requests, newest first.
func (s *DB) RecentUndos(ctx context.Context, limit int) ([]UndoRequest, error) {
	return s.queryUndo(ctx, `ORDER BY id DESC LIMIT ?`, limit)
}

// UndoDone records what became of a queued undo.
func (s *DB) UndoDone(ctx context.Context, id int64, result, detail string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE undo_requests SET done_at = ?, result = ?, detail = ? WHERE id = ?`, ts(s.Now()), result, detail, id)
	return err
}
