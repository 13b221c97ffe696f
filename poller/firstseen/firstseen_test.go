package firstseen_test

import (
	"testing"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/firstseen"
	"github.com/patrolsec/patrol/poller/searchtest"
	"github.com/patrolsec/patrol/state"
)

var t0 = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

func newRig(t *testing.T) *searchtest.Rig {
	return searchtest.NewRig(t, "testdata", t0, func(db *state.DB, backend poller.Searcher) []poller.Kind {
		return []poller.Kind{&firstseen.Filter{Store: db, Searcher: backend, BackfillChunk: 6 * time.Hour, Logger: searchtest.Quiet}}
	})
}

func call(principal, network string) poller.Result {
	return poller.Result{"principal": {principal}, "network": {network}}
}

// runAt moves the clock to at and runs detection id.
func runAt(r *searchtest.Rig, id string, at time.Time) int {
	r.T.Helper()
	r.Now = at
	return r.MustRun(id)
}

// A new detection opens nothing while it learns; afterwards a known value is
// quiet, a genuinely new one opens one alert, and neither a restart nor a
// reload makes it new again.
func TestLearnThenAlertOnce(t *testing.T) {
	r := newRig(t)
	alice, ci := "arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:role/deploy"
	opened := 0
	for d := 0; d < 7; d++ {
		at := t0.Add(time.Duration(d) * day)
		r.Backend.Add("new-network", at.Add(-30*time.Minute), call(alice, "203.0.113.0/24"))
		r.Backend.Add("new-network", at.Add(-20*time.Minute), call(ci, "198.51.100.0/24"))
		if d == 3 {
			r.Backend.Add("new-network", at.Add(-10*time.Minute), call(alice, "192.0.2.0/24")) // a trip, while learning
		}
		opened += runAt(r, "new-network", at)
	}
	if opened != 0 {
		t.Fatalf("learning span opened %d alert(s)", opened)
	}
	after := t0.Add(8 * day)
	r.Backend.Add("new-network", after.Add(-50*time.Minute), call(alice, "203.0.113.0/24"))
	r.Backend.Add("new-network", after.Add(-40*time.Minute), call(alice, "192.0.2.0/24"))
	r.Backend.Add("new-network", after.Add(-30*time.Minute), call(ci, "100.24.0.0/24"))
	r.Backend.Add("new-network", after.Add(-20*time.Minute), call(ci, "100.24.0.0/24"))
	if n := runAt(r, "new-network", after); n != 1 {
		t.Fatalf("after learning: %d alert(s), want 1 (the role from 100.24.0.0/24)", n)
	}
	r.Restart()
	r.Backend.Add("new-network", after.Add(2*time.Hour), call(ci, "100.24.0.0/24"))
	if n := runAt(r, "new-network", after.Add(3*time.Hour)); n != 0 {
		t.Fatalf("after a restart the value was new again: %d", n)
	}
	reloaded := *r.Detections["new-network"]
	r.Detections["new-network"] = &reloaded
	r.Backend.Add("new-network", after.Add(4*time.Hour), call(alice, "192.0.2.0/24"))
	if n := runAt(r, "new-network", after.Add(5*time.Hour)); n != 0 {
		t.Fatalf("after a reload a known value was new again: %d", n)
	}
}

// A combination unseen for longer than history is new again.
func TestExpiry(t *testing.T) {
	r := newRig(t)
	runAt(r, "new-network", t0) // learning from t0-1h
	start := t0.Add(8 * day)
	r.Backend.Add("new-network", start.Add(-time.Minute), call("bob", "192.0.2.0/24"))
	if n := runAt(r, "new-network", start); n != 1 {
		t.Fatalf("new value: %d", n)
	}
	r.Backend.Add("new-network", start.Add(10*day), call("bob", "192.0.2.0/24"))
	if n := runAt(r, "new-network", start.Add(10*day+time.Hour)); n != 0 {
		t.Fatalf("seen 10 days ago: %d", n)
	}
	r.Backend.Add("new-network", start.Add(45*day), call("bob", "192.0.2.0/24"))
	if n := runAt(r, "new-network", start.Add(45*day+time.Hour)); n != 1 {
		t.Fatalf("unseen for 35 days (history 30d): %d alert(s), want 1", n)
	}
}

