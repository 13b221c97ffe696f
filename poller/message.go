package poller

import (
	"fmt"
	"strings"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/state"
)

// Team owns accounts: tickets about them are routed to its component,
// assignee and Slack channel.
type Team struct {
	Name          string   `toml:"name"`
	Accounts      []string `toml:"accounts"`
	SlackChannel  string   `toml:"slack_channel"`
	JiraComponent string   `toml:"jira_component"`
	Assignee      string   `toml:"assignee"`
}

// Route is where the team's tickets and messages go.
func (t Team) Route() Route {
	return Route{Team: t.Name, Assignee: t.Assignee, Component: t.JiraComponent, SlackChannel: t.SlackChannel}
}

// Router routes results to teams by AWS account.
type Router struct {
	Teams []Team
}

// AccountFields are the result fields that name the affected account, in
// order of preference: the account a CloudTrail event happened in, the
// account of the principal that made it (a key's or a session's owner), the
// accounts a search's stats collected, VPC Flow Logs' and Route 53 resolver
// logs' account, then the names Splunk add-ons and detections use. It is the
// one list routing and enrichment read; a detection that names its account
// elsewhere sets account_field.
var AccountFields = []string{"recipientAccountId", "userIdentity.accountId", "targetAccounts", "account-id", "account_id",
	"aws_account_id", "vendor_account", "account"}

// SourceFields are the result fields that carry the caller's address.
var SourceFields = []string{"sourceIPAddress", "src_ip", "src", "srcaddr", "client_ip"}

// Account returns the result's affected AWS account, or "".
func Account(r Result) string { return r.First(AccountFields...) }

// AccountOf returns the affected account of a result of detection d: the
// detection's account_field when it names one, else the first of
// AccountFields the result carries. d may be nil (a ticket from another
// system, or a detection no longer loaded).
func AccountOf(d *detections.Detection, r Result) string {
	if d != nil && d.AccountField != "" {
		return r.First(d.AccountField)
	}
	return Account(r)
}

// Route returns the route of the team owning the account of a result of d.
func (rt Router) Route(d *detections.Detection, r Result) Route {
	acct := AccountOf(d, r)
	if acct == "" {
		return Route{}
	}
	for _, t := range rt.Teams {
		for _, a := range t.Accounts {
			if a == acct {
				return t.Route()
			}
		}
	}
	return Route{}
}

const (
	maxFieldsShown = 80
	maxRawShown    = 8000
)

// TicketDescription is the body of a new alert's ticket: what happened, what
// to check, the event's fields and its raw text, and the planned response.
func TicketDescription(d *detections.Detection, r Result, a *state.Alert) Message {
	m := Message{Title: d.Title}
	facts := []Field{
		{Name: "Detection", Value: d.ID},
		{Name: "Severity", Value: d.Severity},
		{Name: "First seen", Value: a.FirstSeen.UTC().Format(time.RFC3339)},
		{Name: "Results in first window", Value: fmt.Sprint(a.Count)},
		{Name: "Fingerprint", Value: a.Fingerprint},
	}
	m.Sections = append(m.Sections, Section{Fields: facts})
	if steps := r[detections.SequenceStepsField]; d.Sequence != nil && len(steps) > 0 {
		m.Sections = append(m.Sections, Section{Heading: "Steps", Text: strings.Join(steps, "\n")})
	}
	check := strings.TrimSpace(d.Ticket.Description.Render(r.Lookup))
	if check == "" {
		check = strings.TrimSpace(d.Description)
	}
	if check != "" {
		m.Sections = append(m.Sections, Section{Heading: "What to check", Text: check})
	}
	var fields []Field
	for _, name := range r.Fields() {
		if name == "_raw" || strings.HasPrefix(name, "_bkt") || name == "_cd" || name == "_si" || name == "_serial" {
			continue
		}
		if len(fields) == maxFieldsShown {
			fields = append(fields, Field{Name: "…", Value: fmt.Sprintf("%d more fields not shown", len(r)-maxFieldsShown)})
			break
		}
		v, _ := r.Lookup(name)
		fields = append(fields, Field{Name: name, Value: v})
	}
	m.Sections = append(m.Sections, Section{Heading: "Event", Fields: fields})
	if raw := r.Get("_raw"); raw != "" {
		if len(raw) > maxRawShown {
			raw = raw[:maxRawShown] + "\n… (truncated)"
		}
		m.Sections = append(m.Sections, Section{Heading: "Raw event", Pre: raw})
	}
	if rem := d.Remediation; rem != nil {
		m.Sections = append(m.Sections, Section{Heading: "Response", Text: remediationText(rem)})
	}
	return m
}

func remediationText(rem *detections.Remediation) string {
	switch rem.Mode {
	case detections.ModeAuto:
		return fmt.Sprintf("patrol runs %s automatically (subject to dry run, protected principals and the hourly budget).", rem.Action)
	case detections.ModeApprove:
		return fmt.Sprintf("patrol will post the plan for %s and run it once an approver adds the approval label.", rem.Action)
	default:
		return fmt.Sprintf("Remediation %s is off for this detection: respond by hand.", rem.Action)
	}
}

// NotificationMessage is the chat message for a new ticket.
func NotificationMessage(d *detections.Detection, t Ticket, r Result, route Route) Message {
	facts := []Field{{Name: "Severity", Value: d.Severity}, {Name: "Ticket", Value: t.Key}}
	if acct := AccountOf(d, r); acct != "" {
		facts = append(facts, Field{Name: "Account", Value: acct})
	}
	if route.Team != "" {
		facts = append(facts, Field{Name: "Team", Value: route.Team})
	}
	if who := r.First("userIdentity.arn", "user_arn", "user"); who != "" {
		facts = append(facts, Field{Name: "Principal", Value: who})
	}
	if ip := r.First(SourceFields...); ip != "" {
		facts = append(facts, Field{Name: "Source", Value: ip})
	}
	return Message{Title: t.Summary, Sections: []Section{{Text: d.Title, Fields: facts}}}
}
