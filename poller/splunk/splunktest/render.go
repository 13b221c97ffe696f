package splunktest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// status implements GET search/jobs/{sid}: 204 while the plan keeps the job
// QUEUED/PARSING, then an entry whose dispatchState moves RUNNING → final.
func (s *Server) status(a *answer, r *http.Request, sid string) {
	j := s.lookup(sid)
	if j == nil {
		a.messages(http.StatusNotFound, "FATAL", "Unknown sid.")
		return
	}
	if !s.waitHold(r, j.plan.Hold) {
		return
	}
	s.mu.Lock()
	j.polls++
	polls, done := j.polls, j.done(s.opts.Now())
	s.mu.Unlock()
	if polls <= j.plan.Queued {
		a.noContent()
		return
	}
	state, reported, progress := "RUNNING", j.total/2, 0.42
	if done {
		state, reported, progress = "DONE", j.total+j.plan.CountDelta, 1.0
		if j.plan.State != "" {
			state = j.plan.State
		}
	}
	finished := done && (state == "DONE" || state == "FAILED")
	flag := func(b bool) any {
		if j.plan.StringFlags {
			if b {
				return "1"
			}
			return "0"
		}
		return b
	}
	num := func(n int) any {
		if j.plan.StringFlags {
			return strconv.Itoa(n)
		}
		return n
	}
	// A plan's messages appear with its final state, so a test sees the
	// state and the messages together.
	var planned []Message
	if done {
		planned = j.plan.Messages
	}
	var msgs any = planned
	if j.plan.MessagesAsDict {
		dict := map[string][]string{}
		for _, m := range planned {
			k := strings.ToLower(m.Type)
			dict[k] = append(dict[k], m.Text)
		}
		msgs = dict
	} else if planned == nil {
		msgs = []Message{}
	}
	content := map[string]any{
		"sid": sid, "dispatchState": state, "doneProgress": progress,
		"isDone": flag(finished), "isFailed": flag(done && (j.plan.Failed || state == "FAILED")),
		"isZombie": flag(done && j.plan.Zombie), "isFinalized": flag(done && j.plan.Finalized),
		"isPaused": flag(false), "isSaved": flag(false), "isRealTimeSearch": flag(false),
		"eventIsTruncated": flag(done && j.plan.EventTruncated), "eventIsStreaming": flag(true),
		"resultCount": num(reported), "eventCount": num(j.events), "eventAvailableCount": num(j.total), "scanCount": num(j.total),
		"reportSearch": j.report, "eventSearch": j.spl, "messages": msgs,
		"ttl": 600, "defaultTTL": "600", "sampleRatio": "1", "pid": "9663", "priority": 5,
		"request":    map[string]string{"search": j.spl},
		"runtime":    map[string]string{"auto_cancel": "0", "auto_pause": "0"},
		"cursorTime": "1970-01-01T00:00:00.000+00:00", "runDuration": 0.242112944,
	}
	if !a.json {
		var b strings.Builder
		b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<entry xmlns=\"http://www.w3.org/2005/Atom\" xmlns:s=\"http://dev.splunk.com/ns/rest\">\n")
		b.WriteString("  <title>" + xmlEscape(j.spl) + "</title>\n  <content type=\"text/xml\">\n    <s:dict>\n")
		keys := make([]string, 0, len(content))
		for k := range content {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := content[k]
			if bv, ok := v.(bool); ok {
				v = map[bool]string{true: "1", false: "0"}[bv]
			}
			fmt.Fprintf(&b, "      <s:key name=%q>%s</s:key>\n", k, xmlEscape(fmt.Sprint(v)))
		}
		b.WriteString("    </s:dict>\n  </content>\n</entry>\n")
		a.xmlBody(http.StatusOK, b.String())
		return
	}
	base := "https://127.0.0.1:8089/services/search/jobs/" + sid
	a.jsonBody(http.StatusOK, map[string]any{
		"links": map[string]any{}, "origin": "https://127.0.0.1:8089/services/search/jobs",
		"updated":   "2024-05-01T12:00:00+00:00",
		"generator": map[string]string{"build": "fake", "version": "9.4.0"},
		"entry": []any{map[string]any{
			"name": j.spl, "id": base, "updated": "2024-05-01T12:00:00.000+00:00",
			"links":     map[string]string{"alternate": "/services/search/jobs/" + sid, "results": "/services/search/jobs/" + sid + "/results"},
			"published": "2024-05-01T12:00:00.000+00:00", "author": s.opts.Username,
			"content": content,
			"acl":     map[string]any{"owner": s.opts.Username, "app": "search", "sharing": "global", "ttl": "600"},
		}},
		"paging": map[string]int{"total": 1, "perPage": 0, "offset": 0},
	})
}

