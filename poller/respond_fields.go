package poller

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/state"
)

// The event fields of a ticket, and the enrichment built from them.

func fieldsJSON(f Result) (string, error) {
	if f == nil {
		return "", nil
	}
	b, err := json.Marshal(f) // maps marshal with sorted keys: comparable
	return string(b), err
}

// reportEdits comments, once per edit, when the event fields of a ticket
// patrol did not make differ from the ones it first read: patrol keeps to
// those, so an edit after a plan was shown cannot change its target.
func (r *Responder) reportEdits(ctx context.Context, t Ticket, row *state.TicketRow) error {
	if t.Fields == nil || row.Fields == "" {
		return nil
	}
	now, err := fieldsJSON(t.Fields)
	if err != nil || now == row.Fields || now == row.FieldsReported {
		return err
	}
	if a, err := r.Store.AlertByTicket(ctx, t.Key); err != nil || a != nil {
		return err // patrol's own ticket: its fields come from the alert
	}
	var first Result
	if err := json.Unmarshal([]byte(row.Fields), &first); err != nil {
		return fmt.Errorf("stored fields: %w", err)
	}
	var changed []Field
	names := map[string]bool{}
	for k := range first {
		names[k] = true
	}
	for k := range t.Fields {
		names[k] = true
	}
	keys := make([]string, 0, len(names))
	for k := range names {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		was, _ := first.Lookup(k)
		is, _ := t.Fields.Lookup(k)
		if was != is {
			changed = append(changed, Field{Name: k, Value: fmt.Sprintf("%q, first read as %q", is, was)})
		}
	}
	m := Message{Sections: []Section{{Heading: "Fields edited",
		Text:   "The event fields of this ticket changed after patrol first read them. patrol keeps acting on the values it first read (and the plan shown for them); a change of target needs a new ticket.",
		Fields: changed}}}
	r.logger().Warn("fields of a ticket edited after patrol read them: not followed", "ticket", t.Key)
	return r.record(ctx, t.Key, change{Change: state.Change{Update: state.TicketUpdate{FieldsReported: &now}},
		deliveries: []Delivery{CommentDelivery(m)}})
}

// fields returns the event fields a ticket was made from, and whether the
// ticket is external (not made by patrol): patrol's own alert's result, or
// the fields the tracker reported when patrol first saw the ticket.
func (r *Responder) fields(ctx context.Context, t Ticket, row *state.TicketRow) (Result, bool, error) {
	a, err := r.Store.AlertByTicket(ctx, t.Key)
	if err != nil {
		return nil, false, err
	}
	if a != nil {
		var res Result
		if err := json.Unmarshal([]byte(a.Result), &res); err != nil {
			return nil, false, fmt.Errorf("stored result: %w", err)
		}
		return res, false, nil
	}
	res := Result{}
	if row.Fields != "" {
		if err := json.Unmarshal([]byte(row.Fields), &res); err != nil {
			return nil, true, fmt.Errorf("stored fields: %w", err)
		}
	}
	return res, true, nil
}

func (r *Responder) enrich(ctx context.Context, t Ticket, row *state.TicketRow, d *detections.Detection, fields Result) error {
	in := NewEnrichInput(t, d, fields)
	in.Detection = row.Detection
	sec := Section{Heading: "Enrichment"}
	var notes []string
	var route Route
	for _, e := range r.Enrichers {
		ectx, cancel := context.WithTimeout(ctx, r.enrichTimeout())
		res, err := e.Enrich(ectx, in)
		cancel()
		if err != nil {
			notes = append(notes, fmt.Sprintf("%s: not available (%v)", e.Name(), err))
			continue
		}
		sec.Fields = append(sec.Fields, res.Facts...)
		if res.Note != "" {
			notes = append(notes, e.Name()+": "+res.Note)
		}
		route = mergeRoute(route, res.Route)
	}
	sec.Text = strings.Join(notes, "\n")
	m := Message{Sections: []Section{sec}}
	ds := []Delivery{CommentDelivery(m)}
	if route.Assignee != "" || route.Component != "" {
		ds = append(ds, RouteDelivery(route))
	}
	ds = append(ds, r.note(t, row, d, "enriched", m))
	now := r.now()
	u := state.TicketUpdate{EnrichedAt: &now, Stage: ptr(state.StageEnriched)}
	if route.SlackChannel != "" && row.Channel == "" {
		u.Channel = &route.SlackChannel
	}
	if err := r.record(ctx, t.Key, change{Change: state.Change{Update: u}, deliveries: ds}); err != nil {
		return err
	}
	row.EnrichedAt, row.Stage = now, state.StageEnriched
	return nil
}

func mergeRoute(a, b Route) Route {
	if a.Team == "" {
		a.Team = b.Team
	}
	if a.Assignee == "" {
		a.Assignee = b.Assignee
	}
	if a.Component == "" {
		a.Component = b.Component
	}
	if a.SlackChannel == "" {
		a.SlackChannel = b.SlackChannel
	}
	return a
}
