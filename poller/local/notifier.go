package local

import (
	"context"
	"log/slog"
	"strings"

	"github.com/patrolsec/patrol/poller"
)

// LogNotifier logs notifications (notify.backend = "log"): one Info line
// per notification (channel, ticket, status, the first line of the text),
// the whole text at Debug. As log lines they follow the log's level and
// format: one JSON object each under journald, never a stray block of
// text, and on a terminal `once` shows them at PATROL_LOG_LEVEL=info.
type LogNotifier struct {
	Log *slog.Logger
}

var _ poller.Notifier = (*LogNotifier)(nil)

// Notify logs the notification and returns a thread reference.
func (n *LogNotifier) Notify(ctx context.Context, note poller.Notification) (string, error) {
	channel := note.Channel
	if channel == "" {
		channel = "(default)"
	}
	msg := note.Message
	if note.Digest != nil {
		msg = note.Digest.Message()
	}
	text := strings.TrimRight(msg.PlainText(), "\n")
	first := ""
	for _, line := range strings.Split(text, "\n") { // the first line that says something, not a heading
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "== ") {
			first = line
			break
		}
	}
	attrs := []any{"channel", channel, "ticket", note.Ticket.Key, "status", note.Status}
	switch {
	case note.Digest != nil:
		d := note.Digest
		n.Log.InfoContext(ctx, "digest", "channel", channel, "until", d.Until, "open_alerts", d.OpenTotal, "waiting_for_approval", d.WaitingTotal,
			"actions", d.ActionsTotal, "detections_failing", len(d.Detections))
		n.Log.DebugContext(ctx, "digest text", "channel", channel, "text", text)
		return "", nil
	case note.Replace != "":
		attrs = append(attrs, "replaces", note.Replace)
	case note.Thread == "":
		attrs = append(attrs, "severity", note.Severity)
	}
	n.Log.InfoContext(ctx, "notification", append(attrs, "text", poller.CleanText(first))...)
	n.Log.DebugContext(ctx, "notification text", "ticket", note.Ticket.Key, "text", text)
	if note.Thread != "" || note.Replace != "" {
		return "", nil
	}
	return "log:" + note.Ticket.Key, nil
}
