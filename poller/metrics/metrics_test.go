package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/patrolsec/patrol/poller"
)

type retryErr struct{}

func (retryErr) Error() string   { return "503" }
func (retryErr) Retryable() bool { return true }

func sample(m *Metrics) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	m.Detect("ct-stop", poller.DetectStats{Results: 5, Alerts: 2, Repeats: 3, Tickets: 2}, nil, now.Add(-2*time.Minute), now)
	m.Detect("ct-stop", poller.DetectStats{}, errors.New("boom"), now.Add(-2*time.Minute), now)
	m.Detect("ct-stop", poller.DetectStats{}, fmt.Errorf("ct-stop: %w: patrol is stopping", poller.ErrCancelled), now.Add(-2*time.Minute), now)
	m.Skipped("ct-stop")
	m.Skipped("ct-stop")
	m.SearchSlots(2, func() int { return 5 })
	m.Respond(poller.RespondStats{}, nil)
	m.Action("cloudtrail.start_logging", "succeeded")
	m.RequestError("splunk", retryErr{})
	m.RequestError("jira", context.DeadlineExceeded)
	m.Reload(false)
	m.Detections(7)
}

func TestTextfileIsAtomicAndParseable(t *testing.T) {
	m := New()
	sample(m)
	dir := t.TempDir()
	path := filepath.Join(dir, "patrol.prom")
	for i := 0; i < 2; i++ { // the second write replaces the first
		if err := m.WriteTextfile(path); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("not parseable by the Prometheus text parser: %v", err)
	}
	checks := map[string]float64{
		"patrol_detection_runs_total":         3,
		"patrol_detection_failures_total":     1, // the cancelled run is not a failure
		"patrol_detection_cancelled_total":    1,
		"patrol_detection_skipped_runs_total": 2,
		"patrol_search_slots":                 2,
		"patrol_search_slot_queue":            5,
		"patrol_detection_window_lag_seconds": 120,
		"patrol_detection_suppressed_total":   3,
		"patrol_tickets_created_total":        2,
		"patrol_detections":                   7,
	}
	for name, want := range checks {
		mf, ok := mfs[name]
		if !ok {
			t.Errorf("missing %s", name)
			continue
		}
		mt := mf.GetMetric()[0]
		got := mt.GetCounter().GetValue() + mt.GetGauge().GetValue()
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	var kinds []string
	for _, mt := range mfs["patrol_request_errors_total"].GetMetric() {
		for _, l := range mt.GetLabel() {
			if l.GetName() == "kind" {
				kinds = append(kinds, l.GetValue())
			}
		}
	}
	if strings.Join(kinds, ",") != "timeout,retryable" && strings.Join(kinds, ",") != "retryable,timeout" {
		t.Errorf("error kinds = %v", kinds)
	}
}

func TestServeOnlyOnLoopback(t *testing.T) {
	for _, bad := range []string{"0.0.0.0:9465", ":9465", "10.1.2.3:9465", "example.com:80", "nonsense"} {
		if err := CheckLoopback(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	m := New()
	sample(m)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := m.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), `patrol_actions_total{action="cloudtrail.start_logging",outcome="succeeded"} 1`) {
		t.Errorf("body:\n%s", body)
	}
}

// TestWrappersKeepOptionalInterfaces: the counting wrappers can do what the
// wrapped backend can (read back, revert, stamp comments, add labels), and
// no more.
func TestWrappersKeepOptionalInterfaces(t *testing.T) {
	m := New()
	acts := m.Actions(map[string]poller.Action{"plain": plainAction{}, "full": fullAction{}})
	if _, ok := acts["plain"].(poller.Reverter); ok {
		t.Error("a plain action became reversible")
	}
	if _, ok := acts["plain"].(poller.Checker); ok {
		t.Error("a plain action can read back")
	}
	if _, ok := acts["full"].(poller.Reverter); !ok {
		t.Error("a reversible action lost Revert")
	}
	if _, ok := acts["full"].(poller.Checker); !ok {
		t.Error("an action lost Check")
	}
	if acts["plain"].(poller.SendMarker).MarksSends() || !acts["full"].(poller.SendMarker).MarksSends() {
		t.Error("the wrappers do not say whether the action marks its sends")
	}
	if _, ok := m.Tracker(nil, "jira").(poller.CommentStamper); !ok {
		t.Error("the tracker wrapper hides CommentAt")
	}
	if _, ok := m.Tracker(nil, "x").(poller.CommentFinder); ok {
		t.Error("a tracker that cannot find comments can")
	}
	if _, ok := m.Tracker(findingTracker{}, "jira").(poller.CommentFinder); !ok {
		t.Error("the tracker wrapper hides FindComment")
	}
}

type plainAction struct{}

func (plainAction) Plan(context.Context, poller.ActionRequest) (poller.Plan, error) {
	return poller.Plan{}, nil
}
func (plainAction) Apply(context.Context, poller.Plan) (poller.Outcome, error) {
	return poller.Outcome{}, nil
}

type fullAction struct{ plainAction }

func (fullAction) Revert(context.Context, poller.Plan, string) (poller.Outcome, error) {
	return poller.Outcome{}, nil
}
func (fullAction) Check(context.Context, poller.Plan, time.Time) (poller.Outcome, error) {
	return poller.Outcome{}, nil
}
func (fullAction) MarksSends() bool { return true }

// TestTextfileReadableByTheCollector: node_exporter runs as another user,
// so the textfile is 0644 whatever patrol's umask (0077 under systemd).
func TestTextfileReadableByTheCollector(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "patrol.prom")
	if err := New().WriteTextfile(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("textfile mode %v, %v; want 0644", fi.Mode().Perm(), err)
	}
}
