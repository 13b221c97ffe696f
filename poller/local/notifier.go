package local

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/patrolsec/patrol/poller"
)

// LogNotifier prints notifications (notify.backend = "log"): the first
// message about a ticket in full, later ones as indented updates.
type LogNotifier struct {
	W  io.Writer
	mu sync.Mutex
}

var _ poller.Notifier = (*LogNotifier)(nil)

// Notify writes the notification and returns a thread reference.
func (n *LogNotifier) Notify(ctx context.Context, note poller.Notification) (string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var b strings.Builder
	channel := note.Channel
	if channel == "" {
		channel = "(default)"
	}
	msg := note.Message
	switch {
	case note.Digest != nil:
		msg = note.Digest.Message()
		fmt.Fprintf(&b, "notify %s digest\n", channel)
	case note.Replace != "":
		fmt.Fprintf(&b, "notify %s %s message %s replaced: %s\n", channel, note.Ticket.Key, note.Replace, note.Status)
	case note.Thread == "":
		fmt.Fprintf(&b, "notify %s [%s] %s %s\n", channel, strings.ToUpper(note.Severity), note.Ticket.Key, note.Status)
	default:
		fmt.Fprintf(&b, "notify %s %s update: %s\n", channel, note.Ticket.Key, note.Status)
	}
	for _, line := range strings.Split(strings.TrimRight(msg.PlainText(), "\n"), "\n") {
		b.WriteString("    " + line + "\n")
	}
	if _, err := io.WriteString(n.W, b.String()); err != nil {
		return "", err
	}
	if note.Thread != "" || note.Digest != nil || note.Replace != "" {
		return "", nil
	}
	return "log:" + note.Ticket.Key, nil
}
