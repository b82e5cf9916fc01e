// Package libdnstest is a conformance suite for libdns providers, written
// from the contract documented in github.com/libdns/libdns v1: GetRecords
// returns typed records with names relative to the zone; AppendRecords
// adds without touching other records; SetRecords makes each input
// (name, type) RRset hold exactly the input records and touches nothing
// else (the two examples of libdns's documentation are run as written);
// DeleteRecords removes exact matches, treats empty type, TTL and data as
// wildcards, ignores records that do not exist and returns only what it
// deleted. Every test also checks that the records the suite did not
// create are the same afterwards.
//
// The suite creates records only under names starting with
// Options.Prefix, so it can run against a zone that holds other records;
// those must survive. Run it against a disposable zone: it leaves its
// records behind when a test fails.
package libdnstest

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/libdns/libdns"
)

// Provider is what the suite tests.
type Provider interface {
	libdns.RecordGetter
	libdns.RecordAppender
	libdns.RecordSetter
	libdns.RecordDeleter
}

// Options tune the suite to a provider's limits.
type Options struct {
	// TTL is the TTL of the records created (default 300s, which every
	// provider accepts); the TTL test also uses twice this.
	TTL time.Duration
	// Prefix starts every name the suite creates (default "libdnstest").
	Prefix string
	// Timeout bounds each provider call (default 30s).
	Timeout time.Duration
}

// Run runs the suite against p for zone ("example.com.").
func Run(t *testing.T, p Provider, zone string, opts Options) {
	if opts.TTL == 0 {
		opts.TTL = 300 * time.Second
	}
	if opts.Prefix == "" {
		opts.Prefix = "libdnstest"
	}
	if opts.Timeout == 0 {
		opts.Timeout = 30 * time.Second
	}
	s := &suite{p: p, zone: zone, o: opts}
	s.others = s.foreign(t)
	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"GetRecordsTypedRelative", s.getTyped},
		{"AppendRecordsAdds", s.appendAdds},
		{"SetRecordsExample1", s.setExample1},
		{"SetRecordsExample2", s.setExample2},
		{"SetRecordsTTLAndIdempotent", s.setTTL},
		{"SetRecordsApex", s.setApex},
		{"DeleteRecordsExactAndWildcards", s.deleteExact},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t)
			if got := s.foreign(t); !slices.Equal(got, s.others) {
				t.Errorf("records the suite did not create changed:\nbefore %q\nafter  %q", s.others, got)
			}
		})
	}
}

type suite struct {
	p      Provider
	zone   string
	o      Options
	others []string
}

func (s *suite) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), s.o.Timeout)
	t.Cleanup(cancel)
	return ctx
}

func (s *suite) name(n string) string { return s.o.Prefix + "-" + n }

// key renders a record for comparisons.
func key(r libdns.Record) string {
	rr := r.RR()
	return fmt.Sprintf("%s %d %s %s", strings.ToLower(rr.Name), rr.TTL/time.Second, strings.ToUpper(rr.Type), rr.Data)
}

// all returns every record of the zone, rendered and sorted.
func (s *suite) all(t *testing.T) []libdns.Record {
	t.Helper()
	recs, err := s.p.GetRecords(s.ctx(t), s.zone)
	if err != nil {
		t.Fatalf("GetRecords(%q): %v", s.zone, err)
	}
	return recs
}

// foreign returns the records not under the suite's prefix.
func (s *suite) foreign(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, r := range s.all(t) {
		if !strings.HasPrefix(strings.ToLower(r.RR().Name), s.o.Prefix) {
			out = append(out, key(r))
		}
	}
	sort.Strings(out)
	return out
}

// at returns the rendered records at name (of type typ when not "").
func (s *suite) at(t *testing.T, name, typ string) []string {
	t.Helper()
	var out []string
	for _, r := range s.all(t) {
		rr := r.RR()
		if strings.EqualFold(rr.Name, name) && (typ == "" || strings.EqualFold(rr.Type, typ)) {
			out = append(out, key(r))
		}
	}
	sort.Strings(out)
	return out
}

func addr(name string, ttl time.Duration, ip string) libdns.Address {
	return libdns.Address{Name: name, TTL: ttl, IP: netip.MustParseAddr(ip)}
}

