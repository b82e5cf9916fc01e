// Package bindtest starts a real BIND 9 (internal/servers/bind) for a
// test: in t.TempDir(), stopped when the test ends, with helpers that fail
// the test instead of returning errors.
package bindtest

import (
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/understudy-ha/understudy/internal/servers/bind"
	"github.com/understudy-ha/understudy/internal/testkit/testenv"
)

// Server is a running named with test helpers.
type Server struct {
	*bind.Server
}

// Start starts named with opts and registers its stop with t.Cleanup.
// It skips the test (fails in CI) when named or rndc is not installed.
func Start(t testing.TB, opts bind.Options) *Server {
	t.Helper()
	testenv.Require(t, "named", "bind9")
	testenv.Require(t, "rndc", "bind9-utils")
	testenv.Require(t, "tsig-keygen", "bind9")
	s, err := bind.Launch(t.Context(), t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("named log (%s):\n%s", s.Addr, s.Log())
		}
	})
	return &Server{s}
}

// Query asks the server (TCP, no recursion) for name's RRset of qtype,
// failing the test when there is no answer at all.
func (s *Server) Query(t testing.TB, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = false
	c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, s.Addr)
	if err != nil {
		t.Fatalf("query %s %s at %s: %v", name, dns.TypeToString[qtype], s.Addr, err)
	}
	return r
}

// Serial returns zone's SOA serial.
func (s *Server) Serial(t testing.TB, zone string) uint32 {
	t.Helper()
	r := s.Query(t, zone, dns.TypeSOA)
	for _, rr := range r.Answer {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa.Serial
		}
	}
	t.Fatalf("no SOA for %s at %s: %v", zone, s.Addr, r)
	return 0
}

// AXFR returns the zone's records as named serves them, in presentation
// format and named's order (SOA first and last).
func (s *Server) AXFR(t testing.TB, zone string) []string {
	t.Helper()
	m := new(dns.Msg)
	m.SetAxfr(dns.Fqdn(zone))
	tr := &dns.Transfer{}
	env, err := tr.In(m, s.Addr)
	if err != nil {
		t.Fatalf("axfr %s at %s: %v", zone, s.Addr, err)
	}
	var out []string
	for e := range env {
		if e.Error != nil {
			t.Fatalf("axfr %s at %s: %v", zone, s.Addr, e.Error)
		}
		for _, rr := range e.RR {
			out = append(out, rr.String())
		}
	}
	return out
}
