package config

import (
	"fmt"
	"regexp"
	"slices"
	"sort"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller/slack"
)

// The keys of Slack approvals and digests.

// slackUser is a Slack user id (U…, or W… on Enterprise Grid).
var slackUser = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)

// validateSlackApprovals checks tickets.slack_approvers: each maps a
// Slack user id to an approver (Warnings says when Socket Mode is off).
func (c *Config) validateSlackApprovals(r *detections.Reporter) {
	ids := make([]string, 0, len(c.Tickets.SlackApprovers))
	for id := range c.Tickets.SlackApprovers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		key := "tickets.slack_approvers." + id
		if !slackUser.MatchString(id) {
			r.Add(key, "%q is not a Slack user id (like U0123ABCD: in Slack, the person's profile, \"Copy member ID\")", id)
		}
		if a := c.Tickets.SlackApprovers[id]; !slices.Contains(c.Tickets.Approvers, a) {
			r.Add(key, "%q is not in tickets.approvers: a Slack user can only stand for an approver", a)
		}
	}
}

// validateDigests checks the [[digest]] entries: their own keys, a channel
// Slack takes, and teams that exist.
func (c *Config) validateDigests(r *detections.Reporter) {
	teams := map[string]bool{}
	for _, t := range c.Teams {
		teams[t.Name] = true
	}
	for i, d := range c.Digests {
		key := fmt.Sprintf("digest[%d]", i+1)
		section(r, key, d.Validate())
		if c.Notify.Backend == "slack" && d.Channel != "" && !slack.ValidChannel(d.Channel) {
			r.Add(key+".channel", "%q must be a channel name like #security-alerts or an ID like C0123456", d.Channel)
		}
		for _, t := range d.Teams {
			if t != "" && !teams[t] {
				r.Add(key+".teams", "%q is not the name of a [[teams]] entry", t)
			}
		}
	}
}
