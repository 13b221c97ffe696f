// Package metrics exposes patrol's health as Prometheus metrics without
// opening a port: written atomically to a node_exporter textfile-collector
// file, and served on a loopback listener only when asked.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"

	"github.com/patrolsec/patrol/poller"
)

// Metrics holds patrol's collectors in their own registry.
type Metrics struct {
	reg *prometheus.Registry

	detectRuns      *prometheus.CounterVec
	detectFailures  *prometheus.CounterVec
	detectCancelled *prometheus.CounterVec
	detectSkipped   *prometheus.CounterVec
	lastSuccess     *prometheus.GaugeVec
	lag             *prometheus.GaugeVec
	results         *prometheus.CounterVec
	alerts          *prometheus.CounterVec
	suppressed      *prometheus.CounterVec
	ticketsCreated  prometheus.Counter
	respondRuns     prometheus.Counter
	respondFailures prometheus.Counter
	actions         *prometheus.CounterVec
	requestErrors   *prometheus.CounterVec
	reloads         *prometheus.CounterVec
	detections      prometheus.Gauge
	localSkipped    *prometheus.CounterVec
}

// New registers patrol's metrics.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	det := []string{"detection"}
	m.detectRuns = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "patrol_detection_runs_total", Help: "Detection runs."}, det)
	m.detectFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "patrol_detection_failures_total", Help: "Detection runs that failed."}, det)
	m.detectCancelled = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "patrol_detection_cancelled_total", Help: "Detection runs cancelled by a clean stop or a reload (not failures)."}, det)
	m.detectSkipped = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "patrol_detection_skipped_runs_total", Help: "Scheduled runs skipped because the previous run was still going."}, det)
	m.lastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "patrol_detection_last_success_timestamp_seconds", Help: "When the detection last ran successfully."}, det)
	m.lag = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "patrol_detection_window_lag_seconds", Help: "Now minus the detection's checkpoint."}, det)
	m.results = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "patrol_detection_results_total", Help: "Search results handled."}, det)
	m.alerts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "patrol_detection_alerts_total", Help: "New alerts (each with a ticket)."}, det)
	m.suppressed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "patrol_detection_suppressed_total", Help: "Repeats folded into an existing alert."}, det)
	m.ticketsCreated = prometheus.NewCounter(prometheus.CounterOpts{Name: "patrol_tickets_created_total", Help: "Tickets created."})
	m.respondRuns = prometheus.NewCounter(prometheus.CounterOpts{Name: "patrol_respond_runs_total", Help: "Respond passes."})
	m.respondFailures = prometheus.NewCounter(prometheus.CounterOpts{Name: "patrol_respond_failures_total", Help: "Respond passes that failed."})
	m.actions = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "patrol_actions_total", Help: "Remediation actions by outcome."}, []string{"action", "outcome"})
	m.requestErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "patrol_request_errors_total", Help: "Failed requests to a backend, by kind."}, []string{"backend", "kind"})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "patrol_reloads_total", Help: "Config reloads (SIGHUP) by result."}, []string{"result"})
	m.detections = prometheus.NewGauge(prometheus.GaugeOpts{Name: "patrol_detections", Help: "Detections loaded."})
	m.localSkipped = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "patrol_local_skipped_total",
		Help: "Records (and rests of files) the local engine skipped for being over a limit, by reason."}, []string{"reason"})
	for _, c := range []prometheus.Collector{m.detectRuns, m.detectFailures, m.detectCancelled, m.detectSkipped, m.lastSuccess, m.lag, m.results, m.alerts, m.suppressed,
		m.ticketsCreated, m.respondRuns, m.respondFailures, m.actions, m.requestErrors, m.reloads, m.detections, m.localSkipped} {
		f(c)
	}
	return m
}

