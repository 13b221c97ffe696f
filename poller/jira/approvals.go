package jira

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/patrolsec/patrol/poller"
)

// history is one changelog entry.
type history struct {
	ID     string `json:"id"`
	Author struct {
		AccountID string `json:"accountId"` // Cloud
		Name      string `json:"name"`      // Data Center: may be renamed
		Key       string `json:"key"`       // Data Center: never changes
	} `json:"author"`
	Created string `json:"created"`
	Items   []struct {
		Field      string `json:"field"`
		FromString string `json:"fromString"`
		ToString   string `json:"toString"`
	} `json:"items"`
}

// timeLayout is how Jira writes times: 2026-11-22T08:01:02.345+0000.
const timeLayout = "2006-01-02T15:04:05.999-0700"

// Approvals lists who added label to the issue and when, from its
// changelog: on Cloud by accountId; on Data Center by user key, reported
// as the tickets.approvers entry that key was resolved from, or as
// "name (user key K)" for anyone else, so a user renamed into an
// approver's name does not pass for them. Approvals that a later removal
// of the label withdrew are left out. A label set when the issue was
// created is in no changelog, so patrol's own labels never count as
// approvals.
func (t *Tracker) Approvals(ctx context.Context, key, label string) ([]poller.Approval, error) {
	var keys map[string]string
	if !t.cloud() {
		var err error
		if keys, err = t.approverKeyMap(ctx); err != nil {
			return nil, err
		}
	}
	hs, err := t.changelog(ctx, key)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(hs, func(i, j int) bool { return hs[i].at.Before(hs[j].at) })
	var out []poller.Approval
	for _, h := range hs {
		for _, it := range h.Items {
			if it.Field != "labels" {
				continue
			}
			before := slices.Contains(strings.Fields(it.FromString), label)
			after := slices.Contains(strings.Fields(it.ToString), label)
			switch {
			case after && !before:
				by := h.Author.AccountID
				if !t.cloud() {
					by = approverOf(keys, h.Author.Name, h.Author.Key)
				} else if by == "" {
					by = h.Author.Name
				}
				out = append(out, poller.Approval{By: by, At: h.at})
			case before && !after:
				out = nil // withdrawn
			}
		}
	}
	return out, nil
}

// ResolvedBy says who last set the issue's resolution and when, from its
// changelog (Cloud accountId, Data Center user name); "" when the
// changelog has no resolution set.
func (t *Tracker) ResolvedBy(ctx context.Context, key string) (string, time.Time, error) {
	hs, err := t.changelog(ctx, key)
	if err != nil {
		return "", time.Time{}, err
	}
	sort.SliceStable(hs, func(i, j int) bool { return hs[i].at.Before(hs[j].at) })
	var by string
	var at time.Time
	for _, h := range hs {
		for _, it := range h.Items {
			if it.Field == "resolution" && it.ToString != "" {
				by, at = t.author(h.history), h.at
			}
		}
	}
	return by, at, nil
}

// author names a changelog entry's author as approvers are named.
func (t *Tracker) author(h history) string {
	if t.cloud() && h.Author.AccountID != "" {
		return h.Author.AccountID
	}
	return h.Author.Name
}

type datedHistory struct {
	history
	at time.Time
}

// changelog reads an issue's whole changelog. Cloud caps the changelog
// that expand=changelog returns, so Cloud pages the changelog endpoint;
// Data Center has no such endpoint and returns it all with expand.
func (t *Tracker) changelog(ctx context.Context, key string) ([]datedHistory, error) {
	var all []history
	if t.cloud() {
		base, err := issuePath(key, "/changelog")
		if err != nil {
			return nil, err
		}
		for start := 0; ; {
			var page struct {
				StartAt int       `json:"startAt"`
				Total   int       `json:"total"`
				IsLast  bool      `json:"isLast"`
				Values  []history `json:"values"`
			}
			path := base + "?maxResults=100&startAt=" + strconv.Itoa(start)
			if err := t.call(ctx, "read changelog of "+key, http.MethodGet, path, nil, &page); err != nil {
				return nil, err
			}
			all = append(all, page.Values...)
			start += len(page.Values)
			if page.IsLast || len(page.Values) == 0 || start >= page.Total {
				break
			}
		}
	} else {
		path, err := issuePath(key, "?expand=changelog&fields=labels")
		if err != nil {
			return nil, err
		}
		var is struct {
			Changelog struct {
				Total     int       `json:"total"`
				Histories []history `json:"histories"`
			} `json:"changelog"`
		}
		if err := t.call(ctx, "read changelog of "+key, http.MethodGet, path, nil, &is); err != nil {
			return nil, err
		}
		if n := len(is.Changelog.Histories); n < is.Changelog.Total {
			return nil, fmt.Errorf("jira: changelog of %s: got %d of %d entries", key, n, is.Changelog.Total)
		}
		all = is.Changelog.Histories
	}
	out := make([]datedHistory, 0, len(all))
	for _, h := range all {
		at, err := time.Parse(timeLayout, h.Created)
		if err != nil {
			return nil, fmt.Errorf("jira: changelog of %s: entry %s: %w", key, h.ID, err)
		}
		out = append(out, datedHistory{history: h, at: at})
	}
	return out, nil
}

// approverOf names a Data Center author: the approvers entry their key was
// resolved from, or their name and key, which match no entry.
func approverOf(keys map[string]string, name, key string) string {
	if key == "" {
		return name + " (no user key in the changelog)"
	}
	if entry, ok := keys[key]; ok {
		return entry
	}
	return fmt.Sprintf("%s (user key %s)", name, key)
}

// approverKeyMap resolves tickets.approvers to Data Center user keys, once:
// each entry is a user name (or already a key), looked up with
// /rest/api/2/user. A name is what an administrator can change and hand to
// someone else; the key is not. An entry no user answers to approves
// nothing, and the log says so.
func (t *Tracker) approverKeyMap(ctx context.Context) (map[string]string, error) {
	t.mu.Lock()
	keys := t.approverKeys
	t.mu.Unlock()
	if keys != nil {
		return keys, nil
	}
	keys = map[string]string{}
	for _, a := range t.approvers {
		k, err := t.userKey(ctx, a)
		if err != nil {
			return nil, err
		}
		if k == "" {
			t.log.Warn("tickets.approvers: no Jira user has this name or key; approvals under it will not count", "approver", a)
			continue
		}
		keys[k] = a
		t.log.Info("tickets.approvers: approvals are matched on the Data Center user key, which a rename does not change", "approver", a, "user_key", k)
	}
	t.mu.Lock()
	t.approverKeys = keys
	t.mu.Unlock()
	return keys, nil
}

// userKey returns the key of the user named name, or whose key is name;
// "" when there is none.
func (t *Tracker) userKey(ctx context.Context, name string) (string, error) {
	for _, param := range []string{"username", "key"} {
		var u struct {
			Key string `json:"key"`
		}
		err := t.call(ctx, "look up approver "+name, http.MethodGet, "rest/api/2/user?"+param+"="+url.QueryEscape(name), nil, &u)
		var je *Error
		if errors.As(err, &je) && je.Status == http.StatusNotFound {
			continue
		}
		if err != nil {
			return "", err
		}
		return u.Key, nil
	}
	return "", nil
}
