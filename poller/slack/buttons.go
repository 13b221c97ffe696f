package slack

import (
	"encoding/json"
	"regexp"

	goslack "github.com/slack-go/slack"

	"github.com/patrolsec/patrol/poller"
)

// The Approve and Hold buttons of a plan waiting for approval. Their
// value holds the ticket key and the plan digest as JSON
// ({"ticket":"SEC-12","digest":"0123456789ab"}); a click counts only
// while that digest is the ticket's current plan.
const (
	blockApproval = "patrol_approval"
	actionApprove = "patrol_approve"
	actionHold    = "patrol_hold"
)

type buttonValue struct {
	Ticket string `json:"ticket"`
	Digest string `json:"digest"`
}

var (
	ticketKey = regexp.MustCompile(`^[A-Z][A-Z0-9_]*-[0-9]+$`)
	digestHex = regexp.MustCompile(`^[0-9a-f]{12}$`)
)

// approvalBlock is the buttons for ticket key's plan with digest.
func approvalBlock(key, digest string) goslack.Block {
	raw, _ := json.Marshal(buttonValue{Ticket: key, Digest: digest})
	value := string(raw)
	plain := func(s string) *goslack.TextBlockObject {
		return goslack.NewTextBlockObject(goslack.PlainTextType, s, false, false)
	}
	approve := goslack.NewButtonBlockElement(actionApprove, value, plain("Approve")).WithStyle(goslack.StylePrimary)
	approve.Confirm = goslack.NewConfirmationBlockObject(plain("Run this remediation?"),
		plain("patrol runs the plan shown above (digest "+digest+") on "+key+" at once."), plain("Approve"), plain("Cancel"))
	hold := goslack.NewButtonBlockElement(actionHold, value, plain("Hold")).WithStyle(goslack.StyleDanger)
	return goslack.NewActionBlock(blockApproval, approve, hold)
}

// parseButton reads a click on one of patrol's buttons; ok is false for
// any other action or a value patrol did not make.
func parseButton(actionID, value string) (kind, ticket, digest string, ok bool) {
	switch actionID {
	case actionApprove:
		kind = poller.ClickApprove
	case actionHold:
		kind = poller.ClickHold
	default:
		return "", "", "", false
	}
	var v buttonValue
	if json.Unmarshal([]byte(value), &v) != nil || !ticketKey.MatchString(v.Ticket) || !digestHex.MatchString(v.Digest) {
		return "", "", "", false
	}
	return kind, v.Ticket, v.Digest, true
}
