package aws

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/patrolsec/patrol/poller"
)

// snapshotHeader opens every snapshot: which action took it, on what, when.
// Revert checks it against the plan so that a snapshot is never applied to a
// resource other than the one it was taken from.
type snapshotHeader struct {
	Action  string    `json:"action"`
	Account string    `json:"account"`
	Target  string    `json:"target"`
	TakenAt time.Time `json:"taken_at"`
}

func (p *Provider) header(pl poller.Plan) snapshotHeader {
	return snapshotHeader{Action: pl.Action, Account: pl.Account, Target: pl.Target, TakenAt: p.now().UTC()}
}

func (h snapshotHeader) check(pl poller.Plan) error {
	if h.Action != pl.Action || h.Account != pl.Account || h.Target != pl.Target {
		return fmt.Errorf("snapshot is of %s on %s in %s, not this plan's %s on %s in %s",
			h.Action, h.Target, h.Account, pl.Action, pl.Target, pl.Account)
	}
	return nil
}

// encodeSnapshot renders a snapshot as JSON. The types are plain structs of
// strings, bools and numbers, so this cannot fail.
func encodeSnapshot(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("aws: snapshot does not encode: " + err.Error())
	}
	return string(b)
}

// decodeSnapshot parses s into v (which embeds snapshotHeader) and checks
// that it belongs to pl.
func decodeSnapshot(s string, pl poller.Plan, v interface{ head() snapshotHeader }) error {
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return v.head().check(pl)
}

func (h snapshotHeader) head() snapshotHeader { return h }
