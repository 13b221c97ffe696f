package report

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/state"
)

// Sections about tuning and going live: the exceptions and silences and
// what they muted, what shadow detections would have done, and how people
// resolved the tickets (true and false positives).

// Exception is a detection's [[exception]] as the report shows it.
type Exception struct {
	Detection, Key string // Key is what its counts are recorded under
	Match          string // field=value|value, ...
	Reason, Owner  string
	Ticket         string
	Expires        time.Time
}

// Silence is a [[silence]] of silences.toml as the report shows it.
type Silence struct {
	ID, Detections, Match string
	Owner, Reason         string
	Starts, Expires       time.Time // a zero Starts: always
}

// tuningMigration is the state migration that records what was muted.
const tuningMigration = 1300

// tuningSection lists the exceptions and silences, in force or not, with
// what each muted in the span. It is left out when there are none.
func tuningSection(ctx context.Context, d *data) (*Section, error) {
	if ok, err := d.db.Migrated(ctx, tuningMigration); err != nil || !ok {
		return nil, err
	}
	exc, err := d.db.ExceptionCounts(ctx, d.opt.From, d.opt.To)
	if err != nil {
		return nil, err
	}
	sil, err := d.db.SilenceCounts(ctx, d.opt.From, d.opt.To)
	if err != nil {
		return nil, err
	}
	if len(d.opt.Exceptions) == 0 && len(d.opt.Silences) == 0 && len(exc) == 0 && len(sil) == 0 {
		return nil, nil
	}
	s := &Section{ID: "tuning", Title: "Exceptions and silences",
		Intro: "What the team tuned out: each detection's exceptions (results dropped before they became alerts) and the silences (alerts recorded without a ticket), whether each is in force when the report is made, and what it muted in the span."}
	s.Blocks = append(s.Blocks, Block{Table: exceptionsTable(d, exc)}, Block{Table: silencesTable(d, sil)})
	return s, nil
}

func exceptionsTable(d *data, counts []state.MuteCount) *Table {
	t := &Table{Name: "exceptions", Title: "Exceptions", Columns: []Column{
		{Key: "detection", Title: "Detection"}, {Key: "match", Title: "Match"}, {Key: "reason", Title: "Reason"},
		{Key: "owner", Title: "Owner"}, {Key: "expires", Title: "Expires", Kind: Time}, {Key: "state", Title: "State", Pill: true},
		{Key: "results", Title: "Results excepted", Kind: Count, Hint: "results the exception dropped in the span"}},
		Empty: "No exception in the detections, and none muted anything in the span."}
	muted := map[string]int{}
	for _, c := range counts {
		muted[c.Detection+"\x00"+c.Key] = c.Results
	}
	for _, e := range d.opt.Exceptions {
		k := e.Detection + "\x00" + e.Key
		state := "in force"
		if !d.opt.Now.Before(e.Expires) {
			state = "expired"
		}
		t.Rows = append(t.Rows, []any{e.Detection, e.Match, e.Reason, e.Owner, e.Expires, state, muted[k]})
		delete(muted, k)
	}
	for _, c := range counts {
		if n, left := muted[c.Detection+"\x00"+c.Key]; left {
			t.Rows = append(t.Rows, []any{c.Detection, c.Key, "", "", nil, "removed", n})
		}
	}
	return t
}

func silencesTable(d *data, counts []state.MuteCount) *Table {
	t := &Table{Name: "silences", Title: "Silences", Columns: []Column{
		{Key: "id", Title: "Silence"}, {Key: "detections", Title: "Detections"}, {Key: "match", Title: "Match"},
		{Key: "starts", Title: "Starts", Kind: Time}, {Key: "expires", Title: "Expires", Kind: Time}, {Key: "state", Title: "State", Pill: true},
		{Key: "owner", Title: "Owner"}, {Key: "reason", Title: "Reason"},
		{Key: "alerts", Title: "Alerts muted", Kind: Count}, {Key: "results", Title: "Results", Kind: Count}},
		Empty: "No silence in silences.toml, and none muted anything in the span."}
	byID := map[string]state.MuteCount{}
	for _, c := range counts {
		byID[c.Key] = c
	}
	for _, sl := range d.opt.Silences {
		c := byID[sl.ID]
		delete(byID, sl.ID)
		state := "active"
		switch {
		case !d.opt.Now.Before(sl.Expires):
			state = "expired"
		case !sl.Starts.IsZero() && d.opt.Now.Before(sl.Starts):
			state = "future"
		}
		var starts any
		if !sl.Starts.IsZero() {
			starts = sl.Starts
		}
		t.Rows = append(t.Rows, []any{sl.ID, sl.Detections, sl.Match, starts, sl.Expires, state, sl.Owner, sl.Reason, c.Alerts, c.Results})
	}
	for _, c := range counts {
		if _, left := byID[c.Key]; left {
			t.Rows = append(t.Rows, []any{c.Key, "", "", nil, nil, "removed", "", "", c.Alerts, c.Results})
		}
	}
	return t
}

