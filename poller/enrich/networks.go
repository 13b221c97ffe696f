package enrich

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/patrolsec/patrol/poller"
)

// Class is what a source address turned out to be.
type Class string

// The classes a source address falls in, checked in this order: an
// organization range wins over "private" because companies do list their
// RFC 1918 space (and documentation ranges) in org_cidrs.
const (
	ClassUnparseable Class = "unparseable" // neither an address nor an AWS service name
	ClassOrg         Class = "org"         // inside enrich.org_cidrs
	ClassAWSService  Class = "aws-service" // an AWS service acting for the caller (ec2.amazonaws.com, AWS Internal)
	ClassPrivate     Class = "private"     // RFC 1918, unique local, loopback, link-local, CGNAT
	ClassExternal    Class = "external"    // anything else on the internet
)

// Verdict is the classification of one source value.
type Verdict struct {
	Value  string
	Class  Class
	Detail string // which range or service matched
}

func (v Verdict) String() string {
	if v.Detail == "" {
		return string(v.Class)
	}
	return string(v.Class) + " (" + v.Detail + ")"
}

// Networks classifies source addresses against the organization's ranges.
type Networks struct {
	org []netip.Prefix
}

// NewNetworks parses org_cidrs. Every bad entry is reported at once.
func NewNetworks(orgCIDRs []string) (*Networks, error) {
	n := &Networks{}
	var bad []string
	for _, c := range orgCIDRs {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			bad = append(bad, fmt.Sprintf("%q", c))
			continue
		}
		n.org = append(n.org, p.Masked())
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("org_cidrs: %s not a CIDR (want 203.0.113.0/24 or 2001:db8::/32)", strings.Join(bad, ", "))
	}
	return n, nil
}

// awsServiceName matches CloudTrail's sourceIPAddress when a service made
// the call on someone's behalf ("ec2.amazonaws.com", "s3.us-east-1.amazonaws.com").
var awsServiceName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*\.amazonaws\.com(\.cn)?$`)

// special ranges that are not the organization's and not the internet.
var special = []struct {
	prefix netip.Prefix
	name   string
}{
	{netip.MustParsePrefix("10.0.0.0/8"), "RFC 1918"},
	{netip.MustParsePrefix("172.16.0.0/12"), "RFC 1918"},
	{netip.MustParsePrefix("192.168.0.0/16"), "RFC 1918"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT, RFC 6598"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified"},
	{netip.MustParsePrefix("fc00::/7"), "unique local, RFC 4193"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
}

// Classify says what s is. It never panics on hostile or anonymised input:
// whatever is not an address or an AWS service name is "unparseable".
func (n *Networks) Classify(s string) Verdict {
	s = strings.TrimSpace(s)
	v := Verdict{Value: s}
	if s == "AWS Internal" {
		v.Class, v.Detail = ClassAWSService, "AWS Internal"
		return v
	}
	if awsServiceName.MatchString(strings.ToLower(s)) {
		v.Class, v.Detail = ClassAWSService, strings.ToLower(s)
		return v
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		v.Class = ClassUnparseable
		return v
	}
	addr = addr.WithZone("").Unmap()
	var org []netip.Prefix
	if n != nil {
		org = n.org
	}
	for _, p := range org {
		if p.Contains(addr) {
			v.Class, v.Detail = ClassOrg, p.String()
			return v
		}
	}
	for _, sp := range special {
		if sp.prefix.Contains(addr) {
			v.Class, v.Detail = ClassPrivate, sp.name
			return v
		}
	}
	v.Class = ClassExternal
	return v
}

// maxSources bounds how many values of a multivalue source field are
// classified, so one hostile event cannot flood the enrichment comment.
const maxSources = 20

// NetworkEnricher answers "is the source ours?" for the event's source
// address fields, with no network calls.
type NetworkEnricher struct {
	Networks *Networks
}

// Name implements poller.Enricher.
func (e NetworkEnricher) Name() string { return "source_ip" }

// Enrich implements poller.Enricher.
func (e NetworkEnricher) Enrich(_ context.Context, in poller.EnrichInput) (poller.Enrichment, error) {
	var out poller.Enrichment
	seen := map[string]bool{}
	for _, f := range poller.SourceFields {
		for _, raw := range in.Fields[f] {
			raw = strings.TrimSpace(raw)
			if raw == "" || seen[raw] {
				continue
			}
			seen[raw] = true
			if len(seen) > maxSources {
				out.Note = fmt.Sprintf("only the first %d source addresses were classified", maxSources)
				return out, nil
			}
			v := e.Networks.Classify(raw)
			out.Facts = append(out.Facts, poller.Field{Name: f, Value: shorten(raw, 100) + ": " + v.String()})
		}
	}
	return out, nil
}

// shorten cuts s to at most n bytes on a rune boundary, marking the cut.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
