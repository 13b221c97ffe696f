package tuning

import (
	"fmt"
	"sort"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
)

// ExpiryWarning is how long before an exception expires validate starts
// saying so.
const ExpiryWarning = 14 * 24 * time.Hour

// Warnings lists the exceptions that expired or expire within 14 days,
// each named by file, line and key. They are warnings, not problems: an
// expired exception simply stops applying.
func Warnings(ds []*detections.Detection, now time.Time) []*detections.Problem {
	var out []*detections.Problem
	for _, d := range ds {
		for _, e := range d.Exceptions {
			p := &detections.Problem{File: e.File, Line: e.ExpiresLine, Key: fmt.Sprintf("exception[%d].expires", e.Index)}
			switch left := e.Expires.Sub(now); {
			case left <= 0:
				p.Msg = fmt.Sprintf("warning: expired %s (%s ago): it no longer applies; renew it with a new expires or remove it (%s, owner %s)",
					e.Expires.Format(time.RFC3339), ago(-left), e.Reason, e.Owner)
			case left <= ExpiryWarning:
				p.Msg = fmt.Sprintf("warning: expires %s (in %s): renew it or let it lapse (%s, owner %s)",
					e.Expires.Format(time.RFC3339), ago(left), e.Reason, e.Owner)
			default:
				continue
			}
			out = append(out, p)
		}
	}
	return out
}

// ago renders a span in days, or hours below two days.
func ago(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	}
	return fmt.Sprintf("%d hours", int(d.Round(time.Hour)/time.Hour))
}

// Expiring lists the exceptions and the silences in force or to come that
// end within the span after now, soonest first (the digests say so a week
// ahead).
func Expiring(ds []*detections.Detection, f *SilenceFile, now time.Time, within time.Duration) []poller.DigestExpiring {
	var out []poller.DigestExpiring
	soon := func(t time.Time) bool { return !t.Before(now) && t.Sub(now) <= within }
	for _, d := range ds {
		for _, e := range d.Exceptions {
			if soon(e.Expires) {
				out = append(out, poller.DigestExpiring{Kind: "exception", Name: d.ID + ": " + e.String(), Reason: e.Reason, Owner: e.Owner, Expires: e.Expires})
			}
		}
	}
	if f != nil {
		for _, s := range f.Current() {
			if soon(s.Expires) {
				out = append(out, poller.DigestExpiring{Kind: "silence", Name: s.ID, Reason: s.Reason, Owner: s.Owner, Expires: s.Expires})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Expires.Before(out[j].Expires) })
	return out
}
