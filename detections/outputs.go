package detections

import (
	"sort"

	"github.com/patrolsec/patrol/detections/spl"
)

// checkOutputFields reports group_by fields and template placeholders that
// the search can never return. When a search ends in table, fields or
// stats (then perhaps rename, eval, lookup ... OUTPUT), its results hold
// only the fields those name: any other field is empty in every result, so
// a group_by on it folds every result into one alert and a placeholder on
// it renders nothing. Searches the local engine cannot parse (Splunk-only
// commands) and searches whose fields are open are not checked.
func checkOutputFields(r *Reporter, d *Detection) {
	q, err := spl.Parse(d.Expanded)
	if err != nil {
		return
	}
	out := q.Outputs()
	if !out.Known {
		return
	}
	missing := func(key string, fields []string) {
		for _, f := range fields {
			if !out.Has(f) {
				r.Add(key, "field %q is never in the search's results: after its | %s they hold only %s", f, out.By, out)
			}
		}
	}
	missing("group_by", d.GroupBy)
	missing("ticket.summary", d.Ticket.Summary.Fields())
	missing("ticket.description", d.Ticket.Description.Fields())
	if d.Remediation != nil {
		names := make([]string, 0, len(d.Remediation.Params))
		for name := range d.Remediation.Params {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			missing("remediation.params."+name, d.Remediation.Params[name].Fields())
		}
	}
}
