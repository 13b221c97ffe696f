package jira

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	gojira "github.com/andygrunwald/go-jira"

	"github.com/patrolsec/patrol/poller"
)

// maxPages stops a search whose paging never ends (a server bug) from
// running the job forever.
const maxPages = 10000

// Poll returns the project's tickets with the configured label updated at
// or after since, oldest update first. The JQL holds only config values
// (project, label) and the date; since is written in the Jira account's
// time zone, rounded down to the minute (see jqlTime), so the result may
// start a little before since. The caller dedupes on (ID, Updated).
func (t *Tracker) Poll(ctx context.Context, since time.Time) ([]poller.Ticket, error) {
	zone, err := t.accountZone(ctx)
	if err != nil {
		return nil, err
	}
	jql := fmt.Sprintf("project = %s AND labels = %s AND updated >= %s ORDER BY updated ASC, key ASC",
		jqlString(t.cfg.Project), jqlString(t.label), jqlString(jqlTime(since, zone)))
	tickets, err := t.search(ctx, "poll", jql, t.reconcileIDs(""))
	if err != nil {
		return nil, err
	}
	// Reconciled issues may be merged in out of order; the contract is
	// oldest update first.
	sort.SliceStable(tickets, func(i, j int) bool { return tickets[i].Updated.Before(tickets[j].Updated) })
	return tickets, nil
}

// jqlLayout is one of JQL's documented date-time formats; JQL dates have
// minute precision and are read in the searching account's zone.
const jqlLayout = "2006/01/02 15:04"

// jqlTime writes since as a JQL date literal in zone, never later than
// since: rounded down to the minute, and stepped back an hour when the
// wall-clock minute is ambiguous (the repeated hour when DST ends), since
// Jira might read it as the later of the two instants.
func jqlTime(since time.Time, zone *time.Location) string {
	at := since
	for range 3 {
		w := at.In(zone)
		lit := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), 0, 0, zone).Format(jqlLayout)
		if latestReading(lit, zone, at).After(since) {
			at = at.Add(-time.Hour)
			continue
		}
		return lit
	}
	return since.In(zone).Add(-2 * time.Hour).Format(jqlLayout)
}

// latestReading is the latest instant whose wall-clock time in zone is lit,
// looking at the zone's offsets around near.
func latestReading(lit string, zone *time.Location, near time.Time) time.Time {
	wall, _ := time.Parse(jqlLayout, lit) // as if UTC
	var latest time.Time
	for _, probe := range []time.Time{near.Add(-26 * time.Hour), near, near.Add(26 * time.Hour)} {
		_, off := probe.In(zone).Zone()
		at := wall.Add(-time.Duration(off) * time.Second)
		if at.In(zone).Format(jqlLayout) == lit && at.After(latest) {
			latest = at
		}
	}
	return latest
}

// search runs jql to the last page with the flavor's search API.
func (t *Tracker) search(ctx context.Context, op, jql string, reconcile []int) ([]poller.Ticket, error) {
	if t.cloud() {
		return t.searchCloud(ctx, op, jql, reconcile)
	}
	return t.searchDataCenter(ctx, op, jql)
}

// searchCloud pages /rest/api/2/search/jql by nextPageToken until isLast.
// The legacy /search answers 410 on Cloud. Fields are asked for explicitly:
// by default this endpoint returns ids only.
func (t *Tracker) searchCloud(ctx context.Context, op, jql string, reconcile []int) ([]poller.Ticket, error) {
	opts := &gojira.SearchOptionsV2{MaxResults: t.cfg.PageSize, Fields: t.fields, ReconcileIssues: reconcile}
	var out []poller.Ticket
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page >= maxPages {
			return nil, fmt.Errorf("jira: %s: more than %d pages", op, maxPages)
		}
		issues, resp, err := t.client.Issue.SearchV2JQLWithContext(ctx, jql, opts)
		if err != nil {
			return nil, goJiraError(op, resp, err, t.now())
		}
		for _, is := range issues {
			if seen[is.ID+"/"+is.Key] {
				continue
			}
			tk, err := t.ticket(is)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", op, err)
			}
			seen[is.ID+"/"+is.Key] = true
			out = append(out, tk)
		}
		if resp.IsLast {
			return out, nil
		}
		if resp.NextPageToken == "" {
			// Neither last nor a way on: stopping here would be a silent
			// short result.
			return nil, fmt.Errorf("jira: %s: page %d is not the last but has no nextPageToken", op, page+1)
		}
		opts.NextPageToken = resp.NextPageToken
	}
}

// dcOverlap is how many issues of the previous page each Data Center page
// asks for again. startAt paging is by position, and with ORDER BY updated
// an issue updated while we page moves to the end, shifting the rest one
// place back: the overlap lets us see that and not skip an issue.
const dcOverlap = 5

// searchDataCenter pages /rest/api/2/search by startAt until total.
func (t *Tracker) searchDataCenter(ctx context.Context, op, jql string) ([]poller.Ticket, error) {
	var (
		out      []poller.Ticket
		seen     = map[string]bool{}
		next     int    // position of the first issue not yet taken
		anchor   string // id of the last issue taken
		lastLen  int    // issues on the previous page
		restarts int
	)
	for page := 0; ; page++ {
		if page >= maxPages {
			return nil, fmt.Errorf("jira: %s: more than %d pages", op, maxPages)
		}
		overlap := min(dcOverlap, max(lastLen-1, 0), next)
		start := next - overlap
		issues, resp, err := t.client.Issue.SearchWithContext(ctx, jql,
			&gojira.SearchOptions{StartAt: start, MaxResults: t.cfg.PageSize, Fields: t.fields})
		if err != nil {
			return nil, goJiraError(op, resp, err, t.now())
		}
		skip := 0
		if overlap > 0 {
			i := indexOfIssue(issues[:min(len(issues), overlap)], anchor)
			if i < 0 {
				// More issues moved than the overlap covers: start over.
				if restarts++; restarts > 3 {
					return nil, &Error{Op: op, Err: errors.New("results kept moving while paging; try again")}
				}
				out, seen, next, anchor, lastLen = nil, map[string]bool{}, 0, "", 0
				continue
			}
			skip = i + 1
		}
		for _, is := range issues[skip:] {
			if seen[is.ID] {
				continue
			}
			tk, err := t.ticket(is)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", op, err)
			}
			seen[is.ID] = true
			out = append(out, tk)
		}
		next = start + len(issues)
		if len(issues) > 0 {
			anchor = issues[len(issues)-1].ID
		}
		lastLen = len(issues)
		if next >= resp.Total {
			return out, nil
		}
		if len(issues) == 0 {
			return nil, fmt.Errorf("jira: %s: empty page at %d of %d results", op, start, resp.Total)
		}
	}
}

func indexOfIssue(issues []gojira.Issue, id string) int {
	for i, is := range issues {
		if is.ID == id {
			return i
		}
	}
	return -1
}
