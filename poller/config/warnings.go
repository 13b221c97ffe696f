package config

import (
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller/tuning"
)

// Warnings lists what is valid but almost never meant, with the config
// key and line, each message starting "warning:": no detection at all,
// remediations that wait for approval with no one allowed to approve,
// detections that compare addresses with an empty org_cidrs, and
// exceptions that expired or expire within 14 days.
func Warnings(c *Config, ds []*detections.Detection) []*detections.Problem {
	src, _ := os.ReadFile(c.File)
	lines := detections.ScanKeyLines(string(src))
	var out []*detections.Problem
	warn := func(key, msg string) {
		out = append(out, &detections.Problem{File: c.File, Line: lines.Line(key), Key: key, Msg: "warning: " + msg})
	}
	if len(ds) == 0 {
		warn("detections.dir", "no detection (*.toml) in "+c.Detections.Dir+": patrol would search nothing")
	}
	var approve, orgNets []string
	for _, d := range ds {
		if d.Remediation != nil && d.Remediation.Mode == detections.ModeApprove {
			approve = append(approve, d.ID)
		}
		if strings.Contains(d.Search, "`org_networks(") {
			orgNets = append(orgNets, d.ID)
		}
	}
	if len(c.Tickets.Approvers) == 0 && len(approve) > 0 {
		warn("tickets.approvers", "is empty, but the remediations of "+short(approve)+" wait for an approver: they can never run."+
			" List who may approve (Jira Cloud accountIds, Data Center user names)")
	}
	if len(c.Enrich.OrgCIDRs) == 0 && len(orgNets) > 0 {
		warn("enrich.org_cidrs", "is empty, so `org_networks(...)` in "+short(orgNets)+" matches no address: every address counts as"+
			" outside the organization. List your offices', VPN and NAT egress ranges")
	}
	socket := c.Notify.Backend == "slack" && c.Notify.Slack.SocketMode()
	switch {
	case len(c.Tickets.SlackApprovers) > 0 && !socket:
		warn("tickets.slack_approvers", "maps Slack users, but Socket Mode is off (notify.backend = \"slack\" with notify.slack.app_token_env or app_token_file): nobody can approve from Slack")
	case socket && len(c.Tickets.SlackApprovers) == 0:
		key := "notify.slack.app_token_env"
		if c.Notify.Slack.AppTokenFile != "" {
			key = "notify.slack.app_token_file"
		}
		warn(key, "turns Socket Mode on, but tickets.slack_approvers maps no one: plans get Approve and Hold buttons nobody's click counts on")
	}
	// Exceptions that expired or expire within 14 days, named in their
	// detection file.
	return append(out, tuning.Warnings(ds, time.Now())...)
}

// short names a few detections, and how many more there are.
func short(ids []string) string {
	if len(ids) > 3 {
		return strings.Join(ids[:3], ", ") + " and " + strconv.Itoa(len(ids)-3) + " more"
	}
	return strings.Join(ids, ", ")
}
