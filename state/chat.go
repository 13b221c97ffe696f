package state

import (
	"context"
	"database/sql"
	"time"
)

// Kinds of chat action.
const (
	ChatApprove = "approve" // an approver approved the plan from the chat
	ChatHold    = "hold"    // an approver held the remediation from the chat
)

// ChatAction is a click on a ticket's Approve or Hold button in the chat
// that counted.
type ChatAction struct {
	ID        int64
	TicketKey string
	Digest    string // the plan the button was for
	Kind      string // ChatApprove | ChatHold
	Via       string // the chat ("slack")
	ChatUser  string // the chat's user id (Slack U0123ABCD)
	ChatName  string // the name the chat showed, for messages
	By        string // the approver identity ChatUser maps to
	Message   string // the message clicked ("CHANNEL:TS"), updated with the outcome
	At        time.Time
	Recorded  time.Time
}

func insertChatAction(ctx context.Context, tx *sql.Tx, key string, a ChatAction, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO chat_actions (ticket_key, digest, kind, via, chat_user, chat_name, by_user, message, at, recorded_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, key, a.Digest, a.Kind, a.Via, a.ChatUser, a.ChatName, a.By, a.Message, ts(a.At), ts(now))
	return err
}

// ChatActions returns the chat actions on a ticket, oldest first.
func (s *DB) ChatActions(ctx context.Context, key string) ([]ChatAction, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, ticket_key, digest, kind, via, chat_user, chat_name, by_user, message, at, recorded_at
		FROM chat_actions WHERE ticket_key = ? ORDER BY id`, key)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ChatAction
	for rows.Next() {
		var a ChatAction
		var at, rec string
		if err := rows.Scan(&a.ID, &a.TicketKey, &a.Digest, &a.Kind, &a.Via, &a.ChatUser, &a.ChatName, &a.By, &a.Message, &at, &rec); err != nil {
			return nil, err
		}
		a.At, a.Recorded = parseTS(at), parseTS(rec)
		out = append(out, a)
	}
	return out, rows.Err()
}
