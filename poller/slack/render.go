package slack

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	goslack "github.com/slack-go/slack"

	"github.com/patrolsec/patrol/poller"
)

// Every string in a Notification may carry attacker data. In Slack's
// mrkdwn, "<" starts mentions (<!channel>, <@U1>), links (<url|text>) and
// dates, "&" starts entities, and "`" opens and closes code. So every
// string is escaped (& < > as entities, which makes <!channel> and
// <http://evil|x> impossible), "@" gets a zero-width space after it (no
// @here even where a client links names), backticks become a look-alike
// (no code span opened in prose, none closed early), and all text objects are mrkdwn with
// verbatim set (Slack does not auto-link URLs or channel names in them).
// No block carries a URL field, and posts disable unfurling.

// Slack's Block Kit limits.
const (
	maxSectionText = 3000
	maxFieldText   = 2000
	maxFields      = 10
	maxBlocks      = 50
	maxFallback    = 1000
	// maxMessageText keeps a whole message under the size at which Slack
	// rejects blocks (msg_blocks_too_long) well before the documented limits.
	maxMessageText = 11000
)

const zwsp = "\u200b"

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "@", "@"+zwsp, "`", "ˋ")

// clean drops control characters other than newline and tab.
func clean(s string) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\r\n", "\n"), "\uFFFD")
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return -1
		}
		return r
	}, s)
}

// Escape makes s inert as mrkdwn text.
func Escape(s string) string { return escaper.Replace(clean(s)) }

// escapeCode makes s inert inside a code span or block; Escape already
// turns the backtick that would close it into U+02CB (ˋ).
func escapeCode(s string) string { return Escape(s) }

// escapeLine is Escape on one line, for bold labels: "*" would end the
// bold early, so it becomes U+2217 (∗).
func escapeLine(s string) string {
	return strings.ReplaceAll(Escape(strings.Join(strings.Fields(s), " ")), "*", "∗")
}

