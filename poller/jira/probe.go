package jira

import (
	"context"
	"net/http"
)

// noRetryKey marks a context whose requests are sent once.
type noRetryKey struct{}

// Probe asks Jira who patrol is there (GET /myself) once, without
// retries: a quick answer to "can patrol reach and log in to Jira?" before
// any job runs. It returns the account's name.
func (t *Tracker) Probe(ctx context.Context) (string, error) {
	var me struct {
		AccountID   string `json:"accountId"`
		Name        string `json:"name"`
		DisplayName string `json:"displayName"`
	}
	ctx = context.WithValue(ctx, noRetryKey{}, true)
	if err := t.call(ctx, "read own account", http.MethodGet, "rest/api/2/myself", nil, &me); err != nil {
		return "", err
	}
	id := me.AccountID
	if !t.cloud() {
		id = me.Name
	}
	return me.DisplayName + " (" + id + ")", nil
}

// URL is the Jira site the Tracker talks to.
func (t *Tracker) URL() string { return t.base }
