package splunk

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/patrolsec/patrol/poller"
)

// rowCountField names the sentinel row an export appends. Export has no job
// to ask whether it failed: a runtime error (bad eval, missing lookup) ends
// the stream with HTTP 200 and an empty body, indistinguishable from "no
// results". So the search is sent with
//
//	| appendpipe [stats count AS __patrol_rows]
//
// which adds one last row holding the number of rows before it. A stream
// without that row, or whose count disagrees with the rows received, is an
// error.
const rowCountField = "__patrol_rows"

// exportLine is one NDJSON line of search/jobs/export?output_mode=json.
type exportLine struct {
	Preview  flexBool          `json:"preview"`
	Offset   *flexInt          `json:"offset"`
	Result   json.RawMessage   `json:"result"`
	Results  []json.RawMessage `json:"results"`
	Messages messages          `json:"messages"`
}

// runExport streams spl's results from search/jobs/export, emitting only
// final (preview:false) rows, read with a json.Decoder (lines can exceed
// bufio.Scanner's 64 KiB limit: a CloudTrail _raw easily does).
func (s *Searcher) runExport(ctx context.Context, detection, spl string, params url.Values, emit func(poller.Result) error) error {
	form := cloneValues(params)
	form.Set("search", spl+" | appendpipe [stats count AS "+rowCountField+"]")
	resp, err := s.send(ctx, call{op: "export", method: http.MethodPost, path: "search/jobs/export", form: form})
	if err != nil {
		return err
	}
	defer resp.Body.Close() // not drained: after an error the rest is not wanted
	s.log.Debug("splunk export streaming", "detection", detection)

	fail := func(reason string, ms []Message, retry bool, err error) error {
		return &Error{Op: "export", Status: resp.StatusCode, Reason: reason, Messages: ms, Err: err, retryable: retry}
	}
	dec := json.NewDecoder(resp.Body)
	n, counted := 0, -1
	rows := newRowParser()
	handle := func(raw json.RawMessage, offset *flexInt) error {
		if counted >= 0 {
			return fail("rows after the row count", nil, true, nil)
		}
		row, err := rows.parse(raw)
		if err != nil {
			return fail(fmt.Sprintf("row %d", n), nil, true, err)
		}
		if v, ok := row[rowCountField]; ok && len(row) == 1 {
			c, err := strconv.Atoi(row.Get(rowCountField))
			if err != nil || len(v) != 1 {
				return fail("unreadable row count "+strconv.Quote(row.Get(rowCountField)), nil, true, nil)
			}
			counted = c
			return nil
		}
		if offset != nil && int(*offset) != n {
			return fail(fmt.Sprintf("row %d arrived with offset %d", n, *offset), nil, true, nil)
		}
		n++
		return emit(row)
	}
	for {
		var line exportLine
		if err := dec.Decode(&line); err == io.EOF {
			break
		} else if err != nil {
			return fail(fmt.Sprintf("stream broke after %d rows", n), nil, true, err)
		}
		if f := line.Messages.failures(); len(f) > 0 {
			return fail("search reported errors", f, false, nil)
		}
		if inc := line.Messages.incomplete(); len(inc) > 0 {
			return fail("results may be incomplete", inc, true, nil)
		}
		if line.Preview {
			continue // a preview set of a reporting search: superseded later
		}
		if line.Result != nil {
			if err := handle(line.Result, line.Offset); err != nil {
				return err
			}
		}
		for _, row := range line.Results {
			if err := handle(row, nil); err != nil {
				return err
			}
		}
	}
	switch {
	case counted < 0:
		return fail(fmt.Sprintf("stream ended after %d rows without its row count: the search failed at runtime or was cut short", n), nil, false, nil)
	case counted != n:
		return fail(fmt.Sprintf("received %d rows but the search counted %d", n, counted), nil, true, nil)
	}
	return nil
}

// Parse asks Splunk to parse spl (GET search/parser, parse_only) without
// running it, in the configured namespace: for `patrol validate --remote`.
// spl is what a detection would send, macros already expanded. A syntax
// error comes back as an *Error whose Messages hold Splunk's text, e.g.
// "Unknown search command 'nosuchcmd'.".
func (s *Searcher) Parse(ctx context.Context, spl string) error {
	q, err := normalizeSPL(spl)
	if err != nil {
		return fmt.Errorf("splunk parse: %w", err)
	}
	if err := s.auth.load(); err != nil {
		return err
	}
	resp, err := s.send(ctx, call{op: "parse", method: http.MethodGet, path: "search/parser",
		query: url.Values{"q": {q}, "parse_only": {"true"}}})
	if err != nil {
		return err
	}
	drain(resp)
	return nil
}
