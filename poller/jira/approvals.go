package jira

import (
	"context"
	"fmt"
	"net/http"
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
		AccountID string `json:"accountId"`
		Name      string `json:"name"`
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
// changelog: Cloud accountIds, Data Center user names. Approvals that a
// later removal of the label withdrew are left out. A label set when the
// issue was created is in no changelog, so patrol's own labels never
// count as approvals.
func (t *Tracker) Approvals(ctx context.Context, key, label string) ([]poller.Approval, error) {
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
				out = append(out, poller.Approval{By: t.author(h.history), At: h.at})
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
