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

	"github.com/patrolsec/patrol/poller"
)

// maxNotReady bounds how often /results may answer 204 after the job said
// it was done before the search gives up.
const maxNotReady = 10

// emitError marks an error returned by the caller's emit, which Search
// hands back untouched.
type emitError struct{ err error }

func (e emitError) Error() string { return e.err.Error() }

// results pages through a done job's results, offset by the rows actually
// received (Splunk may return fewer than asked, e.g. under a lower
// maxresultrows), until total, the job's resultCount. Each page is decoded
// as it streams in and each row handed to emit at once, so memory does not
// depend on the result count. Rows that do not add up to total are an error.
func (s *Searcher) results(ctx context.Context, sid string, total int, emit func(poller.Result) error) error {
	offset, notReady := 0, 0
	for offset < total {
		n, ready, err := s.page(ctx, sid, offset, total, emit)
		if err != nil {
			var ee emitError
			if errors.As(err, &ee) {
				return ee.err
			}
			return err
		}
		if !ready {
			notReady++
			if notReady > maxNotReady {
				return jobError("results", sid, fmt.Sprintf("results still not ready after the job was done (%d tries)", notReady), nil, true)
			}
			if err := s.sleep(ctx, s.pollInterval); err != nil {
				return netError("results", sid, err)
			}
			continue
		}
		if n == 0 {
			return jobError("results", sid, fmt.Sprintf("results ended at %d of the %d the job reported", offset, total), nil, true)
		}
		offset += n
	}
	return nil
}

// page fetches and emits the rows from offset; ready is false on 204.
func (s *Searcher) page(ctx context.Context, sid string, offset, total int, emit func(poller.Result) error) (int, bool, error) {
	// On the last page ask for one row more than the job reported: a row
	// that comes back anyway shows resultCount was short.
	count := min(s.pageSize, total-offset+1)
	resp, err := s.send(ctx, call{
		op: "results", sid: sid, method: http.MethodGet,
		path:  "search/jobs/" + url.PathEscape(sid) + "/results",
		query: url.Values{"count": {strconv.Itoa(count)}, "offset": {strconv.Itoa(offset)}},
	})
	if err != nil {
		var se *Error
		if errors.As(err, &se) && se.Status == http.StatusNotFound {
			se.Reason = "job is gone (expired, cancelled or deleted) before its results were read"
			se.retryable = true
		}
		return 0, false, err
	}
	defer drain(resp)
	if resp.StatusCode == http.StatusNoContent {
		return 0, false, nil
	}
	n, err := decodeResults(resp.Body, offset, total, emit)
	if err != nil {
		var ee emitError
		if errors.As(err, &ee) {
			return n, true, err
		}
		var se *Error
		if !errors.As(err, &se) {
			se = &Error{Err: err, Reason: "unreadable results", retryable: true}
		}
		se.Op, se.SID, se.Status = "results", sid, resp.StatusCode
		return n, true, se
	}
	return n, true, nil
}

// decodeResults streams one /results envelope:
//
//	{"preview":false,"init_offset":0,"messages":[...],"fields":[...],"results":[{...},...],"highlighted":{}}
//
// emitting each row as it is decoded. It fails on an empty body, a preview
// envelope, an init_offset other than offset, ERROR or FATAL messages, more
// rows than total, or an envelope with no results key at all.
func decodeResults(r io.Reader, offset, total int, emit func(poller.Result) error) (int, error) {
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	if err == io.EOF {
		return 0, &Error{Reason: fmt.Sprintf("empty answer where results from %d of %d were expected", offset, total), retryable: true}
	}
	if err != nil {
		return 0, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return 0, fmt.Errorf("results: want a JSON object, got %v", tok)
	}
	n, sawResults := 0, false
	var raw json.RawMessage // reused: Decode appends into its buffer
	rows := newRowParser()
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return n, err
		}
		key, _ := tok.(string)
		switch key {
		case "results":
			sawResults = true
			if err := expectDelim(dec, '['); err != nil {
				return n, err
			}
			for dec.More() {
				if offset+n >= total {
					return n, &Error{Reason: fmt.Sprintf("more results than the %d the job reported", total), retryable: true}
				}
				if err := dec.Decode(&raw); err != nil {
					return n, fmt.Errorf("result %d: %w", offset+n, err)
				}
				res, err := rows.parse(raw)
				if err != nil {
					return n, fmt.Errorf("result %d: %w", offset+n, err)
				}
				n++
				if err := emit(res); err != nil {
					return n, emitError{err}
				}
			}
			if err := expectDelim(dec, ']'); err != nil {
				return n, err
			}
		case "messages":
			var ms messages
			if err := dec.Decode(&ms); err != nil {
				return n, fmt.Errorf("messages: %w", err)
			}
			if f := ms.failures(); len(f) > 0 {
				return n, &Error{Reason: "results carry errors", Messages: f}
			}
			if inc := ms.incomplete(); len(inc) > 0 {
				return n, &Error{Reason: "results may be incomplete", Messages: inc, retryable: true}
			}
		case "preview":
			var p flexBool
			if err := dec.Decode(&p); err != nil {
				return n, fmt.Errorf("preview: %w", err)
			}
			if p {
				return n, &Error{Reason: "got preview results from a finished job", retryable: true}
			}
		case "init_offset":
			var o flexInt
			if err := dec.Decode(&o); err != nil {
				return n, fmt.Errorf("init_offset: %w", err)
			}
			if int(o) != offset {
				return n, &Error{Reason: fmt.Sprintf("asked for results from offset %d, got them from %d", offset, o), retryable: true}
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return n, fmt.Errorf("%s: %w", key, err)
			}
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return n, err
	}
	if !sawResults {
		return n, &Error{Reason: "answer has no results list", retryable: true}
	}
	return n, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("want %q, got %v", want, tok)
	}
	return nil
}
