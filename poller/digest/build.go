package digest

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/state"
)

// How many entries a digest lists of each kind (it counts them all).
const (
	maxWaiting = 25
	maxActions = 30
)

// severities in the order a digest shows them.
var severities = []string{"critical", "high", "medium", "low"}

// noTeam names the alerts of accounts no [[teams]] entry owns.
const noTeam = "(no team)"

// build makes the digest of tick: actions in (since, tick], what is open
// and waiting as of now.
func (j *Job) build(ctx context.Context, since, tick, now time.Time) (poller.Digest, error) {
	d := poller.Digest{Title: "patrol digest", Teams: j.Config.Teams, Since: since, Until: tick, At: now}
	dets := map[string]*detections.Detection{}
	sev := map[string]string{poller.SelfDetection: "high"}
	if j.Detections != nil {
		for _, x := range j.Detections() {
			dets[x.ID], sev[x.ID] = x, x.Severity
		}
	}
	j.dets = dets
	alerts, err := j.Store.OpenAlerts(ctx)
	if err != nil {
		return d, err
	}
	bySev, byTeam := map[string]int{}, map[string]int{}
	for _, a := range alerts {
		team := j.team(a.Detection, a.Result)
		if !j.covers(team) {
			continue
		}
		s := sev[a.Detection]
		if s == "" {
			s = "unknown"
		}
		bySev[s]++
		byTeam[orNoTeam(team)]++
		d.OpenTotal++
	}
	d.OpenBySev = counts(bySev, severities)
	if len(j.Config.Teams) != 1 {
		d.OpenByTeam = counts(byTeam, nil)
	}

	waiting, err := j.Store.TicketsInStage(ctx, state.StageApproval)
	if err != nil {
		return d, err
	}
	for _, row := range waiting {
		team, err := j.ticketTeam(ctx, row)
		if err != nil {
			return d, err
		}
		if !j.covers(team) {
			continue
		}
		d.WaitingTotal++
		if len(d.Waiting) < maxWaiting {
			d.Waiting = append(d.Waiting, poller.DigestTicket{Ticket: ticket(row), Detection: row.Detection, Team: team, Since: row.PlannedAt})
		}
	}

	outcomes, err := j.Store.ActionOutcomes(ctx, since, tick)
	if err != nil {
		return d, err
	}
	rows := map[string]*state.TicketRow{}
	for _, a := range outcomes {
		row, ok := rows[a.TicketKey]
		if !ok {
			if row, err = j.Store.Ticket(ctx, a.TicketKey); err != nil {
				return d, err
			}
			rows[a.TicketKey] = row
		}
		t := poller.Ticket{Key: a.TicketKey}
		team := ""
		if row != nil {
			t = ticket(*row)
			if team, err = j.ticketTeam(ctx, *row); err != nil {
				return d, err
			}
		}
		if !j.covers(team) {
			continue
		}
		d.ActionsTotal++
		if len(d.Actions) < maxActions {
			d.Actions = append(d.Actions, poller.DigestAction{Ticket: t, Action: a.Action, Target: a.Target, Outcome: a.Phase, DryRun: a.DryRun, At: a.At})
		}
	}

	if d.Detections, err = j.failing(ctx, now); err != nil {
		return d, err
	}
	if j.Expiring != nil {
		d.Expiring = j.Expiring(now)
	}
	return d, nil
}

// failing lists the detections (and the respond job) whose last runs
// failed, or whose checkpoint lags more than MaxLag.
func (j *Job) failing(ctx context.Context, now time.Time) ([]poller.DigestDetection, error) {
	runs, err := j.Store.LastRuns(ctx)
	if err != nil {
		return nil, err
	}
	cps, err := j.Store.Checkpoints(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[string]state.RunSummary{}
	for _, r := range runs {
		if r.Job == "respond" {
			byID["(respond job)"] = r
			continue
		}
		byID[r.Detection] = r
	}
	var ids []string
	if j.Detections != nil {
		for _, x := range j.Detections() {
			ids = append(ids, x.ID)
		}
	}
	sort.Strings(ids)
	ids = append(ids, "(respond job)")
	var out []poller.DigestDetection
	for _, id := range ids {
		var problems []string
		if r, ok := byID[id]; ok && r.FailuresInRow > 0 {
			p := "failing: the last run failed"
			if r.FailuresInRow > 1 {
				p = fmt.Sprintf("failing: %d runs in a row", r.FailuresInRow)
			}
			if r.LastError != "" {
				p += ", last error: " + firstLine(r.LastError)
			}
			problems = append(problems, p)
		}
		if cp, ok := cps[id]; ok && j.MaxLag > 0 && now.Sub(cp) > j.MaxLag {
			problems = append(problems, fmt.Sprintf("stale: searched up to %s (%s behind)", cp.UTC().Format("2006-01-02 15:04 UTC"), poller.Age(now.Sub(cp))))
		}
		if len(problems) > 0 {
			out = append(out, poller.DigestDetection{ID: id, Problem: strings.Join(problems, "; ")})
		}
	}
	return out, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// team returns the team owning the account of a stored result of
// detection det.
func (j *Job) team(det, result string) string {
	var r poller.Result
	if json.Unmarshal([]byte(result), &r) != nil {
		return ""
	}
	return j.Router.Route(j.dets[det], r).Team
}

// ticketTeam is the team of a ticket: by its alert's result, or by the
// fields of a ticket patrol did not make.
func (j *Job) ticketTeam(ctx context.Context, row state.TicketRow) (string, error) {
	a, err := j.Store.AlertByTicket(ctx, row.Key)
	if err != nil {
		return "", err
	}
	if a != nil {
		return j.team(a.Detection, a.Result), nil
	}
	return j.team(row.Detection, row.Fields), nil
}

// covers reports whether the digest is about team.
func (j *Job) covers(team string) bool {
	if len(j.Config.Teams) == 0 {
		return true
	}
	for _, t := range j.Config.Teams {
		if t == team {
			return true
		}
	}
	return false
}

func ticket(row state.TicketRow) poller.Ticket {
	return poller.Ticket{ID: row.ID, Key: row.Key, URL: row.URL, Summary: row.Summary, Status: row.Status}
}

func orNoTeam(t string) string {
	if t == "" {
		return noTeam
	}
	return t
}

// counts orders m by first (those present), then the rest by name.
func counts(m map[string]int, first []string) []poller.DigestCount {
	var out []poller.DigestCount
	seen := map[string]bool{}
	for _, k := range first {
		if n := m[k]; n > 0 {
			out = append(out, poller.DigestCount{Name: k, Count: n})
		}
		seen[k] = true
	}
	var rest []string
	for k := range m {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		out = append(out, poller.DigestCount{Name: k, Count: m[k]})
	}
	return out
}
