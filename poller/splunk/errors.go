package splunk

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/patrolsec/patrol/poller"
)

// Message is one entry of a Splunk "messages" list: a severity (DEBUG, INFO,
// WARN, ERROR, FATAL) and its text.
type Message struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// failing reports whether the message says the search failed or its
// results are incomplete.
func (m Message) failing() bool {
	t := strings.ToUpper(m.Type)
	return t == "ERROR" || t == "FATAL"
}

// messages decodes both shapes Splunk uses: a list of {type,text} (JSON
// output) and a dict keyed by lowercase severity holding lists of text (the
// job status of some versions, mirroring its XML form).
type messages []Message

func (ms *messages) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || bytes.Equal(b, []byte("null")):
		*ms = nil
		return nil
	case b[0] == '[':
		var list []Message
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
		*ms = list
		return nil
	case b[0] == '{':
		var dict map[string]json.RawMessage
		if err := json.Unmarshal(b, &dict); err != nil {
			return err
		}
		var out []Message
		for sev, raw := range dict {
			var texts []string
			if err := json.Unmarshal(raw, &texts); err != nil {
				var one string
				if err := json.Unmarshal(raw, &one); err != nil {
					return fmt.Errorf("messages[%s]: %w", sev, err)
				}
				texts = []string{one}
			}
			for _, t := range texts {
				out = append(out, Message{Type: strings.ToUpper(sev), Text: t})
			}
		}
		*ms = out
		return nil
	}
	return fmt.Errorf("messages: unexpected JSON %.20q", b)
}

// IncompleteTexts are fragments (matched case-insensitively, at any
// severity: Splunk reports them as WARN or INFO and still calls the job
// DONE) of the messages that say a search's results may lack events: a
// search peer down, unreachable or timed out, or its search process ended
// early. A job or result page carrying one fails the window instead of
// moving its checkpoint.
var IncompleteTexts = []string{
	"might be incomplete",          // "Search results might be incomplete: ..."; "Timed out waiting for peer X. Search results might be incomplete!"
	"may be incomplete",            // "... results may be incomplete"
	"peers are down",               // "The following search peers are down: ..."
	"unable to distribute to peer", // "Unable to distribute to peer named X at uri Y because peer has status = "Down"."
	"timed out waiting for peer",
	"error connecting to peer",
	"reading error while waiting for peer",
	"ended prematurely",                   // "the search process on the peer:X ended prematurely"
	"search process did not exit cleanly", // "[X] Search process did not exit cleanly, exit_code=..."
	"partial results",
}

// incomplete reports whether the message says results may be missing.
func (m Message) incomplete() bool {
	t := strings.ToLower(m.Text)
	for _, frag := range IncompleteTexts {
		if strings.Contains(t, frag) {
			return true
		}
	}
	return false
}

// incomplete returns the messages that say results may be missing.
func (ms messages) incomplete() []Message {
	var out []Message
	for _, m := range ms {
		if m.incomplete() {
			out = append(out, m)
		}
	}
	return out
}

// failures returns the ERROR and FATAL messages.
func (ms messages) failures() []Message {
	var out []Message
	for _, m := range ms {
		if m.failing() {
			out = append(out, m)
		}
	}
	return out
}

