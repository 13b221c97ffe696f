package slack

import (
	"context"
	"strings"
)

// Probe checks the token with auth.test, once: a quick answer to "can
// patrol reach Slack and post as its bot?" before any job runs. It returns
// the bot user and workspace.
func (n *Notifier) Probe(ctx context.Context) (string, error) {
	r, err := n.api.AuthTestContext(ctx)
	if err != nil {
		return "", newError("auth.test", err)
	}
	return r.User + " in " + r.Team, nil
}

// URL is the Web API base the Notifier talks to.
func (n *Notifier) URL() string {
	if n.cfg.APIURL != "" {
		return n.cfg.APIURL
	}
	return "https://slack.com/api/"
}

// URL is the Web API method the Listener opens Socket Mode with.
func (l *Listener) URL() string { return l.base + "apps.connections.open" }

func (c Config) baseURL() string {
	if c.APIURL != "" {
		return strings.TrimSuffix(c.APIURL, "/") + "/"
	}
	return "https://slack.com/api/"
}
