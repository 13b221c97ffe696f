package report

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const chromiumPath = "/usr/bin/chromium"

// browser is headless Chromium driven over the DevTools protocol on a pipe
// (--remote-debugging-pipe: NUL-terminated JSON on fds 3 and 4), so the test
// needs no port and no client library.
type browser struct {
	t       *testing.T
	cmd     *exec.Cmd
	in      *os.File
	msgs    chan cdpMsg
	id      int
	session string
	events  []cdpMsg
}

type cdpMsg struct {
	ID        int             `json:"id"`
	Method    string          `json:"method"`
	Params    json.RawMessage `json:"params"`
	Result    json.RawMessage `json:"result"`
	Error     json.RawMessage `json:"error"`
	SessionID string          `json:"sessionId"`
}

// proxyTrap is a loopback listener given to Chromium as its proxy: every
// request a page makes to the network arrives here (and goes no further).
type proxyTrap struct {
	ln   net.Listener
	mu   sync.Mutex
	seen []string
}

func newProxyTrap(t *testing.T) *proxyTrap {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxyTrap{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			p.mu.Lock()
			p.seen = append(p.seen, strings.TrimSpace(line))
			p.mu.Unlock()
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return p
}

func (p *proxyTrap) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

func startBrowser(t *testing.T, proxy string) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skip("headless Chromium test: " + chromiumPath + " is absent (apt-get install chromium)")
	}
	cmdR, cmdW, _ := os.Pipe() // we write commands; Chromium reads fd 3
	evR, evW, _ := os.Pipe()   // Chromium writes fd 4; we read
	cmd := exec.Command(chromiumPath, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
		"--user-data-dir="+t.TempDir(), "--remote-debugging-pipe", "--window-size=1280,900",
		"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "about:blank")
	cmd.ExtraFiles = []*os.File{cmdR, evW}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmdR.Close()
	evW.Close()
	b := &browser{t: t, cmd: cmd, in: cmdW, msgs: make(chan cdpMsg, 256)}
	go func() {
		r := bufio.NewReader(evR)
		for {
			raw, err := r.ReadBytes(0)
			if err != nil {
				close(b.msgs)
				return
			}
			var m cdpMsg
			if json.Unmarshal(bytes.TrimSuffix(raw, []byte{0}), &m) == nil {
				b.msgs <- m
			}
		}
	}()
	t.Cleanup(func() {
		b.call("Browser.close", nil)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
		cmdW.Close()
	})
	// The page gets a browser context of its own whose proxy is the trap:
	// the trap hears the page's requests only, not the browser's own
	// background services (which the resolver rules stop).
	var bctx struct{ BrowserContextID string }
	b.decode(b.call("Target.createBrowserContext", map[string]any{"proxyServer": "http://" + proxy, "proxyBypassList": "<-loopback>"}), &bctx)
	var target struct{ TargetID string }
	b.decode(b.call("Target.createTarget", map[string]any{"url": "about:blank", "browserContextId": bctx.BrowserContextID}), &target)
	var att struct{ SessionID string }
	b.decode(b.call("Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}), &att)
	b.session = att.SessionID
	b.call("Network.enable", nil)
	b.call("Page.enable", nil)
	return b
}

// call sends a command (to the page's session once attached) and returns
// its result; events that arrive meanwhile are kept.
func (b *browser) call(method string, params any) json.RawMessage {
	b.t.Helper()
	b.id++
	msg := map[string]any{"id": b.id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if b.session != "" && !strings.HasPrefix(method, "Browser.") && !strings.HasPrefix(method, "Target.") {
		msg["sessionId"] = b.session
	}
	raw, _ := json.Marshal(msg)
	if _, err := b.in.Write(append(raw, 0)); err != nil {
		b.t.Fatalf("%s: %v", method, err)
	}
	for {
		m := b.next(method)
		if m.ID == b.id {
			if len(m.Error) > 0 {
				b.t.Fatalf("%s: %s", method, m.Error)
			}
			return m.Result
		}
	}
}

func (b *browser) next(waiting string) cdpMsg {
	b.t.Helper()
	select {
	case m, ok := <-b.msgs:
		if !ok {
			b.t.Fatalf("chromium went away while waiting for %s", waiting)
		}
		if m.Method != "" {
			b.events = append(b.events, m)
		}
		return m
	case <-time.After(60 * time.Second):
		b.t.Fatalf("chromium did not answer %s", waiting)
	}
	return cdpMsg{}
}

func (b *browser) decode(raw json.RawMessage, v any) {
	b.t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		b.t.Fatalf("decode %s: %v", raw, err)
	}
}

// open loads a file and waits for its load event; it returns the URLs the
// page requested (the document itself included).
func (b *browser) open(path string) []string {
	b.t.Helper()
	b.events = nil
	b.call("Page.navigate", map[string]any{"url": "file://" + path})
	for loaded := false; !loaded; {
		for _, e := range b.events {
			loaded = loaded || e.Method == "Page.loadEventFired"
		}
		if !loaded {
			b.next("Page.loadEventFired")
		}
	}
	var urls []string
	for _, e := range b.events {
		if e.Method == "Network.requestWillBeSent" {
			var p struct{ Request struct{ URL string } }
			b.decode(e.Params, &p)
			urls = append(urls, p.Request.URL)
		}
	}
	return urls
}

func (b *browser) eval(expr string, v any) {
	b.t.Helper()
	var r struct {
		Result struct{ Value json.RawMessage }
	}
	b.decode(b.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}), &r)
	b.decode(r.Result.Value, v)
}