// Detect records a detection run; checkpoint is its checkpoint after it. A
// cancelled run is counted as such, not as a failure.
func (m *Metrics) Detect(id string, st poller.DetectStats, err error, checkpoint, now time.Time) {
	m.detectRuns.WithLabelValues(id).Inc()
	switch {
	case errors.Is(err, poller.ErrCancelled):
		m.detectCancelled.WithLabelValues(id).Inc()
	case err != nil:
		m.detectFailures.WithLabelValues(id).Inc()
	default:
		m.lastSuccess.WithLabelValues(id).Set(float64(now.Unix()))
	}
	if !checkpoint.IsZero() {
		m.lag.WithLabelValues(id).Set(now.Sub(checkpoint).Seconds())
	}
	m.results.WithLabelValues(id).Add(float64(st.Results))
	m.alerts.WithLabelValues(id).Add(float64(st.Alerts))
	m.suppressed.WithLabelValues(id).Add(float64(st.Repeats))
	m.ticketsCreated.Add(float64(st.Tickets))
}

// Skipped counts a scheduled run of detection id skipped because its
// previous run was still going.
func (m *Metrics) Skipped(id string) { m.detectSkipped.WithLabelValues(id).Inc() }

// SearchSlots exports the search slots: how many there are, and how many
// runs wait for one now (read at each scrape or textfile write).
func (m *Metrics) SearchSlots(size int, queued func() int) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "patrol_search_slots", Help: "Search slots (searches in flight at once)."},
			func() float64 { return float64(size) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "patrol_search_slot_queue", Help: "Runs waiting for a search slot now."},
			func() float64 { return float64(queued()) }))
}

// Respond records a respond pass.
func (m *Metrics) Respond(st poller.RespondStats, err error) {
	m.respondRuns.Inc()
	if err != nil && !errors.Is(err, poller.ErrCancelled) {
		m.respondFailures.Inc()
	}
}

// Action records a remediation outcome (succeeded, failed, refused, dry_run, interrupted, deferred, held, cancelled).
func (m *Metrics) Action(action, outcome string) { m.actions.WithLabelValues(action, outcome).Inc() }

// Reload records a SIGHUP reload.
func (m *Metrics) Reload(ok bool) {
	if ok {
		m.reloads.WithLabelValues("ok").Inc()
	} else {
		m.reloads.WithLabelValues("error").Inc()
	}
}

// LocalSkip counts a record or file the local engine skipped (depth,
// values, record_size, file_size).
func (m *Metrics) LocalSkip(reason string) { m.localSkipped.WithLabelValues(reason).Inc() }

// Detections sets how many detections are loaded.
func (m *Metrics) Detections(n int) { m.detections.Set(float64(n)) }

// RequestError counts a failed backend call by kind.
func (m *Metrics) RequestError(backend string, err error) {
	m.requestErrors.WithLabelValues(backend, Kind(err)).Inc()
}

// Kind classifies an error: timeout, cancelled, retryable (429, 5xx,
// quota) or permanent.
func Kind(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case poller.Retryable(err):
		return "retryable"
	}
	return "permanent"
}

// WriteTextfile writes the metrics to path for node_exporter's textfile
// collector: to a temporary file in the same folder, then renamed over
// path, so the collector never reads a half-written file.
func (m *Metrics) WriteTextfile(path string) error {
	mfs, err := m.reg.Gather()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("metrics textfile: %w", err)
	}
	defer os.Remove(tmp.Name())
	enc := expfmt.NewEncoder(tmp, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			tmp.Close()
			return fmt.Errorf("metrics textfile: %w", err)
		}
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Serve serves /metrics on addr, which must be a loopback address, until
// ctx ends. It returns once the listener is bound (or failed to bind).
func (m *Metrics) Serve(ctx context.Context, addr string) (net.Addr, error) {
	if err := CheckLoopback(addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	return ln.Addr(), nil
}

// CheckLoopback accepts host:port only for a loopback host: patrol never
// listens where the network can reach it.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address (use 127.0.0.1:PORT or [::1]:PORT)", addr)
	}
	return nil
}