// shadowSection lists what the shadow detections would have done: the
// tickets, routes and remediations of their alerts first seen in the span.
func shadowSection(ctx context.Context, d *data) (*Section, error) {
	if len(d.shadow) == 0 && len(d.opt.Shadow) == 0 {
		return nil, nil
	}
	s := &Section{ID: "shadow", Title: "Shadow detections",
		Intro: "Detections in the shadow stage run like the others but open no ticket, send no message and run no action: each alert records what patrol would have done."}
	if len(d.opt.Shadow) > 0 {
		s.Intro += " In the shadow stage when the report was made: " + strings.Join(d.opt.Shadow, ", ") + "."
	}
	t := &Table{Name: "shadow_alerts", Title: "What they would have done", Columns: []Column{
		{Key: "detection", Title: "Detection"}, {Key: "first_seen", Title: "First seen", Kind: Time}, {Key: "results", Title: "Results", Kind: Count},
		{Key: "summary", Title: "Would open"}, {Key: "team", Title: "Team"}, {Key: "remediation", Title: "Would run"}},
		Empty: "The shadow detections recorded no alert in the span."}
	sort.SliceStable(d.shadow, func(i, j int) bool { return d.shadow[i].FirstSeen.Before(d.shadow[j].FirstSeen) })
	for _, a := range d.shadow {
		var w poller.Would
		_ = json.Unmarshal([]byte(a.Would), &w) // an unreadable record shows its counts only
		run := ""
		if r := w.Remediation; r != nil {
			run = r.Action + " (" + r.Mode + ")"
			if r.Plan != nil && r.Plan.Target != "" {
				run += " on " + r.Plan.Target
			}
			if r.Error != "" {
				run += ": cannot be planned: " + r.Error
			}
		}
		t.Rows = append(t.Rows, []any{a.Detection, a.FirstSeen, a.Count, w.Summary, w.Route.Team, run})
	}
	s.Blocks = append(s.Blocks, Block{Table: t})
	return s, nil
}

// verdictSection counts, per detection, the tickets people resolved in the
// span as true and false positives (tickets.false_positive_resolutions).
func verdictSection(ctx context.Context, d *data) (*Section, error) {
	if ok, err := d.db.Migrated(ctx, tuningMigration); err != nil || !ok {
		return nil, err
	}
	counts, err := d.db.VerdictCounts(ctx, d.opt.From, d.opt.To)
	if err != nil || len(counts) == 0 {
		return nil, err
	}
	ids := make([]string, 0, len(counts))
	for id := range counts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	t := &Table{Name: "verdicts", Title: "How tickets were resolved", Columns: []Column{
		{Key: "detection", Title: "Detection"}, {Key: "true_positives", Title: "True positives", Kind: Count},
		{Key: "false_positives", Title: "False positives", Kind: Count}, {Key: "false_positive_share", Title: "False positive share"}}}
	total := [2]int{}
	for _, id := range ids {
		c := counts[id]
		total[0], total[1] = total[0]+c[0], total[1]+c[1]
		t.Rows = append(t.Rows, []any{id, c[0], c[1], share(c[1], c[0]+c[1])})
	}
	t.Rows = append(t.Rows, []any{"all detections", total[0], total[1], share(total[1], total[0]+total[1])})
	t.Footer = true
	return &Section{ID: "verdicts", Title: "True and false positives",
		Intro:  "Tickets people resolved in the span: a resolution listed in tickets.false_positive_resolutions counts as a false positive (patrol then comments a ready exception on the ticket), any other as a true positive.",
		Blocks: []Block{{Table: t}}}, nil
}

func share(n, of int) string {
	if of == 0 {
		return ""
	}
	return fmt.Sprintf("%d%%", n*100/of)
}