// fit returns render(s), or render of the longest rune prefix of s (with
// an ellipsis) whose rendering fits in limit runes. It cuts before
// escaping so that no entity is ever cut in half.
func fit(s string, limit int, render func(string) string) string {
	if out := render(s); utf8.RuneCountInString(out) <= limit {
		return out
	}
	runes := []rune(s)
	lo, hi := 0, len(runes)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if utf8.RuneCountInString(render(string(runes[:mid])+"…")) <= limit {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return render(string(runes[:lo]) + "…")
}

func mrkdwn(s string) *goslack.TextBlockObject {
	return goslack.NewTextBlockObject(goslack.MarkdownType, s, false, true)
}

func section(s string) *goslack.SectionBlock {
	return goslack.NewSectionBlock(mrkdwn(s), nil, nil)
}

func bold(s string, limit int) string {
	return fit(s, limit, func(s string) string { return "*" + escapeLine(s) + "*" })
}

// codeValue shows a value as inline code, or a code block when it spans
// lines; code is never formatted, linked or mention-parsed.
func codeValue(s string, limit int) string {
	s = strings.Trim(clean(s), "\n")
	if strings.TrimSpace(s) == "" {
		return "_(empty)_"
	}
	if strings.Contains(s, "\n") {
		return fit(s, limit, func(s string) string { return "```" + escapeCode(s) + "```" })
	}
	return fit(s, limit, func(s string) string { return "`" + escapeCode(s) + "`" })
}

// ticketLink is the one link patrol makes: to the ticket, whose URL comes
// from the tracker. It is still checked to be http(s) and escaped.
func ticketLink(tk poller.Ticket) string {
	key := strings.ReplaceAll(escapeLine(tk.Key), "|", "¦")
	if key == "" {
		key = "ticket"
	}
	u, err := url.Parse(tk.URL)
	if tk.URL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return "`" + strings.ReplaceAll(key, "`", "ˋ") + "`"
	}
	// In <url|text>, "|" and ">" end the URL: percent-encode them; & is an
	// entity like everywhere else.
	link := strings.NewReplacer("&", "&amp;", "<", "%3C", ">", "%3E", "|", "%7C", " ", "%20").Replace(u.String())
	return "<" + link + "|" + key + ">"
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

// Card renders the thread's parent: severity, summary, status, detection
// and the ticket link. It is built from the Notification alone, so a
// later Notification can rebuild it with a new status.
func Card(n poller.Notification) []goslack.Block {
	sev := strings.ToUpper(orDash(n.Severity))
	head := fit(orDash(n.Ticket.Summary), maxSectionText-40, func(s string) string {
		return "*[" + escapeLine(sev) + "]* " + escapeLine(s)
	})
	fields := []*goslack.TextBlockObject{
		mrkdwn("*Severity*\n" + codeValue(sev, maxFieldText-20)),
		mrkdwn("*Status*\n" + codeValue(orDash(n.Status), maxFieldText-20)),
		mrkdwn("*Detection*\n" + codeValue(orDash(n.Detection), maxFieldText-20)),
		mrkdwn("*Ticket*\n" + ticketLink(n.Ticket)),
	}
	return []goslack.Block{section(head), goslack.NewSectionBlock(nil, fields, nil)}
}

// cardText is the parent's notification fallback text.
func cardText(n poller.Notification) string {
	return fit(fmt.Sprintf("[%s] %s %s", strings.ToUpper(orDash(n.Severity)), n.Ticket.Key, orDash(n.Ticket.Summary)), maxFallback, escapeLine)
}

// messageText is a reply's notification fallback text.
func messageText(n poller.Notification) string {
	t := n.Message.Title
	if strings.TrimSpace(t) == "" {
		t = "Update on " + n.Ticket.Key
	}
	return fit(t, maxFallback, escapeLine)
}

// MessageBlocks renders m: bold title and headings, paragraphs as escaped
// text, fields as name and code value, Pre as a code block.
func MessageBlocks(m poller.Message) []goslack.Block { return messageBlocks(m, 0) }

// messageBlocks renders m in at most maxBlocks-reserve blocks.
func messageBlocks(m poller.Message, reserve int) []goslack.Block {
	var blocks []goslack.Block
	if strings.TrimSpace(m.Title) != "" {
		blocks = append(blocks, section(bold(m.Title, maxSectionText)))
	}
	for _, s := range m.Sections {
		if strings.TrimSpace(s.Heading) != "" {
			blocks = append(blocks, section(bold(s.Heading, maxSectionText)))
		}
		if text := strings.Trim(clean(s.Text), "\n"); strings.TrimSpace(text) != "" {
			blocks = append(blocks, section(fit(text, maxSectionText, Escape)))
		}
		for i := 0; i < len(s.Fields); i += maxFields {
			var fields []*goslack.TextBlockObject
			for _, f := range s.Fields[i:min(i+maxFields, len(s.Fields))] {
				name := bold(orDash(f.Name), 200)
				fields = append(fields, mrkdwn(name+"\n"+codeValue(f.Value, maxFieldText-utf8.RuneCountInString(name)-1)))
			}
			blocks = append(blocks, goslack.NewSectionBlock(nil, fields, nil))
		}
		if pre := strings.Trim(clean(s.Pre), "\n"); strings.TrimSpace(pre) != "" {
			blocks = append(blocks, section(fit(pre, maxSectionText, func(s string) string { return "```" + escapeCode(s) + "```" })))
		}
	}
	return capBlocks(blocks, maxBlocks-reserve)
}

// capBlocks keeps a message within limit blocks and Slack's size, saying
// what was left out.
func capBlocks(blocks []goslack.Block, limit int) []goslack.Block {
	total := 0
	for i, b := range blocks {
		total += blockText(b)
		if i >= limit-1 || total > maxMessageText {
			note := fmt.Sprintf("_%d more parts not shown here; see the ticket._", len(blocks)-i)
			return append(blocks[:i:i], section(note))
		}
	}
	return blocks
}

func blockText(b goslack.Block) int {
	s, ok := b.(*goslack.SectionBlock)
	if !ok {
		return 0
	}
	n := 0
	if s.Text != nil {
		n += utf8.RuneCountInString(s.Text.Text)
	}
	for _, f := range s.Fields {
		n += utf8.RuneCountInString(f.Text)
	}
	return n
}
