package slack

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/slack/slackfake"
)

type sleeper struct {
	mu     sync.Mutex
	sleeps []time.Duration
}

func (s *sleeper) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sleeps = append(s.sleeps, d)
	return ctx.Err()
}

func setup(t *testing.T, mod ...func(*Config)) (*Notifier, *slackfake.Server, *sleeper) {
	t.Helper()
	fake := slackfake.New(t, slackfake.Options{})
	t.Setenv("TEST_SLACK_TOKEN", "xoxb-test")
	cfg := Defaults()
	cfg.TokenEnv, cfg.Channel = "TEST_SLACK_TOKEN", "#security-alerts"
	cfg.APIURL = strings.TrimSuffix(fake.URL, "/") // New adds the slash slack-go needs
	cfg.AllowInsecureHTTP = true                   // the fake is plain HTTP on loopback
	for _, m := range mod {
		m(&cfg)
	}
	sl := &sleeper{}
	n, err := New(cfg, Options{Sleep: sl.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	return n, fake, sl
}

func note() poller.Notification {
	return poller.Notification{
		Ticket:    poller.Ticket{Key: "SEC-1", URL: "https://jira.example/browse/SEC-1", Summary: "CloudTrail StopLogging on main"},
		Detection: "cloudtrail-logging-stopped",
		Severity:  "critical",
		Status:    "open",
		Message: poller.Message{Title: "CloudTrail logging stopped", Sections: []poller.Section{
			{Fields: []poller.Field{{Name: "account", Value: "111122223333 (payments, owner alice)"}}},
		}},
	}
}

func TestThreadPerTicket(t *testing.T) {
	n, fake, _ := setup(t)
	ctx := context.Background()
	ref, err := n.Notify(ctx, note())
	if err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages()
	if len(msgs) != 2 || ref != msgs[0].Channel+":"+msgs[0].TS || msgs[0].Channel != "C0SECALERTS" {
		t.Fatalf("ref %q, messages %+v", ref, msgs)
	}
	if msgs[0].ThreadTS != "" || msgs[1].ThreadTS != msgs[0].TS {
		t.Errorf("details not in the card's thread: %+v", msgs)
	}
	if !strings.Contains(string(msgs[0].Blocks), "open") || !strings.Contains(string(msgs[1].Blocks), "owner alice") {
		t.Errorf("card %s\ndetails %s", msgs[0].Blocks, msgs[1].Blocks)
	}

	upd := note()
	upd.Thread, upd.Status = ref, "remediated"
	upd.Message = poller.Message{Title: "Remediated", Sections: []poller.Section{{Text: "StartLogging called; trail is logging."}}}
	got, err := n.Notify(ctx, upd)
	if err != nil || got != ref {
		t.Fatalf("update: ref %q err %v", got, err)
	}
	msgs = fake.Messages()
	if len(msgs) != 3 || msgs[2].ThreadTS != msgs[0].TS || !strings.Contains(string(msgs[2].Blocks), "trail is logging") {
		t.Fatalf("reply: %+v", msgs)
	}
	if msgs[0].Updates != 1 || !strings.Contains(string(msgs[0].Blocks), "remediated") || strings.Contains(string(msgs[0].Blocks), "`open`") {
		t.Errorf("parent not updated with the status: %d updates, %s", msgs[0].Updates, msgs[0].Blocks)
	}
	for _, c := range fake.Calls() {
		if c.Method == "chat.postMessage" && (c.Args.Get("unfurl_links") != "false" || c.Args.Get("unfurl_media") != "false") {
			t.Errorf("unfurl flags %q %q", c.Args.Get("unfurl_links"), c.Args.Get("unfurl_media"))
		}
		if c.Args.Get("parse") != "" || c.Args.Get("link_names") != "" {
			t.Errorf("parse/link_names set: %v", c.Args)
		}
		if c.Method == "chat.update" && c.Args.Get("channel") != "C0SECALERTS" {
			t.Errorf("chat.update by %q, want the channel ID", c.Args.Get("channel"))
		}
	}

	routed := note()
	routed.Channel = "#payments-sec"
	if ref, err := n.Notify(ctx, routed); err != nil || !strings.HasPrefix(ref, "C0PAYMENTS:") {
		t.Errorf("routed: ref %q err %v", ref, err)
	}
}

func TestNotifyErrors(t *testing.T) {
	tests := []struct {
		name      string
		fault     slackfake.Fault
		thread    bool
		posts     int // chat.postMessage calls made
		sleeps    string
		retryable bool
		want      string // "" means success
	}{
		{name: "ok:false is surfaced", fault: slackfake.Fault{Method: "chat.postMessage", Error: "channel_not_found"}, posts: 1, sleeps: "[]", want: "channel_not_found"},
		{name: "429 honours Retry-After", fault: slackfake.Fault{Method: "chat.postMessage", Status: 429, Header: http.Header{"Retry-After": {"3"}}, Body: `{"ok":false,"error":"ratelimited"}`}, posts: 3, sleeps: "[3s]"},
		{name: "429 for too long goes back to the job", fault: slackfake.Fault{Method: "chat.postMessage", Status: 429, Header: http.Header{"Retry-After": {"120"}}}, posts: 1, sleeps: "[]", retryable: true, want: "retry after 2m0s"},
		{name: "429 until retries run out", fault: slackfake.Fault{Method: "chat.postMessage", Status: 429, Times: 9, Header: http.Header{"Retry-After": {"1"}}}, posts: 4, sleeps: "[1s 1s 1s]", retryable: true, want: "429"},
		{name: "5xx is not retried", fault: slackfake.Fault{Method: "chat.postMessage", Status: 503, Header: http.Header{"Content-Type": {"text/html"}}, Body: "<html>down</html>"}, posts: 1, sleeps: "[]", retryable: true, want: "503 Service Unavailable"},
		{name: "chat.update ok:false is surfaced", fault: slackfake.Fault{Method: "chat.update", Error: "edit_window_closed"}, thread: true, posts: 2, sleeps: "[]", want: "edit_window_closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, fake, sl := setup(t)
			nt := note()
			if tt.thread {
				ref, err := n.Notify(context.Background(), nt)
				if err != nil {
					t.Fatal(err)
				}
				nt.Thread = ref
			}
			fake.Fail(tt.fault)
			_, err := n.Notify(context.Background(), nt)
			if tt.want == "" && err != nil {
				t.Fatal(err)
			}
			if tt.want != "" {
				var se *Error
				if !errors.As(err, &se) || !strings.Contains(err.Error(), tt.want) || se.Retryable() != tt.retryable || poller.Retryable(err) != tt.retryable {
					t.Fatalf("err = %v, want %q (retryable %v)", err, tt.want, tt.retryable)
				}
			}
			if got := fake.Count("chat.postMessage"); got != tt.posts {
				t.Errorf("%d posts, want %d", got, tt.posts)
			}
			if got := fmtDurations(sl.sleeps); got != tt.sleeps {
				t.Errorf("slept %s, want %s", got, tt.sleeps)
			}
		})
	}
}

func fmtDurations(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.String()
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func TestDetailsFailureKeepsThread(t *testing.T) {
	n, fake, _ := setup(t)
	// The card goes out, its details do not: the thread comes back with
	// the error, so the card is not posted again.
	fake.Fail(slackfake.Fault{Method: "chat.postMessage", After: 1, Error: "invalid_blocks"})
	ref, err := n.Notify(context.Background(), note())
	if err == nil || !strings.Contains(err.Error(), "invalid_blocks") {
		t.Fatalf("err = %v", err)
	}
	if msgs := fake.Messages(); len(msgs) != 1 || ref != msgs[0].Channel+":"+msgs[0].TS {
		t.Fatalf("ref %q, messages %+v", ref, msgs)
	}
	retry := note()
	retry.Thread = ref
	if _, err := n.Notify(context.Background(), retry); err != nil {
		t.Fatal(err)
	}
	if msgs := fake.Messages(); len(msgs) != 2 || msgs[1].ThreadTS != msgs[0].TS {
		t.Fatalf("messages %+v", msgs)
	}
}

func TestParseThread(t *testing.T) {
	tests := []struct {
		ref, channel, ts string
		ok               bool
	}{
		{"C123ABC456:1503435956.000247", "C123ABC456", "1503435956.000247", true},
		{"#general:1503435956.000247", "", "", false},
		{"C123:1503435956", "", "", false},
		{"C123", "", "", false},
		{"C123:1.2:3", "", "", false},
	}
	for _, tt := range tests {
		c, ts, err := ParseThread(tt.ref)
		if (err == nil) != tt.ok || c != tt.channel || ts != tt.ts {
			t.Errorf("ParseThread(%q) = %q %q %v", tt.ref, c, ts, err)
		}
	}
	n, _, _ := setup(t)
	bad := note()
	bad.Thread = "not-a-ref"
	if _, err := n.Notify(context.Background(), bad); err == nil {
		t.Error("a bad thread reference was accepted")
	}
}

func TestCheck(t *testing.T) {
	n, fake, _ := setup(t)
	if err := n.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_SLACK_BAD", "xoxb-wrong")
	bad, _, _ := setup(t, func(c *Config) { c.TokenEnv = "TEST_SLACK_BAD"; c.APIURL = fake.URL })
	if err := bad.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "invalid_auth") || strings.Contains(err.Error(), "xoxb") {
		t.Fatalf("err = %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		keys string
	}{
		{"good", func(c *Config) {}, ""},
		{"channel id", func(c *Config) { c.Channel = "C0123ABC" }, ""},
		{"empty", func(c *Config) { *c = Config{} }, "token_env,channel,timeout"},
		{"bad channel", func(c *Config) { c.Channel = "security alerts" }, "channel"},
		{"bad api url", func(c *Config) { c.APIURL = "slack.com/api" }, "api_url"},
		{"http api url", func(c *Config) { c.APIURL = "http://slack.example/api" }, "api_url"},
		{"token in the api url", func(c *Config) { c.APIURL = "https://xoxb:1@slack.example/api" }, "api_url"},
		{"both tokens", func(c *Config) { c.TokenFile = "slack.token" }, "token_file"},
		{"bad retries", func(c *Config) { c.MaxRetries = -1 }, "max_retries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			c.TokenEnv, c.Channel = "SLACK_TOKEN", "#security-alerts"
			tt.mod(&c)
			var keys []string
			for _, e := range c.Validate() {
				keys = append(keys, e.Key)
			}
			if got := strings.Join(keys, ","); got != tt.keys {
				t.Errorf("keys = %q, want %q", got, tt.keys)
			}
		})
	}
}

// blocksOf decodes a message's blocks for inspection.
func blocksOf(t *testing.T, raw json.RawMessage) []map[string]any {
	t.Helper()
	var bs []map[string]any
	if err := json.Unmarshal(raw, &bs); err != nil {
		t.Fatal(err)
	}
	return bs
}

// TestErrorsSayWhetherPermanent: a message that can never be posted (its
// channel does not exist) is permanent, so it is set aside instead of
// holding back the rest; a refused token or a rate limit is not.
func TestErrorsSayWhetherPermanent(t *testing.T) {
	tests := []struct {
		code      string
		permanent bool
	}{
		{"channel_not_found", true},
		{"is_archived", true},
		{"invalid_auth", false},
		{"token_revoked", false},
		{"ratelimited", false},
		{"internal_error", false},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			n, fake, _ := setup(t, func(c *Config) { c.MaxRetries = 0 })
			fake.Fail(slackfake.Fault{Method: "chat.postMessage", Error: tt.code})
			_, err := n.Notify(context.Background(), note())
			if err == nil {
				t.Fatal("want an error")
			}
			if got := poller.Permanent(err); got != tt.permanent {
				t.Errorf("Permanent(%v) = %v, want %v", err, got, tt.permanent)
			}
		})
	}
}

