package splunktest

import (
	"bufio"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// messageLine is an export line carrying messages instead of a result.
type messageLine struct {
	Preview  bool      `json:"preview"`
	Messages []Message `json:"messages"`
}

// export implements search/jobs/export with output_mode=json: one JSON
// object per line, final rows preview:false, the last flagged lastrow. A
// parse error is a 400 FATAL; a plan's ExportEmpty is Splunk's 200 with an
// empty body for a runtime error. A trailing "appendpipe [stats count AS
// name]" adds a last row {name: count}.
func (s *Server) export(a *answer, r *http.Request) {
	form := r.Form
	rows, gen, status, msg := s.search(form)
	if status != 0 {
		a.messages(status, "FATAL", msg)
		return
	}
	s.mu.Lock()
	if s.opts.MaxJobs > 0 && s.inFlight >= s.opts.MaxJobs {
		s.mu.Unlock()
		a.messages(http.StatusServiceUnavailable, "WARN", QuotaText)
		return
	}
	s.mu.Unlock()
	s.enter()
	defer s.leave()
	plan := s.nextPlan()
	if !s.waitHold(r, plan.Hold) || !waitLatency(r, plan.Latency) {
		return
	}
	n := len(rows)
	if gen != nil {
		n = gen.n
	}
	j := &job{spl: form.Get("search"), plan: plan, rows: rows, gen: gen, total: n, events: n}
	if !a.json {
		s.writeXMLResults(a, j, 0, n)
		return
	}
	a.w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	a.w.WriteHeader(http.StatusOK)
	if plan.ExportEmpty {
		_, _ = a.w.Write([]byte("\n"))
		return
	}
	bw := bufio.NewWriterSize(a.w, 64<<10)
	defer bw.Flush()
	enc := &rowEncoder{zone: s.opts.Zone}
	line := func(preview, lastRow bool, offset int, result []byte) {
		bw.WriteString(`{"preview":`)
		bw.WriteString(strconv.FormatBool(preview))
		bw.WriteString(`,"offset":`)
		bw.WriteString(strconv.Itoa(offset))
		if lastRow {
			bw.WriteString(`,"lastrow":true`)
		}
		bw.WriteString(`,"result":`)
		bw.Write(result)
		bw.WriteString("}\n")
	}
	if plan.ExportPreview && n > 0 {
		for i := range min(n, 2) {
			line(true, i == min(n, 2)-1, i, enc.row(j.row(i)))
		}
	}
	field := countField(j.spl)
	last := n - 1
	if field != "" {
		last = n
	}
	for i := range n {
		if plan.ExportCutAfter > 0 && i >= plan.ExportCutAfter {
			return
		}
		line(false, i == last, i, enc.row(j.row(i)))
		if i%1000 == 999 {
			bw.Flush()
			a.w.Flush()
		}
	}
	if len(plan.ResultMessages) > 0 {
		_ = json.NewEncoder(bw).Encode(messageLine{Messages: plan.ResultMessages})
	}
	if field != "" {
		row := appendString([]byte("{"), field)
		row = appendString(append(row, ':'), strconv.Itoa(n))
		line(false, true, n, append(row, '}'))
	}
}

// parser implements GET search/parser: 400 FATAL for what splunkd could not
// parse, 200 with the commands otherwise.
func (s *Server) parser(a *answer, r *http.Request) {
	q := r.Form.Get("q")
	if q == "" {
		a.messages(http.StatusBadRequest, "ERROR", "Missing argument: q")
		return
	}
	if m := checkSPL(q); m != "" {
		a.messages(http.StatusBadRequest, "FATAL", m)
		return
	}
	var cmds []map[string]string
	for _, p := range splitPipes(q) {
		cmds = append(cmds, map[string]string{"command": commandName.FindString(strings.TrimSpace(p)), "rawargs": strings.TrimSpace(p)})
	}
	if a.json {
		a.jsonBody(http.StatusOK, map[string]any{"commands": cmds, "remoteSearch": q})
		return
	}
	a.xmlBody(http.StatusOK, "<response><remoteSearch>"+xmlEscape(q)+"</remoteSearch></response>\n")
}

// serverInfo answers GET server/info as splunkd does: one entry whose
// content holds the version and the server's name.
func (s *Server) serverInfo(a *answer) {
	content := map[string]any{"version": "9.3.2", "serverName": "splunk-fake", "instance_type": "", "build": "fake"}
	if a.json {
		a.jsonBody(http.StatusOK, map[string]any{"entry": []map[string]any{{"name": "server-info", "content": content}}})
		return
	}
	a.xmlBody(http.StatusOK, "<feed><entry><title>server-info</title></entry></feed>\n")
}

// lookupDefinition answers GET data/transforms/lookups/{name}: the definition's entry
// when it exists, Splunk's 404 otherwise.
func (s *Server) lookupDefinition(a *answer, name string) {
	if _, filled := s.opts.LookupRows[name]; filled || slices.Contains(s.opts.Lookups, name) {
		a.jsonBody(http.StatusOK, map[string]any{"entry": []map[string]any{{"name": name,
			"content": map[string]any{"filename": name + ".csv", "type": "file"}}}})
		return
	}
	a.messages(http.StatusNotFound, "ERROR", "Could not find object id="+name)
}
