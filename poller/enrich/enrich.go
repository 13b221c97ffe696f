// Package enrich holds patrol's enrichers that need no cloud API: the
// account table (accounts.csv), the source-address classifier (org_cidrs)
// and routing by [[teams]]. Local mode uses them on their own; the AWS
// integration layers Organizations and IAM lookups over the same types.
package enrich

import (
	"strings"

	"github.com/patrolsec/patrol/poller"
)

// Team is one [[teams]] entry.
type Team = poller.Team

// Teams is the [[teams]] list.
type Teams []Team

// ForAccount returns the first team that lists account.
func (ts Teams) ForAccount(account string) (Team, bool) {
	for _, t := range ts {
		for _, a := range t.Accounts {
			if a == account {
				return t, true
			}
		}
	}
	return Team{}, false
}

// Named returns the team called name (case-insensitive, since tags and
// spreadsheets are typed by hand).
func (ts Teams) Named(name string) (Team, bool) {
	for _, t := range ts {
		if name != "" && strings.EqualFold(t.Name, name) {
			return t, true
		}
	}
	return Team{}, false
}

// RouteForTeam is the route of the team called name: its [[teams]] channel
// and component when it has an entry, else just the name.
func (ts Teams) RouteForTeam(name string) poller.Route {
	if t, ok := ts.Named(name); ok {
		return t.Route()
	}
	return poller.Route{Team: name}
}

// RouteForAccount is where a ticket about account a goes. A [[teams]] entry
// that lists the account wins, because it is patrol's own configuration;
// otherwise the team the record names (with its [[teams]] channel and
// component); the record's own channel and component fill what is left.
func (ts Teams) RouteForAccount(a Account) poller.Route {
	var r poller.Route
	if t, ok := ts.ForAccount(a.ID); ok {
		r = t.Route()
	} else if a.Team != "" {
		r = ts.RouteForTeam(a.Team)
	}
	if r.SlackChannel == "" {
		r.SlackChannel = a.SlackChannel
	}
	if r.Component == "" {
		r.Component = a.JiraComponent
	}
	return r
}
