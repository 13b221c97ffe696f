package splunktest

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"
)

// Event is one indexed event.
type Event struct {
	Time time.Time
	// IndexTime is when Splunk indexed it (_indextime); zero means Time.
	// Searches see an event only once IndexTime <= Options.Now().
	IndexTime time.Time
	// Fields are the event's fields besides _time and _indextime, which the
	// fake adds; several values make a multivalue field.
	Fields map[string][]string
}

func (e Event) indexTime() time.Time {
	if e.IndexTime.IsZero() {
		return e.Time
	}
	return e.IndexTime
}

// Add indexes events.
func (s *Server) Add(events ...Event) {
	s.mu.Lock()
	s.events = append(s.events, events...)
	s.mu.Unlock()
}

type generator struct {
	n   int
	gen func(i int) Event
}

// Generate makes every search return n rows built on demand by gen(i) for i
// in [0, n), whatever its time bounds and terms, instead of the added
// events. The fake holds none of them, so memory stays flat for any n.
func (s *Server) Generate(n int, gen func(i int) Event) {
	s.mu.Lock()
	s.gen = &generator{n: n, gen: gen}
	s.mu.Unlock()
}

// JobPlan scripts how one dispatched job (or export) behaves. The zero plan
// is a job that is DONE at its first status poll.
type JobPlan struct {
	// Queued is how many status polls answer 204 (QUEUED, then PARSING)
	// before the job shows; Running how many then show RUNNING.
	Queued, Running int
	// Latency keeps a job RUNNING until this long after its dispatch (by
	// Options.Now), whatever the polls; an export or a blocking search
	// waits it out (in real time) before answering: a search that takes
	// time, as on a real Splunk.
	Latency time.Duration
	// Hold, when set, makes status polls (or an export, before it streams)
	// wait until it is closed or the request ends: a slow job, without a
	// clock. Stats.Held counts the requests waiting.
	Hold <-chan struct{}
	// State is the final dispatchState; default DONE.
	State                                     string
	Failed, Zombie, Finalized, EventTruncated bool
	// Messages go in the job status; MessagesAsDict renders them as
	// {"error":["..."]} instead of [{"type","text"}].
	Messages       []Message
	MessagesAsDict bool
	// StringFlags renders flags as "1"/"0" and counts as strings.
	StringFlags bool
	// ResultMessages go in every /results envelope (and the export stream).
	ResultMessages []Message
	// CountDelta is added to the resultCount the status reports.
	CountDelta int
	// DropRows silently leaves the last rows out of /results.
	DropRows int
	// EmptyResults answers /results with 200 and an empty body.
	EmptyResults bool
	// ResultsNotReady answers /results 204 this many times after DONE.
	ResultsNotReady int
	// ExpireBeforeResults drops the job (404 Unknown sid) when its results
	// are first asked for, as Splunk does once a job's ttl runs out.
	ExpireBeforeResults bool
	// ExportEmpty answers an export with 200 and an empty body, Splunk's
	// answer to a runtime error; ExportCutAfter ends the stream after that
	// many rows; ExportPreview streams a preview set first.
	ExportEmpty    bool
	ExportCutAfter int
	ExportPreview  bool
}

// PlanJobs queues plans for the next dispatches and exports, in order;
// when the queue is empty a job follows Options.Plan.
func (s *Server) PlanJobs(plans ...JobPlan) {
	s.mu.Lock()
	s.plans = append(s.plans, plans...)
	s.mu.Unlock()
}

type job struct {
	sid      string
	spl      string
	plan     JobPlan
	polls    int
	rows     []Event
	gen      *generator
	total    int // rows the job holds, after max_count
	events   int // rows before max_count
	report   string
	notReady int
	ready    time.Time // dispatch + Latency
}

// done reports whether the job has reached its final state by now.
func (j *job) done(now time.Time) bool {
	return j.polls > j.plan.Queued+j.plan.Running && !now.Before(j.ready)
}

func (j *job) row(i int) Event {
	if j.gen != nil {
		return j.gen.gen(i)
	}
	return j.rows[i]
}

