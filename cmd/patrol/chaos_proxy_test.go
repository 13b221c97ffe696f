package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// killPoint is where the chaos test kills patrol (SIGKILL) in one run: at
// the nth request of a class, before it reaches the service or after the
// service handled it and before patrol gets the answer; or, for the class
// "time", after a delay.
type killPoint struct {
	class string
	nth   int
	after bool
	delay time.Duration
}

func (p killPoint) String() string {
	if p.class == "time" {
		return "after " + p.delay.Round(time.Millisecond).String()
	}
	when := "before"
	if p.after {
		when = "after"
	}
	return when + " " + p.class + " #" + strconv.Itoa(p.nth)
}

// killer kills the patrol process of the current run at its kill point.
type killer struct {
	mu     sync.Mutex
	proc   *os.Process
	point  *killPoint
	counts map[string]int
	fired  bool
}

// arm sets the run's process and kill point (nil: none), and returns the
// requests of each class the previous run sent.
func (k *killer) arm(proc *os.Process, p *killPoint) map[string]int {
	k.mu.Lock()
	defer k.mu.Unlock()
	prev := k.counts
	k.proc, k.point, k.counts, k.fired = proc, p, map[string]int{}, false
	if p != nil && p.class == "time" {
		time.AfterFunc(p.delay, func() { k.fire(proc) })
	}
	return prev
}

// at counts a request of class and reports whether patrol dies at it, and
// whether after the service handled it.
func (k *killer) at(class string) (bool, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.counts[class]++
	if k.point == nil || k.fired || k.point.class != class || k.counts[class] != k.point.nth {
		return false, false
	}
	return true, k.point.after
}

// fire kills proc if it is still the current run's, once.
func (k *killer) fire(proc *os.Process) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.proc != proc || k.fired || proc == nil {
		return
	}
	k.fired = true
	proc.Kill() // SIGKILL
}

func (k *killer) killed() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.fired
}

func (k *killer) current() *os.Process {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.proc
}

// chaosProxy forwards patrol's requests to a service (a fake, moto) and
// kills patrol where the killer says. For AWS it counts the write calls
// that reach the service, per action and target.
type chaosProxy struct {
	URL      string
	classify func(r *http.Request, body []byte) (class, write string)
	k        *killer
	proxy    *httputil.ReverseProxy

	mu     sync.Mutex
	writes map[string]int
}

func newChaosProxy(t *testing.T, target string, k *killer, classify func(*http.Request, []byte) (string, string)) *chaosProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &chaosProxy{classify: classify, k: k, proxy: httputil.NewSingleHostReverseProxy(u), writes: map[string]int{}}
	p.proxy.ErrorLog = log.New(io.Discard, "", 0) // patrol killed mid-request is the point
	srv := httptest.NewServer(p)                  // 127.0.0.1
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

func (p *chaosProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	class, write := p.classify(r, body)
	proc := p.k.current()
	fire, after := p.k.at(class)
	if fire && !after {
		p.die(r, proc) // the request never reaches the service
		return
	}
	if write != "" {
		p.mu.Lock()
		p.writes[write]++
		p.mu.Unlock()
	}
	if fire {
		p.proxy.ServeHTTP(httptest.NewRecorder(), r) // the service applies it
		p.die(r, proc)                               // the answer never arrives
		return
	}
	p.proxy.ServeHTTP(w, r)
}

// die kills patrol and holds the request until its connection closes.
func (p *chaosProxy) die(r *http.Request, proc *os.Process) {
	p.k.fire(proc)
	select {
	case <-r.Context().Done():
	case <-time.After(30 * time.Second):
	}
}

// doubles lists the write calls that reached the service more than once.
func (p *chaosProxy) doubles() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for k, n := range p.writes {
		if n > 1 {
			out[k] = n
		}
	}
	return out
}

func (p *chaosProxy) writeCount(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.writes[key]
}

// jiraClass classifies Jira REST calls.
func jiraClass(r *http.Request, _ []byte) (string, string) {
	path := r.URL.Path
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(path, "/issue"):
		return "jira create", ""
	case r.Method == http.MethodPost && strings.HasSuffix(path, "/comment"):
		return "jira comment", ""
	case r.Method == http.MethodPost && strings.HasSuffix(path, "/transitions"):
		return "jira transition", ""
	case strings.HasSuffix(path, "/changelog"):
		return "jira approval read", ""
	}
	return "jira read", ""
}

// slackClass classifies Slack Web API calls.
func slackClass(r *http.Request, _ []byte) (string, string) {
	if strings.HasSuffix(r.URL.Path, "/chat.postMessage") || strings.HasSuffix(r.URL.Path, "/chat.update") {
		return "slack post", ""
	}
	return "slack read", ""
}

// awsWrites are the AWS calls that change something, with the request
// field that names their target.
var awsWrites = map[string]string{"StartLogging": "Name", "UpdateAccessKey": "AccessKeyId"}

// awsClass classifies AWS calls by operation: the query protocol's Action
// (IAM, STS), the JSON protocol's X-Amz-Target (CloudTrail). A write
// returns "Operation target" as its key.
func awsClass(r *http.Request, body []byte) (string, string) {
	op, fields := "", map[string]string{}
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		op = target[strings.LastIndex(target, ".")+1:]
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		for k, v := range m {
			if s, ok := v.(string); ok {
				fields[k] = s
			}
		}
	} else if q, err := url.ParseQuery(string(body)); err == nil {
		op = q.Get("Action")
		for k := range q {
			fields[k] = q.Get(k)
		}
	}
	if name, ok := awsWrites[op]; ok {
		return "aws write", op + " " + fields[name]
	}
	return "aws read", ""
}
