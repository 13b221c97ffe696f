package splunk

import (
	"net"
	"strings"
	"testing"

	"github.com/patrolsec/patrol/poller/splunk/splunktest"
)

func TestProbe(t *testing.T) {
	e := newEnv(t, splunktest.Options{}, nil)
	v, err := e.s.Probe(t.Context())
	if err != nil || v != "9.3.2" {
		t.Fatalf("probe = %q, %v", v, err)
	}
	if r := e.fake.Requests(); len(r) != 1 || r[0].Endpoint != splunktest.Info || r[0].AuthScheme != "Bearer" {
		t.Errorf("requests = %+v", r)
	}
}

// TestProbeAndParseUnreachable: against a closed port the probe fails at
// once, without retries, and no error quotes the search (a GET's query).
func TestProbeAndParseUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + l.Addr().String()
	l.Close()
	e := newEnv(t, splunktest.Options{}, func(c *Config) { c.URL = closed; c.MaxRetries = 1 })
	if _, err := e.s.Probe(t.Context()); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("probe: %v", err)
	}
	if n := len(e.sleeps); n != 0 {
		t.Errorf("the probe waited to retry %d times", n)
	}
	long := "index=aws " + strings.Repeat("eventName=SomethingLong OR ", 100) + "secret_marker"
	err = e.s.Parse(t.Context(), long)
	if err == nil || strings.Contains(err.Error(), "secret_marker") || len(err.Error()) > 300 {
		t.Errorf("parse error quotes the search (%d bytes): %v", len(err.Error()), err)
	}
}
