package slack

import (
	"fmt"
	"strings"
	"unicode/utf8"

	goslack "github.com/slack-go/slack"

	"github.com/patrolsec/patrol/poller"
)

// DigestBlocks renders a digest as Block Kit: a header, the span it
// covers, open alerts by severity and team, then one section each for
// plans waiting for approval (with their age), actions since the last
// digest with their outcome, detections failing or stale, and exceptions
// and silences that end soon. Event data (targets, errors) is escaped like
// in any message; the one link is each ticket's.
func DigestBlocks(d poller.Digest) []goslack.Block {
	title := strings.TrimSpace(clean(d.Title))
	if title == "" {
		title = "patrol digest"
	}
	if len(d.Teams) > 0 {
		title += " for " + strings.Join(d.Teams, ", ")
	}
	title = fit(title, 150, func(s string) string { return strings.Join(strings.Fields(s), " ") })
	blocks := []goslack.Block{
		goslack.NewHeaderBlock(goslack.NewTextBlockObject(goslack.PlainTextType, title, false, false)),
		goslack.NewContextBlock("", mrkdwn(span(d))),
	}
	if d.OpenTotal == 0 {
		blocks = append(blocks, section("*Open alerts:* none"))
	} else {
		blocks = append(blocks, goslack.NewSectionBlock(mrkdwn(fmt.Sprintf("*Open alerts: %d*", d.OpenTotal)), countFields(d.OpenBySev), nil))
		if len(d.OpenByTeam) > 0 {
			blocks = append(blocks, goslack.NewSectionBlock(mrkdwn("*By team*"), countFields(d.OpenByTeam), nil))
		}
	}
	blocks = append(blocks, goslack.NewDividerBlock())

	var waiting []string
	for _, w := range d.Waiting {
		line := "• " + ticketLink(w.Ticket) + " " + codeValue(orDash(w.Detection), 200)
		if w.Team != "" {
			line += " (" + escapeLine(w.Team) + ")"
		}
		line += ", waiting " + poller.Age(d.At.Sub(w.Since))
		waiting = append(waiting, line)
	}
	blocks = append(blocks, list("Waiting for approval", d.WaitingTotal, waiting, "none"))

	var actions []string
	for _, a := range d.Actions {
		outcome := a.Outcome
		if a.DryRun {
			outcome = "dry run"
		}
		actions = append(actions, fmt.Sprintf("• %s %s on %s: *%s*", ticketLink(a.Ticket), codeValue(a.Action, 100), codeValue(a.Target, 300), escapeLine(outcome)))
	}
	blocks = append(blocks, list("Actions since the last digest", d.ActionsTotal, actions, "none"))

	var dets []string
	for _, x := range d.Detections {
		dets = append(dets, "• "+codeValue(x.ID, 200)+": "+fit(x.Problem, 400, escapeLine))
	}
	blocks = append(blocks, list("Detections failing or stale", len(d.Detections), dets, "none: every detection ran and is up to date"))

	if len(d.Expiring) > 0 {
		var exp []string
		for _, e := range d.Expiring {
			exp = append(exp, fmt.Sprintf("• %s %s: %s (owner %s), ends %s, in %s", escapeLine(e.Kind), codeValue(e.Name, 200),
				fit(orDash(e.Reason), 300, escapeLine), escapeLine(orDash(e.Owner)), e.Expires.UTC().Format("2006-01-02 15:04 UTC"), poller.Age(e.Expires.Sub(d.At))))
		}
		blocks = append(blocks, list("Exceptions and silences ending within 7 days", len(d.Expiring), exp, ""))
	}
	return blocks
}

// DigestText is a digest's notification fallback text.
func DigestText(d poller.Digest) string {
	return fit(fmt.Sprintf("patrol digest: %d open alerts, %d waiting for approval, %d actions since the last digest, %d detections failing or stale",
		d.OpenTotal, d.WaitingTotal, d.ActionsTotal, len(d.Detections)), maxFallback, escapeLine)
}

func span(d poller.Digest) string {
	const layout = "2006-01-02 15:04 UTC"
	s := "Until " + d.Until.UTC().Format(layout)
	if !d.Since.IsZero() {
		s = "From " + d.Since.UTC().Format(layout) + " to " + d.Until.UTC().Format(layout)
	}
	if d.Late {
		s += ". Sent late, at " + d.At.UTC().Format(layout) + ": patrol was not running at its time"
		if d.Skipped > 0 {
			s += fmt.Sprintf(", and %d earlier digests were skipped (this one covers their span)", d.Skipped)
		}
	}
	return s + "."
}

func countFields(cs []poller.DigestCount) []*goslack.TextBlockObject {
	var fields []*goslack.TextBlockObject
	for i, c := range cs {
		if i == maxFields-1 && len(cs) > maxFields {
			rest := 0
			for _, r := range cs[i:] {
				rest += r.Count
			}
			fields = append(fields, mrkdwn(fmt.Sprintf("*%d others*\n%d", len(cs)-i, rest)))
			break
		}
		fields = append(fields, mrkdwn(bold(c.Name, 200)+"\n"+fmt.Sprint(c.Count)))
	}
	return fields
}

// list is a titled section of lines, cut to fit one section with a note
// of what was left out (total counts them all).
func list(title string, total int, lines []string, empty string) goslack.Block {
	if total == 0 {
		return section("*" + title + ":* " + empty)
	}
	head := fmt.Sprintf("*%s: %d*", title, total)
	text := head
	shown := 0
	for _, l := range lines {
		if utf8.RuneCountInString(text)+1+utf8.RuneCountInString(l) > maxSectionText-40 {
			break
		}
		text += "\n" + l
		shown++
	}
	if shown < total {
		text += fmt.Sprintf("\n_…and %d more: see patrol status and the tickets._", total-shown)
	}
	return section(text)
}