// pageWindow reads count and offset as /results does: count defaults to
// 100, 0 means all, and no call returns more than MaxResultRows.
func (s *Server) pageWindow(form url.Values) (offset, count int, err error) {
	count = 100
	if v := form.Get("count"); v != "" {
		if count, err = strconv.Atoi(v); err != nil || count < 0 {
			return 0, 0, fmt.Errorf("invalid count %q", v)
		}
	}
	if count == 0 || count > s.opts.MaxResultRows {
		count = s.opts.MaxResultRows
	}
	if v := form.Get("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			return 0, 0, fmt.Errorf("invalid offset %q", v)
		}
	}
	return offset, count, nil
}

// writeResults streams one /results envelope for rows [offset, offset+count)
// of the job, encoding each row straight to the connection.
func (s *Server) writeResults(a *answer, j *job, form url.Values) {
	offset, count, err := s.pageWindow(form)
	if err != nil {
		a.messages(http.StatusBadRequest, "FATAL", err.Error())
		return
	}
	end := min(offset+count, j.total-j.plan.DropRows)
	if !a.json {
		s.writeXMLResults(a, j, offset, end)
		return
	}
	a.w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	a.w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(a.w, 64<<10)
	defer bw.Flush()
	msgs, _ := json.Marshal(orEmpty(j.plan.ResultMessages))
	fmt.Fprintf(bw, `{"preview":false,"init_offset":%d,"messages":%s,"fields":[`, offset, msgs)
	for i, name := range s.fieldNames(j, offset, end) {
		if i > 0 {
			bw.WriteByte(',')
		}
		fmt.Fprintf(bw, `{"name":%q}`, name)
	}
	bw.WriteString(`],"results":[`)
	enc := &rowEncoder{zone: s.opts.Zone}
	for i := offset; i < end; i++ {
		if i > offset {
			bw.WriteByte(',')
		}
		bw.Write(enc.row(j.row(i)))
	}
	bw.WriteString(`],"highlighted":{}}`)
}

func orEmpty(ms []Message) []Message {
	if ms == nil {
		return []Message{}
	}
	return ms
}

// fieldNames lists the page's fields, sorted. Generated rows are taken to
// share the first row's fields, so the page is not built twice.
func (s *Server) fieldNames(j *job, from, to int) []string {
	set := map[string]bool{}
	if from < to {
		last := to
		if j.gen != nil {
			last = from + 1
		}
		for i := from; i < last; i++ {
			for k := range j.row(i).Fields {
				set[k] = true
			}
		}
		set["_time"], set["_indextime"] = true, true
	}
	names := make([]string, 0, len(set))
	for k := range set {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// render makes row i as a map, for the XML answers.
func (s *Server) render(j *job, i int) map[string]any {
	e := j.row(i)
	m := make(map[string]any, len(e.Fields)+2)
	for k, v := range e.Fields {
		switch len(v) {
		case 0:
		case 1:
			m[k] = v[0]
		default:
			m[k] = v
		}
	}
	m["_time"] = e.Time.In(s.opts.Zone).Format(timeLayout)
	m["_indextime"] = strconv.FormatInt(e.indexTime().Unix(), 10)
	return m
}

// writeXMLResults is /results without output_mode=json: splunkd's XML.
func (s *Server) writeXMLResults(a *answer, j *job, from, to int) {
	var b strings.Builder
	b.WriteString("<?xml version='1.0' encoding='UTF-8'?>\n<results preview='0'>\n")
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "<result offset='%d'>\n", i)
		for k, v := range s.render(j, i) {
			fmt.Fprintf(&b, "  <field k='%s'><value><text>%s</text></value></field>\n", xmlEscape(k), xmlEscape(fmt.Sprint(v)))
		}
		b.WriteString("</result>\n")
	}
	b.WriteString("</results>\n")
	a.xmlBody(http.StatusOK, b.String())
}

// waitHold blocks until hold is closed; false when the request ended first.
func (s *Server) waitHold(r *http.Request, hold <-chan struct{}) bool {
	if hold == nil {
		return true
	}
	s.mu.Lock()
	s.held++
	s.mu.Unlock()
	s.notify()
	defer func() {
		s.mu.Lock()
		s.held--
		s.mu.Unlock()
	}()
	select {
	case <-hold:
		return true
	case <-r.Context().Done():
		return false
	}
}
