package poller

import (
	"context"
	"encoding/json"

	"github.com/patrolsec/patrol/detections"
)

// Would is what patrol would do about an alert: the ticket it would open,
// where it would route it, and the remediation it would run. Shadow
// detections store it instead of acting; backtests print it.
type Would struct {
	Summary     string          `json:"summary"`
	Severity    string          `json:"severity"`
	Priority    string          `json:"priority,omitempty"`
	Route       Route           `json:"route"`
	Remediation *WouldRemediate `json:"remediation,omitempty"`
}

// WouldRemediate is a remediation patrol would run.
type WouldRemediate struct {
	Action string `json:"action"`
	Mode   string `json:"mode"`
	// Grace is the grace period of an automatic one ("" for none).
	Grace  string `json:"grace,omitempty"`
	DryRun bool   `json:"dry_run"`
	Plan   *Plan  `json:"plan,omitempty"`
	// PlanText is the plan as the ticket would show it.
	PlanText string `json:"plan_text,omitempty"`
	// Error says why no plan could be made.
	Error string `json:"error,omitempty"`
}

// WouldDo works out what patrol would do about result r of detection d,
// without doing any of it: plans are pure (no AWS call).
func WouldDo(ctx context.Context, d *detections.Detection, r Result, router Router, actions map[string]Action, dryRun bool) Would {
	w := Would{Summary: d.Ticket.Summary.Render(r.Lookup), Severity: d.Severity, Priority: d.Ticket.Priority, Route: router.Route(d, r)}
	rem := d.Remediation
	if rem == nil || rem.Mode == detections.ModeOff {
		return w
	}
	wr := &WouldRemediate{Action: rem.Action, Mode: rem.Mode, DryRun: dryRun}
	if rem.Grace > 0 {
		wr.Grace = rem.Grace.String()
	}
	w.Remediation = wr
	act, ok := actions[rem.Action]
	if !ok {
		wr.Error = "action " + rem.Action + " is not available in this patrol"
		return w
	}
	params := map[string]string{}
	for name, tmpl := range rem.Params {
		params[name] = tmpl.Render(r.Lookup)
	}
	plan, err := act.Plan(ctx, ActionRequest{Action: rem.Action, Params: params})
	if err != nil {
		wr.Error = err.Error()
		return w
	}
	plan.Action = rem.Action
	wr.Plan, wr.PlanText = &plan, planText(plan)
	return w
}

// JSON renders w for the ledger.
func (w Would) JSON() string {
	b, _ := json.Marshal(w)
	return string(b)
}