func (s *suite) want(t *testing.T, name, typ string, want ...string) {
	t.Helper()
	sort.Strings(want)
	if got := s.at(t, name, typ); !slices.Equal(got, want) {
		t.Errorf("records at %s %s:\n got %q\nwant %q", name, typ, got, want)
	}
}

func (s *suite) append(t *testing.T, recs ...libdns.Record) {
	t.Helper()
	if _, err := s.p.AppendRecords(s.ctx(t), s.zone, recs); err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
}

func (s *suite) set(t *testing.T, recs ...libdns.Record) []libdns.Record {
	t.Helper()
	out, err := s.p.SetRecords(s.ctx(t), s.zone, recs)
	if err != nil {
		t.Fatalf("SetRecords: %v", err)
	}
	return out
}

func (s *suite) del(t *testing.T, recs ...libdns.Record) []libdns.Record {
	t.Helper()
	out, err := s.p.DeleteRecords(s.ctx(t), s.zone, recs)
	if err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	return out
}

func (s *suite) cleanup(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		s.del(t, libdns.RR{Name: n})
	}
	for _, n := range names {
		s.want(t, n, "")
	}
}

func (s *suite) getTyped(t *testing.T) {
	n := s.name("get")
	s.append(t, addr(n, s.o.TTL, "192.0.2.1"), libdns.TXT{Name: n, TTL: s.o.TTL, Text: "hello world"})
	var sawA, sawTXT bool
	for _, r := range s.all(t) {
		if strings.HasSuffix(r.RR().Name, ".") || r.RR().Name == "" {
			t.Errorf("record %q: name is not relative to the zone", key(r))
		}
		switch v := r.(type) {
		case libdns.Address:
			if v.Name == n && v.IP == netip.MustParseAddr("192.0.2.1") && v.TTL == s.o.TTL {
				sawA = true
			}
		case libdns.TXT:
			if v.Name == n && v.Text == "hello world" {
				sawTXT = true
			}
		case libdns.RR:
			if v.Type == "A" || v.Type == "AAAA" || v.Type == "TXT" || v.Type == "MX" || v.Type == "CNAME" {
				t.Errorf("record %q returned as libdns.RR, want its typed struct", key(r))
			}
		}
	}
	if !sawA || !sawTXT {
		t.Errorf("GetRecords: typed A %v, TXT %v; want both for %s", sawA, sawTXT, n)
	}
	s.cleanup(t, n)
}

func (s *suite) appendAdds(t *testing.T) {
	n := s.name("append")
	s.append(t, addr(n, s.o.TTL, "192.0.2.1"))
	s.append(t, addr(n, s.o.TTL, "192.0.2.2"))
	ttl := int(s.o.TTL / time.Second)
	s.want(t, n, "A", fmt.Sprintf("%s %d A 192.0.2.1", n, ttl), fmt.Sprintf("%s %d A 192.0.2.2", n, ttl))
	s.cleanup(t, n)
}

// setExample1 is libdns's SetRecords Example 1.
func (s *suite) setExample1(t *testing.T) {
	n := s.name("set1")
	ttl := int(s.o.TTL / time.Second)
	s.append(t, addr(n, s.o.TTL, "192.0.2.1"), addr(n, s.o.TTL, "192.0.2.2"), libdns.TXT{Name: n, TTL: s.o.TTL, Text: "hello world"})
	got := s.set(t, addr(n, s.o.TTL, "192.0.2.3"))
	if len(got) != 1 || key(got[0]) != fmt.Sprintf("%s %d A 192.0.2.3", n, ttl) {
		t.Errorf("SetRecords returned %v, want the one record set", got)
	}
	s.want(t, n, "", fmt.Sprintf("%s %d A 192.0.2.3", n, ttl), fmt.Sprintf("%s %d TXT hello world", n, ttl))
	s.cleanup(t, n)
}

