package poller

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/state"
)

// ExceptionSpan is how long the [[exception]] patrol suggests for a false
// positive lasts.
const ExceptionSpan = 90 * 24 * time.Hour

// verdict records how a person resolved one of patrol's tickets, once per
// resolution. A resolution in tickets.false_positive_resolutions counts as
// a false positive, and the ticket gets a ready [[exception]] built from
// the alert's group_by values (owner: who resolved it; expiring in 90
// days), for the detection's owner to review and add to its file.
func (r *Responder) verdict(ctx context.Context, t Ticket, row *state.TicketRow) error {
	if !t.Done || row.Detection == "" || row.Detection == SelfDetection {
		return nil
	}
	prev, err := r.Store.TicketVerdict(ctx, t.Key)
	if err != nil || (prev != nil && prev.Resolution == t.Resolution) {
		return err
	}
	v := state.Verdict{TicketKey: t.Key, Detection: row.Detection, Resolution: t.Resolution, At: t.Updated,
		FalsePositive: r.falsePositive(t.Resolution)}
	if res, ok := r.Tracker.(Resolver); ok && v.FalsePositive {
		by, at, err := res.ResolvedBy(ctx, t.Key)
		if err != nil {
			return fmt.Errorf("read who resolved %s: %w", t.Key, err)
		}
		v.By = by
		if !at.IsZero() {
			v.At = at
		}
	}
	if v.At.IsZero() {
		v.At = r.now()
	}
	c := change{Change: state.Change{Verdict: &v}}
	if v.FalsePositive && (prev == nil || !prev.FalsePositive) {
		m, err := r.exceptionSnippet(ctx, t, row, v)
		if err != nil {
			return err
		}
		c.deliveries = append(c.deliveries, CommentDelivery(m))
		r.logger().Info("ticket resolved as a false positive", "ticket", t.Key, "detection", row.Detection, "by", v.By)
	}
	return r.record(ctx, t.Key, c)
}

func (r *Responder) falsePositive(resolution string) bool {
	for _, fp := range r.FalsePositives {
		if resolution != "" && strings.EqualFold(strings.TrimSpace(resolution), strings.TrimSpace(fp)) {
			return true
		}
	}
	return false
}

// exceptionSnippet is the comment with a ready [[exception]] for a false
// positive: its match holds the alert's group_by values, each written as
// a glob that matches only that value.
func (r *Responder) exceptionSnippet(ctx context.Context, t Ticket, row *state.TicketRow, v state.Verdict) (Message, error) {
	fields, _, err := r.fields(ctx, t, row)
	if err != nil {
		return Message{}, err
	}
	d := r.detection(row)
	var groupBy []string
	file := "the detection's file"
	if d != nil {
		groupBy = d.GroupBy
		file = d.File
	}
	match := map[string][]string{}
	for _, f := range groupBy {
		var vals []string
		for _, val := range fields[f] {
			if val != "" {
				vals = append(vals, detections.EscapeGlob(val))
			}
		}
		if len(vals) > 0 {
			sort.Strings(vals)
			match[f] = vals
		}
	}
	sec := Section{Heading: "False positive"}
	if len(match) == 0 {
		sec.Text = fmt.Sprintf("This ticket was resolved as %q (a false positive). patrol cannot suggest an exception: the alert has none of its detection's group_by values. Tune the detection by hand.", v.Resolution)
		return Message{Sections: []Section{sec}}, nil
	}
	owner := v.By
	if owner == "" {
		owner = "CHANGE-ME"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[[exception]]\n")
	fmt.Fprintf(&b, "match   = { %s }\n", detections.InlineMatch(match))
	fmt.Fprintf(&b, "reason  = %s\n", detections.TOMLString(fmt.Sprintf("false positive: %s resolved as %s", t.Key, v.Resolution)))
	fmt.Fprintf(&b, "owner   = %s\n", detections.TOMLString(owner))
	fmt.Fprintf(&b, "expires = %s\n", r.now().Add(ExceptionSpan).Format("2006-01-02"))
	fmt.Fprintf(&b, "ticket  = %s\n", detections.TOMLString(t.Key))
	sec.Text = fmt.Sprintf("This ticket was resolved as %q by %s: patrol counts it as a false positive of %s. To stop patrol alerting on these values, review this exception (narrow it if you can) and add it to %s:",
		v.Resolution, owner, row.Detection, file)
	sec.Pre = b.String()
	return Message{Sections: []Section{sec}}, nil
}
