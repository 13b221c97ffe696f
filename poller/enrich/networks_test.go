package enrich

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/patrolsec/patrol/poller"
)

func TestClassify(t *testing.T) {
	n, err := NewNetworks([]string{"203.0.113.0/24", "2001:db8:1234::/48", "10.20.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in     string
		class  Class
		detail string
	}{
		{"203.0.113.7", ClassOrg, "203.0.113.0/24"},
		{"2001:db8:1234:5::1", ClassOrg, "2001:db8:1234::/48"},
		{"::ffff:203.0.113.9", ClassOrg, "203.0.113.0/24"}, // IPv4-mapped IPv6
		{"10.20.3.4", ClassOrg, "10.20.0.0/16"},            // org wins over private
		{"10.1.2.3", ClassPrivate, "RFC 1918"},
		{"172.31.255.1", ClassPrivate, "RFC 1918"},
		{"192.168.1.1", ClassPrivate, "RFC 1918"},
		{"100.64.1.1", ClassPrivate, "carrier-grade NAT, RFC 6598"},
		{"127.0.0.1", ClassPrivate, "loopback"},
		{"169.254.169.254", ClassPrivate, "link-local"},
		{"fd12:3456::1", ClassPrivate, "unique local, RFC 4193"},
		{"fe80::1%eth0", ClassPrivate, "link-local"},
		{"::1", ClassPrivate, "loopback"},
		{"198.51.100.23", ClassExternal, ""},
		{"2600:1f18::1", ClassExternal, ""},
		{"ec2.amazonaws.com", ClassAWSService, "ec2.amazonaws.com"},
		{"S3.us-east-1.AMAZONAWS.com", ClassAWSService, "s3.us-east-1.amazonaws.com"},
		{"AWS Internal", ClassAWSService, "AWS Internal"},
		{"253.252.51.07", ClassUnparseable, ""}, // anonymised: leading zero
		{"999.1.1.1", ClassUnparseable, ""},
		{"", ClassUnparseable, ""},
		{"evil.amazonaws.com.attacker.net", ClassUnparseable, ""},
		{"1.2.3.4/24", ClassUnparseable, ""},
		{"[::1]", ClassUnparseable, ""},
		{strings.Repeat("9", 5000), ClassUnparseable, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := n.Classify(tt.in)
			if got.Class != tt.class || got.Detail != tt.detail {
				t.Errorf("Classify(%q) = %s / %q, want %s / %q", tt.in, got.Class, got.Detail, tt.class, tt.detail)
			}
		})
	}
}

func TestClassifyNilNetworks(t *testing.T) {
	var n *Networks
	if got := n.Classify("203.0.113.7"); got.Class != ClassExternal {
		t.Errorf("got %s, want external with no org ranges", got.Class)
	}
}

func TestNewNetworksRejectsBadCIDRs(t *testing.T) {
	_, err := NewNetworks([]string{"203.0.113.0/24", "10.0.0.0/33", "corp"})
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{`"10.0.0.0/33"`, `"corp"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestNetworkEnricher(t *testing.T) {
	n, err := NewNetworks([]string{"203.0.113.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	e := NetworkEnricher{Networks: n}
	got, err := e.Enrich(context.Background(), poller.EnrichInput{Fields: poller.Result{
		"sourceIPAddress": {"203.0.113.5"},
		"src_ip":          {"198.51.100.1", "203.0.113.5", "253.252.51.07"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []poller.Field{
		{Name: "sourceIPAddress", Value: "203.0.113.5: org (203.0.113.0/24)"},
		{Name: "src_ip", Value: "198.51.100.1: external"},
		{Name: "src_ip", Value: "253.252.51.07: unparseable"},
	}
	if len(got.Facts) != len(want) {
		t.Fatalf("facts = %v, want %v", got.Facts, want)
	}
	for i := range want {
		if got.Facts[i] != want[i] {
			t.Errorf("fact %d = %v, want %v", i, got.Facts[i], want[i])
		}
	}

	many := make([]string, 30)
	for i := range many {
		many[i] = fmt.Sprintf("198.51.100.%d", i+1)
	}
	got, err = e.Enrich(context.Background(), poller.NewEnrichInput(poller.Ticket{}, nil, poller.Result{"src_ip": many}))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Facts) != maxSources || got.Note == "" {
		t.Errorf("got %d facts, note %q; want %d and a note", len(got.Facts), got.Note, maxSources)
	}
}