// setExample2 is libdns's SetRecords Example 2.
func (s *suite) setExample2(t *testing.T) {
	a, b := s.name("alpha"), s.name("beta")
	ttl := int(s.o.TTL / time.Second)
	s.append(t, addr(a, s.o.TTL, "2001:db8::1"), addr(a, s.o.TTL, "2001:db8::2"), addr(b, s.o.TTL, "2001:db8::3"), addr(b, s.o.TTL, "2001:db8::4"))
	s.set(t, addr(a, s.o.TTL, "2001:db8::1"), addr(a, s.o.TTL, "2001:db8::2"), addr(a, s.o.TTL, "2001:db8::5"))
	f := func(n, ip string) string { return fmt.Sprintf("%s %d AAAA %s", n, ttl, ip) }
	s.want(t, a, "", f(a, "2001:db8::1"), f(a, "2001:db8::2"), f(a, "2001:db8::5"))
	s.want(t, b, "", f(b, "2001:db8::3"), f(b, "2001:db8::4"))
	s.cleanup(t, a, b)
}

func (s *suite) setTTL(t *testing.T) {
	n := s.name("ttl")
	ttl := int(s.o.TTL / time.Second)
	s.set(t, addr(n, s.o.TTL, "192.0.2.7"))
	s.want(t, n, "", fmt.Sprintf("%s %d A 192.0.2.7", n, ttl))
	s.set(t, addr(n, 2*s.o.TTL, "192.0.2.7"))
	s.want(t, n, "", fmt.Sprintf("%s %d A 192.0.2.7", n, 2*ttl))
	before := s.at(t, n, "")
	s.set(t, addr(n, 2*s.o.TTL, "192.0.2.7"))
	if after := s.at(t, n, ""); !slices.Equal(before, after) {
		t.Errorf("SetRecords of the same record changed %q into %q", before, after)
	}
	s.cleanup(t, n)
}

// setApex sets an address at the apex, named "@", and checks that the
// apex's other records (NS, MX…) stay. The apex's A records are put
// back afterwards.
func (s *suite) setApex(t *testing.T) {
	ttl := int(s.o.TTL / time.Second)
	var orig []libdns.Record
	for _, r := range s.all(t) {
		if r.RR().Name == "@" && r.RR().Type == "A" {
			orig = append(orig, r)
		}
	}
	defer func() {
		if len(orig) > 0 {
			s.set(t, orig...)
		}
	}()
	s.set(t, addr("@", s.o.TTL, "192.0.2.21"))
	s.want(t, "@", "A", fmt.Sprintf("@ %d A 192.0.2.21", ttl))
	s.set(t, addr("@", s.o.TTL, "192.0.2.22"))
	s.want(t, "@", "A", fmt.Sprintf("@ %d A 192.0.2.22", ttl))
	if got := s.del(t, libdns.RR{Name: "@", Type: "A"}); len(got) != 1 {
		t.Errorf("DeleteRecords(@ A) returned %v, want the one record", got)
	}
	s.want(t, "@", "A")
}

func (s *suite) deleteExact(t *testing.T) {
	n := s.name("del")
	ttl := int(s.o.TTL / time.Second)
	s.append(t, addr(n, s.o.TTL, "192.0.2.1"), addr(n, s.o.TTL, "192.0.2.2"), libdns.TXT{Name: n, TTL: s.o.TTL, Text: "keep"})
	if got := s.del(t, addr(n, s.o.TTL, "192.0.2.99")); len(got) != 0 {
		t.Errorf("DeleteRecords of a missing record returned %v, want nothing", got)
	}
	if got := s.del(t, addr(n, s.o.TTL+time.Second, "192.0.2.1")); len(got) != 0 {
		t.Errorf("DeleteRecords with another TTL returned %v, want nothing", got)
	}
	got := s.del(t, addr(n, s.o.TTL, "192.0.2.1"))
	if len(got) != 1 || key(got[0]) != fmt.Sprintf("%s %d A 192.0.2.1", n, ttl) {
		t.Errorf("DeleteRecords returned %v, want the one record deleted", got)
	}
	s.want(t, n, "", fmt.Sprintf("%s %d A 192.0.2.2", n, ttl), fmt.Sprintf("%s %d TXT keep", n, ttl))
	s.append(t, addr(n, s.o.TTL, "192.0.2.3"))
	if got := s.del(t, libdns.RR{Name: n, Type: "A"}); len(got) != 2 {
		t.Errorf("DeleteRecords(type A, no data) returned %v, want both A records", got)
	}
	s.want(t, n, "", fmt.Sprintf("%s %d TXT keep", n, ttl))
	s.cleanup(t, n)
}
