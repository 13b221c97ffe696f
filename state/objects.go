package state

import (
	"context"
	"database/sql"
	"time"
)

// WindowObject is a remote log object (an S3 object) a detection's window
// read. Windows over remote objects pick them by arrival and reach back a
// little before their start, for objects that became visible late; the
// objects read are remembered so that none is read twice.
type WindowObject struct {
	Object  string // its URL
	Version string // its ETag
	Arrived time.Time
	// KeepUntil is when no later window can reach back to the object any
	// more: the row is pruned once the checkpoint passes it.
	KeepUntil time.Time
}

// StageObjects records objects a window of detection has read. They count
// as read only once the window completes (CompleteWindow commits them with
// the checkpoint); a window that starts again (ClearHits) drops them.
func (s *DB) StageObjects(ctx context.Context, detection string, objs []WindowObject) error {
	if len(objs) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO window_objects (detection, object, version, arrived, keep_until)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (detection, object, version) DO NOTHING`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, o := range objs {
			if _, err := st.ExecContext(ctx, detection, o.Object, o.Version, ts(o.Arrived), ts(o.KeepUntil)); err != nil {
				return err
			}
		}
		return nil
	})
}

// ObjectsRead returns the objects completed windows of detection have read
// that arrived after since.
func (s *DB) ObjectsRead(ctx context.Context, detection string, since time.Time) ([]WindowObject, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT object, version, arrived, keep_until FROM window_objects
		WHERE detection = ? AND committed = 1 AND arrived > ? ORDER BY object, version`, detection, ts(since))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []WindowObject
	for rows.Next() {
		var o WindowObject
		var arrived, keep string
		if err := rows.Scan(&o.Object, &o.Version, &arrived, &keep); err != nil {
			return nil, err
		}
		o.Arrived, o.KeepUntil = parseTS(arrived), parseTS(keep)
		out = append(out, o)
	}
	return out, rows.Err()
}