// search evaluates a dispatch's SPL and time parameters into rows.
func (s *Server) search(form url.Values) (rows []Event, gen *generator, status int, msg string) {
	spl := form.Get("search")
	if m := checkSPL(spl); m != "" {
		return nil, nil, http.StatusBadRequest, m
	}
	clock := s.opts.Now()
	now := clock
	if v := form.Get("now"); v != "" {
		t, _, err := parseTime(v, clock)
		if err != nil {
			return nil, nil, http.StatusBadRequest, err.Error()
		}
		now = t
	}
	var b bounds
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"earliest_time", &b.earliest}, {"latest_time", &b.latest}, {"index_earliest", &b.indexEarliest}, {"index_latest", &b.indexLatest}} {
		t, _, err := parseTime(form.Get(p.name), now)
		if err != nil {
			return nil, nil, http.StatusBadRequest, p.name + ": " + err.Error()
		}
		*p.dst = t
	}
	if name, ok := inputlookup(spl); ok {
		table, ok := s.opts.LookupRows[name]
		if !ok {
			return nil, nil, http.StatusBadRequest, fmt.Sprintf("Error in 'inputlookup' command: The lookup table '%s' does not exist or is not available.", name)
		}
		for _, r := range table {
			e := Event{Time: now, Fields: map[string][]string{}}
			for k, v := range r {
				e.Fields[k] = []string{v}
			}
			rows = append(rows, e)
		}
		return rows, nil, 0, ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != nil {
		return nil, s.gen, 0, ""
	}
	ts := terms(spl)
	for _, e := range s.events {
		if e.indexTime().After(clock) || !b.contains(e) {
			continue // not indexed yet, or outside the window
		}
		if s.opts.Match != nil {
			if !s.opts.Match(spl, e) {
				continue
			}
		} else if !matchTerms(ts, e) {
			continue
		}
		rows = append(rows, e)
	}
	// Event searches return newest first.
	sort.SliceStable(rows, func(i, k int) bool { return rows[i].Time.After(rows[k].Time) })
	return rows, nil, 0, ""
}

func (s *Server) nextPlan() JobPlan {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.plans) > 0 {
		p := s.plans[0]
		s.plans = s.plans[1:]
		return p
	}
	return s.opts.Plan
}

// dispatch implements POST search/jobs.
func (s *Server) dispatch(a *answer, r *http.Request) {
	form := r.Form // splunkd reads parameters from the query string too
	rows, gen, status, msg := s.search(form)
	if status != 0 {
		a.messages(status, "FATAL", msg)
		return
	}
	maxCount := 10000 // the REST default: a client that does not set it is capped here
	if v := form.Get("max_count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			a.messages(http.StatusBadRequest, "FATAL", "Invalid max_count")
			return
		}
		maxCount = n
	}
	events := len(rows)
	if gen != nil {
		events = gen.n
	}
	if form.Get("exec_mode") == "oneshot" {
		j := &job{spl: form.Get("search"), rows: rows, gen: gen, total: min(events, maxCount), events: events}
		s.writeResults(a, j, r.Form)
		return
	}
	s.mu.Lock()
	if s.opts.MaxJobs > 0 && s.inFlight >= s.opts.MaxJobs {
		s.mu.Unlock()
		a.messages(http.StatusServiceUnavailable, "WARN", QuotaText)
		return
	}
	s.seq++
	sid := fmt.Sprintf("%d.%d", s.opts.Now().Unix(), s.seq)
	s.mu.Unlock()
	j := &job{
		sid: sid, spl: form.Get("search"), plan: s.nextPlan(), rows: rows, gen: gen,
		total: min(events, maxCount), events: events, report: reportSearch(form.Get("search")),
	}
	j.ready = s.opts.Now().Add(j.plan.Latency)
	if form.Get("exec_mode") == "blocking" {
		j.polls = j.plan.Queued + j.plan.Running + 1
		if !waitLatency(r, j.plan.Latency) {
			return
		}
		j.ready = time.Time{}
	}
	s.mu.Lock()
	s.jobs[sid] = j
	s.sids = append(s.sids, sid)
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	s.mu.Unlock()
	if a.json {
		a.jsonBody(http.StatusCreated, map[string]string{"sid": sid})
		return
	}
	a.xmlBody(http.StatusCreated, "<?xml version='1.0' encoding='UTF-8'?>\n<response>\n  <sid>"+sid+"</sid>\n</response>\n")
}

func (s *Server) lookup(sid string) *job {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jobs[sid]
}

// drop removes a job; deletedByClient records a DELETE.
func (s *Server) drop(sid string, deletedByClient bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.jobs[sid]; !ok {
		return false
	}
	delete(s.jobs, sid)
	s.inFlight--
	if deletedByClient {
		s.deleted[sid] = true
	}
	return true
}

// deleteJob implements DELETE search/jobs/{sid}.
func (s *Server) deleteJob(a *answer, sid string) {
	if !s.drop(sid, true) {
		a.messages(http.StatusNotFound, "FATAL", "Unknown sid.")
		return
	}
	a.messages(http.StatusOK, "INFO", "Search job cancelled.")
}

// results implements GET search/jobs/{sid}/results.
func (s *Server) results(a *answer, r *http.Request, sid string) {
	j := s.lookup(sid)
	if j == nil {
		a.messages(http.StatusNotFound, "FATAL", "Unknown sid.")
		return
	}
	s.mu.Lock()
	done := j.done(s.opts.Now())
	expire := j.plan.ExpireBeforeResults
	notReady := done && j.notReady < j.plan.ResultsNotReady
	if notReady {
		j.notReady++
	}
	s.mu.Unlock()
	switch {
	case expire:
		s.drop(sid, false)
		a.messages(http.StatusNotFound, "FATAL", "Unknown sid.")
	case !done || notReady:
		a.noContent()
	case j.plan.EmptyResults:
		a.w.WriteHeader(http.StatusOK)
	default:
		s.writeResults(a, j, r.Form)
	}
}

// waitLatency waits d (real time) or until the request ends.
func waitLatency(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}
