package splunk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/patrolsec/patrol/poller"
)

// jobStatus is the part of GET search/jobs/{sid} the client acts on.
type jobStatus struct {
	DispatchState       string   `json:"dispatchState"`
	IsDone              flexBool `json:"isDone"`
	IsFailed            flexBool `json:"isFailed"`
	IsZombie            flexBool `json:"isZombie"`
	IsFinalized         flexBool `json:"isFinalized"`
	EventIsTruncated    flexBool `json:"eventIsTruncated"`
	ResultCount         flexInt  `json:"resultCount"`
	EventCount          flexInt  `json:"eventCount"`
	ReportSearch        string   `json:"reportSearch"`
	Messages            messages `json:"messages"`
	EventAvailableCount flexInt  `json:"eventAvailableCount"`
	// What the job cost: events scanned and seconds run (backtests show them).
	ScanCount   flexInt   `json:"scanCount"`
	RunDuration flexFloat `json:"runDuration"`
}

// runJob dispatches spl as an async job, waits for it, pages its results
// into emit and deletes it, whatever happened.
func (s *Searcher) runJob(ctx context.Context, detection, spl string, params url.Values, emit func(poller.Result) error) error {
	sid, err := s.dispatch(ctx, spl, params)
	if err != nil {
		return err
	}
	s.log.Debug("splunk job dispatched", "detection", detection, "sid", sid)
	defer s.deleteJob(ctx, sid)

	st, err := s.wait(ctx, sid)
	if err != nil {
		return err
	}
	s.log.Debug("splunk job done", "detection", detection, "sid", sid, "result_count", int64(st.ResultCount),
		"scan_count", int64(st.ScanCount), "run_duration", float64(st.RunDuration))
	poller.ReportSearchStats(ctx, poller.SearchStats{ScanCount: int64(st.ScanCount),
		RunDuration: time.Duration(float64(st.RunDuration) * float64(time.Second))})
	return s.results(ctx, sid, int(st.ResultCount), emit)
}