// TestReportInChromium renders the report in headless Chromium: the page's
// text is there, it fits a laptop's width, it prints, and it made no request
// (checked twice: by the DevTools protocol's network events and by a proxy
// trap that every network request would reach). A page with an image from
// the network shows that both checks see a request.
func TestReportInChromium(t *testing.T) {
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	opt := scenarioOptions()
	opt.Detections[0].Attack = []string{"T1078.004", "T1098.001"} // and so the coverage section
	rep := buildReport(t, hostileScenario(t), opt)
	if err := rep.WriteFile(page, "html"); err != nil {
		t.Fatal(err)
	}
	trap := newProxyTrap(t)
	b := startBrowser(t, trap.ln.Addr().String())

	urls := b.open(page)
	if len(urls) != 1 || urls[0] != "file://"+page {
		t.Errorf("the page made requests: %q", urls)
	}
	var text string
	b.eval("document.body.innerText", &text)
	for _, w := range []string{"DETECTION AND RESPONSE REPORT", "Time to detect (median)", "10m", "Alerts per day, by severity",
		"Plans posted for approval", "alice", "Audit trail", hostileTarget, hostilePrincipal,
		"ATT&CK coverage", "Additional Cloud Credentials", "Interrupted actions", "Deliveries that failed for good", "comment body too long"} {
		if !strings.Contains(text, w) {
			t.Errorf("rendered text lacks %q", w)
		}
	}
	var layout struct {
		Overflow, Marks, Scripts int
		Wide                     []string
	}
	b.eval(`({overflow: document.documentElement.scrollWidth - window.innerWidth,
		marks: document.querySelectorAll("svg rect, svg circle").length, scripts: document.scripts.length,
		wide: Array.from(document.querySelectorAll(".scroll")).filter(s => s.scrollWidth > s.clientWidth).map(s => s.firstElementChild.className)})`, &layout)
	if layout.Overflow > 0 || layout.Marks == 0 || layout.Scripts != 0 || len(layout.Wide) > 0 {
		t.Errorf("layout: %+v (the page and each table must fit 1280px, draw its charts and run no script)", layout)
	}
	var pdf struct{ Data string }
	b.decode(b.call("Page.printToPDF", map[string]any{"preferCSSPageSize": true, "printBackground": true}), &pdf)
	raw, _ := base64.StdEncoding.DecodeString(pdf.Data)
	if !bytes.HasPrefix(raw, []byte("%PDF")) || len(raw) < 10000 {
		t.Errorf("print: %d bytes", len(raw))
	}
	if out := os.Getenv("PATROL_REPORT_ARTIFACTS"); out != "" {
		var shot struct{ Data string }
		b.decode(b.call("Page.captureScreenshot", map[string]any{"captureBeyondViewport": true, "clip": map[string]any{
			"x": 0, "y": 0, "width": 1280, "height": pageHeight(b), "scale": 1}}), &shot)
		png, _ := base64.StdEncoding.DecodeString(shot.Data)
		os.WriteFile(filepath.Join(out, "report.png"), png, 0o644)
		os.WriteFile(filepath.Join(out, "report.pdf"), raw, 0o644)
	}
	if got := trap.requests(); len(got) > 0 {
		t.Errorf("requests reached the network: %q", got)
	}

	// The control: a page that does load something is seen by both checks.
	bad := filepath.Join(dir, "bad.html")
	os.WriteFile(bad, []byte(`<!DOCTYPE html><p>x</p><img src="http://evil.example/x.png">`), 0o644)
	urls = b.open(bad)
	if len(urls) < 2 || !strings.HasPrefix(urls[1], "http://evil.example/") {
		t.Errorf("the control page's request was not seen by DevTools: %q", urls)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(trap.requests()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := trap.requests(); len(got) == 0 || !strings.Contains(got[0], "evil.example") {
		t.Errorf("the control page's request did not reach the trap: %q", got)
	}
}

func pageHeight(b *browser) float64 {
	var h float64
	b.eval("document.documentElement.scrollHeight", &h)
	return h
}
