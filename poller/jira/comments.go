package jira

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/patrolsec/patrol/poller"
)

var _ poller.CommentFinder = (*Tracker)(nil)

// maxCommentsRead bounds how many of an issue's comments FindComment reads
// (newest first): the comment it looks for is one patrol tried to post
// moments before.
const maxCommentsRead = 1000

// commentPage is one page of GET /issue/{key}/comment.
type commentPage struct {
	StartAt  int `json:"startAt"`
	Total    int `json:"total"`
	Comments []struct {
		Author struct {
			AccountID string `json:"accountId"`
			Name      string `json:"name"`
		} `json:"author"`
		Body    json.RawMessage `json:"body"`
		Created string          `json:"created"`
	} `json:"comments"`
}

// FindComment implements poller.CommentFinder: it reads the issue's
// comments, newest first, for one patrol's own account posted that ends
// with m's reference line, and returns when Jira stamped it. Comments by
// anyone else never count, so nobody can stop a comment by quoting a
// reference.
func (t *Tracker) FindComment(ctx context.Context, key string, m poller.Message) (time.Time, bool, error) {
	ref := m.RefLine()
	if ref == "" {
		return time.Time{}, false, nil
	}
	path, err := issuePath(key, "/comment")
	if err != nil {
		return time.Time{}, false, err
	}
	if t.cloud() {
		path = "rest/api/3" + strings.TrimPrefix(path, "rest/api/2")
	}
	me, err := t.self(ctx)
	if err != nil {
		return time.Time{}, false, err
	}
	for start := 0; start < maxCommentsRead; {
		var page commentPage
		q := fmt.Sprintf("%s?orderBy=-created&startAt=%d&maxResults=100", path, start)
		if err := t.call(ctx, "read comments of "+key, http.MethodGet, q, nil, &page); err != nil {
			return time.Time{}, false, err
		}
		for _, c := range page.Comments {
			by := c.Author.AccountID
			if !t.cloud() {
				by = c.Author.Name
			}
			if by != me || !carries(c.Body, ref) {
				continue
			}
			at, err := time.Parse(timeLayout, c.Created)
			if err != nil {
				return time.Time{}, false, fmt.Errorf("comment on %s: created %q: %w", key, c.Created, err)
			}
			return at, true, nil
		}
		start += len(page.Comments)
		if len(page.Comments) == 0 || start >= page.Total {
			break
		}
	}
	return time.Time{}, false, nil
}

// carries reports whether a comment body (wiki text on REST v2, an ADF
// document on v3) has a line or text node that is ref.
func carries(body json.RawMessage, ref string) bool {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return false
	}
	found := false
	var walk func(v any)
	walk = func(v any) {
		switch n := v.(type) {
		case string:
			for _, line := range strings.Split(n, "\n") {
				found = found || strings.TrimSpace(line) == ref
			}
		case map[string]any:
			if s, ok := n["text"].(string); ok && strings.TrimSpace(s) == ref {
				found = true
			}
			walk(n["content"])
		case []any:
			for _, c := range n {
				walk(c)
			}
		}
	}
	walk(v)
	return found
}