// With backfill, the first run learns from the history once and alerts on
// genuinely new values at once.
func TestBackfill(t *testing.T) {
	r := newRig(t)
	r.Backend.Add("new-region", t0.Add(-20*day), poller.Result{"account": {"111122223333"}, "region": {"us-east-1"}})
	r.Backend.Add("new-region", t0.Add(-2*day), poller.Result{"account": {"111122223333"}, "region": {"eu-west-1"}})
	r.Backend.Add("new-region", t0.Add(-40*day), poller.Result{"account": {"111122223333"}, "region": {"ap-south-1"}}) // older than history
	r.Backend.Add("new-region", t0.Add(-10*time.Minute), poller.Result{"account": {"111122223333"}, "region": {"us-east-1"}})
	r.Backend.Add("new-region", t0.Add(-5*time.Minute), poller.Result{"account": {"111122223333"}, "region": {"ap-south-1"}})
	if n := runAt(r, "new-region", t0); n != 1 {
		t.Fatalf("first window after backfill: %d alert(s), want 1 (ap-south-1)", n)
	}
	backfilled := 0
	for _, q := range r.Backend.Queries() {
		if !q.Window.End.After(t0.Add(-time.Hour)) {
			backfilled++
		}
	}
	if backfilled != 30*4 {
		t.Errorf("backfill searched %d chunks, want 120 (30 days in 6h chunks)", backfilled)
	}
	r.Backend.Add("new-region", t0.Add(time.Minute), poller.Result{"account": {"111122223333"}, "region": {"eu-west-1"}})
	if n := runAt(r, "new-region", t0.Add(time.Hour)); n != 0 {
		t.Fatalf("backfilled value alerted: %d", n)
	}
}

// newValueAfterLearning is a rig whose new-network detection learned from
// t0-1h, with a call by principal from a new network a day after learning
// ended; it returns the time to run at.
func newValueAfterLearning(t *testing.T, principal string) (*searchtest.Rig, time.Time) {
	r := newRig(t)
	runAt(r, "new-network", t0)
	at := t0.Add(8 * day)
	r.Backend.Add("new-network", at.Add(-time.Minute), call(principal, "192.0.2.0/24"))
	return r, at
}

// A window whose ticket could not be made is searched again; the value it
// found new is still new for that retry, and one alert results.
func TestRetriedWindow(t *testing.T) {
	r, at := newValueAfterLearning(t, "carol")
	r.Now = at
	r.FailCreate = true
	if _, err := r.Run("new-network"); err == nil {
		t.Fatal("want the tracker's error")
	}
	if n := runAt(r, "new-network", at.Add(10*time.Minute)); n != 1 {
		t.Fatalf("retry: %d alert(s), want 1", n)
	}
	if n := runAt(r, "new-network", at.Add(20*time.Minute)); n != 0 {
		t.Fatalf("third run: %d", n)
	}
}

// Changing the fields a detection keys on makes it learn again, silently,
// instead of finding every value new.
func TestFieldsChangedLearnsAgain(t *testing.T) {
	r, at := newValueAfterLearning(t, "dave")
	if n := runAt(r, "new-network", at); n != 1 {
		t.Fatalf("%d", n)
	}
	changed := *r.Detections["new-network"]
	fs := *changed.FirstSeen
	fs.Fields = []string{"principal"}
	changed.FirstSeen = &fs
	r.Detections["new-network"] = &changed
	r.Backend.Add("new-network", at.Add(time.Hour), call("erin", "192.0.2.0/24"))
	if n := runAt(r, "new-network", at.Add(2*time.Hour)); n != 0 {
		t.Fatalf("changed fields alerted at once: %d", n)
	}
}

// A detection that searches from the beginning of the data (first_run =
// "all", `patrol test`) learns from its earliest result.
func TestLearnFromTheBeginning(t *testing.T) {
	r := newRig(t)
	d := r.Detections["new-network"]
	fs := &detections.FirstSeen{Fields: d.FirstSeen.Fields, History: d.FirstSeen.History, Learn: 2 * day}
	cp := *d
	cp.FirstSeen = fs
	r.Detections["new-network"] = &cp
	r.Backend.Add("new-network", t0.Add(-10*day), call("frank", "203.0.113.0/24"))
	r.Backend.Add("new-network", t0.Add(-9*day), call("frank", "192.0.2.0/24"))    // learning
	r.Backend.Add("new-network", t0.Add(-5*day), call("frank", "198.51.100.0/24")) // after learning
	r.FirstRunAll = true
	if n := runAt(r, "new-network", t0); n != 1 {
		t.Fatalf("from the beginning: %d alert(s), want 1 (the network first seen after two days of learning)", n)
	}
}

// A backfilling detection that searches from the beginning of the data
// learns its whole first window: that is all the history there is.
func TestBackfillFromTheBeginning(t *testing.T) {
	r := newRig(t)
	r.FirstRunAll = true
	r.Backend.Add("new-region", t0.Add(-10*day), poller.Result{"account": {"111122223333"}, "region": {"us-east-1"}})
	r.Backend.Add("new-region", t0, poller.Result{"account": {"111122223333"}, "region": {"eu-west-1"}})
	if n := runAt(r, "new-region", t0); n != 0 {
		t.Fatalf("first window from the beginning: %d alert(s), want 0", n)
	}
	r.Backend.Add("new-region", t0.Add(time.Minute), poller.Result{"account": {"111122223333"}, "region": {"eu-west-1"}})
	r.Backend.Add("new-region", t0.Add(2*time.Minute), poller.Result{"account": {"111122223333"}, "region": {"sa-east-1"}})
	if n := runAt(r, "new-region", t0.Add(time.Hour)); n != 1 {
		t.Fatalf("next window: %d alert(s), want 1 (sa-east-1)", n)
	}
}