// Error is a failure talking to Splunk or reported by it. Its Retryable
// says whether the same request may succeed later (5xx, 429, quota, network,
// an expired job); the detect job uses that to tell an outage from a broken
// detection.
type Error struct {
	Op       string // dispatch, status, results, export, delete, login, parse
	SID      string // the search job, when there is one
	Status   int    // HTTP status; 0 when the failure is not an HTTP answer
	Messages []Message
	// Reason says what was wrong when no HTTP status or message does
	// (a failed job state, truncation, a count that does not add up).
	Reason string
	// Quota marks Splunk refusing for its concurrent-search or disk quota.
	Quota bool
	// RetryAfter is the wait Splunk asked for, when it did.
	RetryAfter time.Duration
	Err        error
	retryable  bool
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("splunk ")
	switch {
	case e.SID == "":
		b.WriteString(e.Op)
	case e.Op == "job":
		b.WriteString("job " + e.SID)
	default:
		b.WriteString("job " + e.SID + " " + e.Op)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	for _, m := range e.Messages {
		fmt.Fprintf(&b, ": %s %s", m.Type, m.Text)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error (a context or network error).
func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether the failure may go away if tried again later.
func (e *Error) Retryable() bool { return e.retryable }

// httpError turns a non-2xx answer into an *Error, reading Splunk's messages
// (JSON or XML) from the body so their text reaches the person reading it.
func httpError(op, sid string, resp *http.Response, body []byte, now time.Time) *Error {
	e := &Error{Op: op, SID: sid, Status: resp.StatusCode, Reason: poller.RedirectError(resp)}
	e.Messages = parseErrorBody(body)
	text := strings.ToLower(joinTexts(e.Messages))
	e.Quota = strings.Contains(text, "quota") || strings.Contains(text, "concurrent")
	e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), now)
	switch {
	case e.Quota:
		e.retryable = true
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		e.retryable = true
	}
	return e
}

// parseErrorBody extracts messages from a JSON or XML error body, or keeps
// the start of the text when it is neither.
func parseErrorBody(body []byte) []Message {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	if body[0] == '{' {
		var env struct {
			Messages messages `json:"messages"`
			Text     string   `json:"text"`
		}
		if json.Unmarshal(body, &env) == nil {
			if len(env.Messages) > 0 {
				return env.Messages
			}
			if env.Text != "" {
				return []Message{{Type: "ERROR", Text: env.Text}}
			}
		}
	}
	if body[0] == '<' {
		if ms := xmlMessages(body); len(ms) > 0 {
			return ms
		}
	}
	const max = 300
	text := string(body)
	if len(text) > max {
		text = text[:max] + "…"
	}
	return []Message{{Type: "ERROR", Text: text}}
}

// xmlMessages pulls <msg type="...">text</msg> out of an XML error body; a
// full XML decoder is not worth it for this one element.
func xmlMessages(body []byte) []Message {
	var out []Message
	s := string(body)
	for {
		i := strings.Index(s, "<msg")
		if i < 0 {
			return out
		}
		s = s[i:]
		end := strings.Index(s, ">")
		closeTag := strings.Index(s, "</msg>")
		if end < 0 || closeTag < end {
			return out
		}
		typ := ""
		if j := strings.Index(s[:end], `type="`); j >= 0 {
			rest := s[j+len(`type="`) : end]
			if k := strings.Index(rest, `"`); k >= 0 {
				typ = rest[:k]
			}
		}
		out = append(out, Message{Type: typ, Text: strings.TrimSpace(xmlUnescape(s[end+1 : closeTag]))})
		s = s[closeTag+len("</msg>"):]
	}
}

var xmlEntities = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&quot;", `"`, "&apos;", "'", "&amp;", "&")

func xmlUnescape(s string) string { return xmlEntities.Replace(s) }

func joinTexts(ms []Message) string {
	texts := make([]string, len(ms))
	for i, m := range ms {
		texts[i] = m.Text
	}
	return strings.Join(texts, "; ")
}

// retryAfter reads a Retry-After header: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// jobError is a failure found in a job's state rather than in an HTTP answer.
func jobError(op, sid, reason string, ms []Message, retryable bool) *Error {
	return &Error{Op: op, SID: sid, Reason: reason, Messages: ms, retryable: retryable}
}

// netError wraps a transport failure (refused, reset, TLS, timeout). Context
// cancellation is not retryable: someone asked to stop.
// A certificate that does not verify will not verify on the next try either.
func netError(op, sid string, err error) *Error {
	var cert *tls.CertificateVerificationError
	retry := !errors.Is(err, context.Canceled) && !errors.As(err, &cert)
	return &Error{Op: op, SID: sid, Err: err, retryable: retry}
}

// withoutQuery drops the query from the URL a transport error quotes: a
// GET's query holds the whole search (search/parser), kilobytes of
// URL-encoded SPL that would bury the cause.
func withoutQuery(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if base, _, found := strings.Cut(ue.URL, "?"); found {
			ue.URL = base + "?…"
		}
	}
	return err
}
