package slackfake

// Interactivity as Slack documents it (api.slack.com/interactivity/handling,
// reference/interaction-payloads/block-actions-payload): pressing a button
// sends a block_actions payload (who, the container message, the action
// with its action_id, block_id and value, a response_url) in an
// "interactive" envelope. A POST of JSON to the response_url answers the
// person: "response_type":"ephemeral" shows it to them alone;
// "replace_original":true replaces the message. A response_url takes up to
// 5 answers within 30 minutes.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Press is a person pressing a button of a message the fake holds.
type Press struct {
	Channel, TS string // the message: channel ID and ts
	ActionID    string // the button's action_id
	User        string // the person's user id (U…)
	UserName    string
	// Value replaces the button's value in the payload (a tampered or
	// stale click); "" sends the button's own.
	Value string
}

// Ephemeral is an answer posted to a response_url.
type Ephemeral struct {
	URL             string
	Text            string
	ResponseType    string
	ReplaceOriginal bool
}

type responseURL struct {
	channel, ts string
	uses        int
	issued      time.Time
}

// PressButton sends the interactive envelope Slack sends when p.User
// presses the button; it fails when the message has no such button.
func (s *Server) PressButton(p Press) (string, error) {
	s.mu.Lock()
	m := s.find(p.Channel, p.TS)
	if m == nil {
		s.mu.Unlock()
		return "", fmt.Errorf("slackfake: no message %s:%s", p.Channel, p.TS)
	}
	var blocks []map[string]any
	_ = json.Unmarshal(m.Blocks, &blocks)
	var action map[string]any
	for _, b := range blocks {
		if b["type"] != "actions" {
			continue
		}
		els, _ := b["elements"].([]any)
		for _, e := range els {
			if el, ok := e.(map[string]any); ok && el["action_id"] == p.ActionID {
				action = map[string]any{"action_id": el["action_id"], "block_id": b["block_id"], "text": el["text"],
					"value": el["value"], "style": el["style"], "type": el["type"]}
			}
		}
	}
	if action == nil {
		s.mu.Unlock()
		return "", fmt.Errorf("slackfake: message %s:%s has no button %q", p.Channel, p.TS, p.ActionID)
	}
	if p.Value != "" {
		action["value"] = p.Value
	}
	now := s.opts.Now()
	action["action_ts"] = fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000)
	s.seq++
	path := fmt.Sprintf("/actions/%s/%d/%s", s.opts.TeamID, s.seq, newID())
	s.responseURLs[path] = &responseURL{channel: m.Channel, ts: m.TS, issued: now}
	name := s.channelName(m.Channel)
	payload := map[string]any{
		"type":                  "block_actions",
		"user":                  map[string]any{"id": p.User, "username": p.UserName, "name": p.UserName, "team_id": s.opts.TeamID},
		"api_app_id":            s.opts.AppID,
		"token":                 "fake-verification-token",
		"container":             map[string]any{"type": "message", "message_ts": m.TS, "channel_id": m.Channel, "is_ephemeral": false},
		"trigger_id":            fmt.Sprintf("%d.%d.%s", now.Unix(), s.seq, newID()),
		"team":                  map[string]any{"id": s.opts.TeamID, "domain": "patrol-test"},
		"enterprise":            nil,
		"is_enterprise_install": false,
		"channel":               map[string]any{"id": m.Channel, "name": name},
		"message": map[string]any{"type": "message", "subtype": "bot_message", "user": "U0PATROL", "bot_id": "B0PATROL",
			"ts": m.TS, "thread_ts": m.ThreadTS, "text": m.Text, "blocks": json.RawMessage(m.Blocks)},
		"state":        map[string]any{"values": map[string]any{}},
		"response_url": s.srv.URL + path,
		"actions":      []any{action},
	}
	s.mu.Unlock()
	raw, err := json.Marshal(payload)
	if err != nil {
		return "", err
	}
	return s.Send(Envelope{Type: "interactive", Payload: raw})
}

func (s *Server) channelName(id string) string {
	for name, cid := range s.opts.Channels {
		if cid == id {
			return strings.TrimPrefix(name, "#")
		}
	}
	return ""
}

// answer takes a POST to a response_url.
func (s *Server) answer(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ru := s.responseURLs[r.URL.Path]
	if r.Method != http.MethodPost || ru == nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if ru.uses >= 5 || s.opts.Now().Sub(ru.issued) > 30*time.Minute {
		w.WriteHeader(http.StatusNotFound)
		reply(w, map[string]any{"ok": false, "error": "expired_url"})
		return
	}
	var msg struct {
		Text            string          `json:"text"`
		Blocks          json.RawMessage `json:"blocks"`
		ResponseType    string          `json:"response_type"`
		ReplaceOriginal bool            `json:"replace_original"`
	}
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &msg); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		reply(w, map[string]any{"ok": false, "error": "invalid_payload"})
		return
	}
	ru.uses++
	s.ephemerals = append(s.ephemerals, Ephemeral{URL: r.URL.Path, Text: msg.Text, ResponseType: msg.ResponseType, ReplaceOriginal: msg.ReplaceOriginal})
	if msg.ReplaceOriginal {
		if m := s.find(ru.channel, ru.ts); m != nil {
			m.Text, m.Blocks = msg.Text, msg.Blocks
			m.Updates++
		}
	}
	reply(w, map[string]any{"ok": true})
}

// Ephemerals returns the answers posted to response_urls.
func (s *Server) Ephemerals() []Ephemeral {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Ephemeral(nil), s.ephemerals...)
}