// TestApprovalButtons: a plan waiting for approval gets Approve and Hold
// buttons bound to the ticket and digest, after the message even when the
// message fills Slack's 50 blocks; a replacement drops them.
func TestApprovalButtons(t *testing.T) {
	n, fake, _ := setup(t)
	nt := note()
	for i := 0; i < 80; i++ {
		nt.Message.Sections = append(nt.Message.Sections, poller.Section{Heading: "part", Text: "text"})
	}
	nt.ApprovalDigest = "0123456789ab"
	ref, err := n.Notify(context.Background(), nt)
	if err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages()
	blocks := blocksOf(t, msgs[1].Blocks)
	last := blocks[len(blocks)-1]
	if len(blocks) > 50 || last["type"] != "actions" || last["block_id"] != "patrol_approval" {
		t.Fatalf("%d blocks, last %v", len(blocks), last)
	}
	els := last["elements"].([]any)
	if len(els) != 2 || els[0].(map[string]any)["action_id"] != "patrol_approve" || els[1].(map[string]any)["action_id"] != "patrol_hold" ||
		els[0].(map[string]any)["value"] != `{"ticket":"SEC-1","digest":"0123456789ab"}` || els[0].(map[string]any)["confirm"] == nil {
		t.Errorf("buttons %v", els)
	}
	kind, ticket, digest, ok := parseButton("patrol_hold", `{"ticket":"SEC-1","digest":"0123456789ab"}`)
	if !ok || kind != poller.ClickHold || ticket != "SEC-1" || digest != "0123456789ab" {
		t.Errorf("parse: %s %s %s %v", kind, ticket, digest, ok)
	}
	for _, bad := range []string{`{"ticket":"SEC-1 OR 1=1","digest":"0123456789ab"}`, `{"ticket":"SEC-1","digest":"zz"}`, `not json`} {
		if _, _, _, ok := parseButton("patrol_approve", bad); ok {
			t.Errorf("value %s accepted", bad)
		}
	}
	rep := poller.Notification{Ticket: nt.Ticket, Thread: ref, Replace: msgs[1].Channel + ":" + msgs[1].TS,
		Message: poller.Message{Sections: []poller.Section{{Text: "Approved by alice in Slack"}}}}
	if _, err := n.Notify(context.Background(), rep); err != nil {
		t.Fatal(err)
	}
	after := fake.Messages()[1]
	if after.Updates != 1 || strings.Contains(string(after.Blocks), "patrol_approve") || !strings.Contains(string(after.Blocks), "Approved by alice") {
		t.Errorf("replaced message: %s", after.Blocks)
	}
	if len(fake.Messages()) != 2 {
		t.Errorf("a replacement posted a message: %d", len(fake.Messages()))
	}
}