// dispatch creates the job and returns its sid.
func (s *Searcher) dispatch(ctx context.Context, spl string, params url.Values) (string, error) {
	form := cloneValues(params)
	form.Set("search", spl)
	form.Set("exec_mode", "normal")
	// Set explicitly: the REST default (10,000) would silently cap results.
	form.Set("max_count", strconv.Itoa(s.maxCount))
	form.Set("status_buckets", "0")
	// A job patrol abandons (crash, lost network) is cancelled and removed
	// by Splunk itself; while patrol is paging, every request resets both.
	form.Set("auto_cancel", seconds(s.timeout))
	form.Set("timeout", seconds(s.timeout))
	resp, err := s.send(ctx, call{op: "dispatch", method: http.MethodPost, path: "search/jobs", form: form})
	if err != nil {
		return "", err
	}
	defer drain(resp)
	var out struct {
		SID string `json:"sid"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", &Error{Op: "dispatch", Status: resp.StatusCode, Reason: "unreadable answer", Err: err, retryable: true}
	}
	if out.SID == "" {
		return "", &Error{Op: "dispatch", Status: resp.StatusCode, Reason: "answer has no sid", retryable: true}
	}
	return out.SID, nil
}

// wait polls the job until it is done and fit to read, or fails. The wait
// between polls starts at poll_interval and grows by half up to ten times it.
func (s *Searcher) wait(ctx context.Context, sid string) (jobStatus, error) {
	delay := s.pollInterval
	for {
		st, ready, err := s.status(ctx, sid)
		if err != nil {
			return st, err
		}
		if ready {
			done, err := s.judge(sid, st)
			if err != nil || done {
				return st, err
			}
		}
		if err := s.sleep(ctx, delay); err != nil {
			return st, netError("status", sid, fmt.Errorf("waiting for the job: %w", err))
		}
		delay = min(delay+delay/2, 10*s.pollInterval)
	}
}

// status reads the job once; ready is false while Splunk answers 204.
func (s *Searcher) status(ctx context.Context, sid string) (jobStatus, bool, error) {
	var st jobStatus
	resp, err := s.send(ctx, call{op: "status", sid: sid, method: http.MethodGet, path: "search/jobs/" + url.PathEscape(sid)})
	if err != nil {
		var se *Error
		if errors.As(err, &se) && se.Status == http.StatusNotFound {
			se.Reason = "job is gone (expired, cancelled or deleted)"
			se.retryable = true
		}
		return st, false, err
	}
	defer drain(resp)
	if resp.StatusCode == http.StatusNoContent {
		return st, false, nil
	}
	st, err = decodeStatus(resp.Body)
	if err != nil {
		return st, false, &Error{Op: "status", SID: sid, Status: resp.StatusCode, Reason: "unreadable job status", Err: err, retryable: true}
	}
	return st, true, nil
}

// decodeStatus reads the job entry from a status answer.
func decodeStatus(r io.Reader) (jobStatus, error) {
	var env struct {
		Entry []struct {
			Content jobStatus `json:"content"`
		} `json:"entry"`
	}
	if err := json.NewDecoder(r).Decode(&env); err != nil {
		return jobStatus{}, err
	}
	if len(env.Entry) == 0 {
		return jobStatus{}, errors.New("no entry")
	}
	return env.Entry[0].Content, nil
}

// judge decides from one status whether the job is done (and its results
// complete), still running, or failed. Anything unknown keeps polling: the
// search's timeout ends a job that never settles.
func (s *Searcher) judge(sid string, st jobStatus) (done bool, err error) {
	state := st.DispatchState
	fails := st.Messages.failures()
	switch {
	case bool(st.IsFailed) || state == "FAILED":
		return false, jobError("job", sid, "failed (dispatchState "+state+")", st.Messages.failures(), false)
	case state == "INTERNAL_CANCEL" || state == "USER_CANCEL" || state == "BAD_INPUT_CANCEL" || state == "QUIT":
		return false, jobError("job", sid, "cancelled (dispatchState "+state+")", fails, state != "BAD_INPUT_CANCEL")
	case bool(st.IsZombie):
		return false, jobError("job", sid, "zombie: its search process died (dispatchState "+state+")", fails, true)
	case len(fails) > 0:
		return false, jobError("job", sid, "reported errors", fails, false)
	case len(st.Messages.incomplete()) > 0:
		// A peer down or timed out: Splunk still says DONE, with what the
		// other peers found. The peer may be back next run.
		return false, jobError("job", sid, "results may be incomplete", st.Messages.incomplete(), true)
	case !bool(st.IsDone):
		return false, nil
	case bool(st.IsFinalized):
		return false, jobError("job", sid, "was finalized before it finished: results are partial", nil, true)
	case int(st.ResultCount) >= s.maxCount:
		return false, jobError("job", sid, fmt.Sprintf("results truncated: %d results reached max_count %d (raise max_count or narrow the search)", st.ResultCount, s.maxCount), nil, false)
	case st.ReportSearch == "" && bool(st.EventIsTruncated):
		// For an event search the results are the events; truncated events
		// mean missing results. (A reporting search drops its events by
		// design, so the flag means nothing there.)
		return false, jobError("job", sid, fmt.Sprintf("events truncated (eventCount %d, available %d)", st.EventCount, st.EventAvailableCount), nil, false)
	}
	return true, nil
}

// deleteJob removes the job's artifacts (they count against the role's disk
// quota). It runs on a context that survives the search's cancellation, so a
// cancelled or failed search still cleans up.
func (s *Searcher) deleteJob(ctx context.Context, sid string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	resp, err := s.send(ctx, call{op: "delete", sid: sid, method: http.MethodDelete, path: "search/jobs/" + url.PathEscape(sid)})
	if err != nil {
		var se *Error
		if errors.As(err, &se) && se.Status == http.StatusNotFound {
			return // already gone
		}
		s.log.Warn("splunk job not deleted; Splunk removes it after its ttl", "sid", sid, "err", err.Error())
		return
	}
	drain(resp)
}
