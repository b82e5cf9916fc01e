// Package dnsserver is a small authoritative DNS server that holds one
// zone in memory, for the `understudy demo` command: it runs on loopback
// without root and accepts the RFC 2136 updates the dnsprovider.RFC2136
// switcher sends, so the demo drives the real switcher.
//
// It answers queries for its zone with the AA bit (SOA in the authority
// section for NXDOMAIN and NODATA), refuses other zones, and applies
// TSIG-signed updates: delete an RRset, delete all RRsets of a name,
// delete one record, add a record. Prerequisites are not supported
// (NOTIMP). Every applied update bumps the SOA serial. Zone transfers are
// not served.
package dnsserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Key is the TSIG key that signs updates.
type Key struct {
	// Name is the key's name ("ddns-key").
	Name string
	// Algorithm is BIND's name for it (default "hmac-sha256").
	Algorithm string
	// Secret is the base64 key material.
	Secret string
}

// Config configures a Server.
type Config struct {
	// Zone is the zone's name. Required.
	Zone string
	// Records are the initial records in zone-file syntax, relative to
	// Zone ("www 60 IN A 192.0.2.1"). A SOA is made when none is given.
	Records []string
	// Key allows updates signed with it; nil refuses all updates.
	Key *Key
	// Logger gets one Info record per applied update (nil: discard).
	Logger *slog.Logger
}

// Server is the in-memory authoritative server.
type Server struct {
	zone string
	key  *Key
	log  *slog.Logger

	mu      sync.RWMutex
	records []dns.RR

	udp  net.PacketConn
	tcp  net.Listener
	addr string
}

// New parses the records and returns an unstarted server.
func New(cfg Config) (*Server, error) {
	zone := dns.CanonicalName(cfg.Zone)
	if _, ok := dns.IsDomainName(zone); !ok || cfg.Zone == "" {
		return nil, fmt.Errorf("dnsserver: invalid zone %q", cfg.Zone)
	}
	s := &Server{zone: zone, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Key != nil {
		k := *cfg.Key
		if k.Algorithm == "" {
			k.Algorithm = "hmac-sha256"
		}
		s.key = &k
	}
	zp := dns.NewZoneParser(strings.NewReader(strings.Join(cfg.Records, "\n")+"\n"), zone, "")
	hasSOA := false
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if !dns.IsSubDomain(zone, rr.Header().Name) {
			return nil, fmt.Errorf("dnsserver: record %s is outside zone %s", rr, zone)
		}
		if _, ok := rr.(*dns.SOA); ok {
			if hasSOA {
				return nil, errors.New("dnsserver: two SOA records")
			}
			hasSOA = true
		}
		s.records = append(s.records, rr)
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("dnsserver: records: %w", err)
	}
	if !hasSOA {
		soa := &dns.SOA{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
			Ns: "ns." + zone, Mbox: "hostmaster." + zone, Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: 60}
		s.records = append([]dns.RR{soa}, s.records...)
	}
	return s, nil
}

// Listen binds UDP and TCP on addr (port 0 picks one free for both).
func (s *Server) Listen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("dnsserver: listen %s: %w", addr, err)
	}
	for range 20 {
		u, err := net.ListenPacket("udp", net.JoinHostPort(host, port))
		if err != nil {
			return fmt.Errorf("dnsserver: listen udp %s: %w", addr, err)
		}
		bound := u.LocalAddr().(*net.UDPAddr)
		t, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(bound.Port)))
		if err != nil {
			u.Close()
			if port == "0" {
				continue // that port is taken for TCP: pick another
			}
			return fmt.Errorf("dnsserver: listen tcp %s: %w", addr, err)
		}
		s.udp, s.tcp, s.addr = u, t, net.JoinHostPort(host, strconv.Itoa(bound.Port))
		return nil
	}
	return fmt.Errorf("dnsserver: listen %s: no port free for both UDP and TCP", addr)
}

// Addr is the bound address (host:port), once Listen succeeded.
func (s *Server) Addr() string { return s.addr }

// Serve answers on the bound sockets until ctx ends, then shuts down.
func (s *Server) Serve(ctx context.Context) error {
	if s.udp == nil {
		return errors.New("dnsserver: Serve before Listen")
	}
	var secrets map[string]string
	if s.key != nil {
		secrets = map[string]string{dns.CanonicalName(s.key.Name): s.key.Secret}
	}
	h := dns.HandlerFunc(s.handle)
	var started sync.WaitGroup
	started.Add(2)
	servers := []*dns.Server{
		{PacketConn: s.udp, Handler: h, TsigSecret: secrets, NotifyStartedFunc: started.Done, MsgAcceptFunc: accept},
		{Listener: s.tcp, Handler: h, TsigSecret: secrets, NotifyStartedFunc: started.Done, MsgAcceptFunc: accept},
	}
	errc := make(chan error, len(servers))
	for _, srv := range servers {
		go func() { errc <- srv.ActivateAndServe() }()
	}
	ready := make(chan struct{})
	go func() { started.Wait(); close(ready) }()
	var err error
	select {
	case <-ready:
		select {
		case <-ctx.Done():
		case err = <-errc:
		}
	case err = <-errc:
	}
	if err != nil {
		err = fmt.Errorf("dnsserver: serve %s: %w", s.addr, err)
	}
	// Shutdown closes the sockets; a server that failed to start has
	// already closed its own.
	for _, srv := range servers {
		srv.Shutdown()
	}
	return err
}

// maxUpdateRRs bounds the records one update may carry.
const maxUpdateRRs = 64

// accept is miekg/dns's default filter, letting UPDATE through (the
// default answers it NOTIMP) with a bounded number of records.
func accept(dh dns.Header) dns.MsgAcceptAction {
	if dh.Bits&(1<<15) != 0 { // QR: a response
		return dns.MsgIgnore
	}
	switch opcode := int(dh.Bits>>11) & 0xF; {
	case dh.Qdcount != 1:
		return dns.MsgReject
	case opcode == dns.OpcodeQuery:
		if dh.Ancount > 0 || dh.Nscount > 1 || dh.Arcount > 2 {
			return dns.MsgReject
		}
	case opcode == dns.OpcodeUpdate:
		if int(dh.Ancount)+int(dh.Nscount) > maxUpdateRRs || dh.Arcount > 2 {
			return dns.MsgReject
		}
	default:
		return dns.MsgRejectNotImplemented
	}
	return dns.MsgAccept
}

// ListenAndServe is Listen followed by Serve.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	if err := s.Listen(addr); err != nil {
		return err
	}
	return s.Serve(ctx)
}

// Serial returns the zone's current SOA serial.
func (s *Server) Serial() uint32 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.soa().Serial
}

// soa returns the SOA; the caller holds mu.
func (s *Server) soa() *dns.SOA {
	for _, rr := range s.records {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa
		}
	}
	panic("dnsserver: zone without SOA") // New guarantees one
}

func (s *Server) handle(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	switch {
	case len(r.Question) != 1:
		m.Rcode = dns.RcodeFormatError
	case r.Opcode == dns.OpcodeQuery:
		s.query(r, m)
	case r.Opcode == dns.OpcodeUpdate:
		s.update(w, r, m)
	default:
		m.Rcode = dns.RcodeNotImplemented
	}
	w.WriteMsg(m)
}

func (s *Server) query(r, m *dns.Msg) {
	q := r.Question[0]
	name := dns.CanonicalName(q.Name)
	if !dns.IsSubDomain(s.zone, name) || q.Qclass != dns.ClassINET {
		m.Rcode = dns.RcodeRefused
		return
	}
	if q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR {
		m.Rcode = dns.RcodeNotImplemented
		return
	}
	m.Authoritative = true
	s.mu.RLock()
	defer s.mu.RUnlock()
	exists := false
	for _, rr := range s.records {
		owner := dns.CanonicalName(rr.Header().Name)
		if owner == name || dns.IsSubDomain(name, owner) {
			exists = true // the name, or an empty non-terminal above records
		}
		if owner == name && (rr.Header().Rrtype == q.Qtype || q.Qtype == dns.TypeANY) {
			m.Answer = append(m.Answer, dns.Copy(rr))
		}
	}
	if len(m.Answer) == 0 {
		if !exists {
			m.Rcode = dns.RcodeNameError
		}
		m.Ns = []dns.RR{dns.Copy(s.soa())}
	}
}

func (s *Server) update(w dns.ResponseWriter, r, m *dns.Msg) {
	t := r.IsTsig()
	switch {
	case s.key == nil || t == nil:
		m.Rcode = dns.RcodeRefused
		return
	case w.TsigStatus() != nil || dns.CanonicalName(t.Hdr.Name) != dns.CanonicalName(s.key.Name):
		// The signature did not verify: answer NOTAUTH, unsigned.
		m.Rcode = dns.RcodeNotAuth
		return
	}
	// Sign the answer with the request's key.
	defer func() { m.SetTsig(t.Hdr.Name, t.Algorithm, 300, time.Now().Unix()) }()
	if z := r.Question[0]; dns.CanonicalName(z.Name) != s.zone || z.Qtype != dns.TypeSOA {
		m.Rcode = dns.RcodeNotAuth
		return
	}
	if len(r.Answer) > 0 {
		m.Rcode = dns.RcodeNotImplemented // prerequisites
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	next := make([]dns.RR, len(s.records))
	copy(next, s.records)
	for _, u := range r.Ns {
		h := u.Header()
		name := dns.CanonicalName(h.Name)
		if !dns.IsSubDomain(s.zone, name) {
			m.Rcode = dns.RcodeNotZone
			return
		}
		protected := func(rr dns.RR) bool {
			// The apex SOA and NS stay (RFC 2136 §3.4.2.3, .4).
			t := rr.Header().Rrtype
			return dns.CanonicalName(rr.Header().Name) == s.zone && (t == dns.TypeSOA || t == dns.TypeNS)
		}
		switch h.Class {
		case dns.ClassANY: // delete an RRset, or all RRsets of the name
			next = deleteFunc(next, func(rr dns.RR) bool {
				return dns.CanonicalName(rr.Header().Name) == name && !protected(rr) &&
					(h.Rrtype == dns.TypeANY || rr.Header().Rrtype == h.Rrtype)
			})
		case dns.ClassNONE: // delete one record
			next = deleteFunc(next, func(rr dns.RR) bool {
				c := dns.Copy(u)
				c.Header().Class = dns.ClassINET
				return !protected(rr) && dns.IsDuplicate(rr, c)
			})
		case dns.ClassINET: // add
			if h.Rrtype == dns.TypeSOA || h.Rrtype == dns.TypeANY {
				continue
			}
			next = deleteFunc(next, func(rr dns.RR) bool { return dns.IsDuplicate(rr, u) })
			next = append(next, dns.Copy(u))
		default:
			m.Rcode = dns.RcodeFormatError
			return
		}
	}
	soa := dns.Copy(s.soa()).(*dns.SOA)
	soa.Serial++
	for i, rr := range next {
		if _, ok := rr.(*dns.SOA); ok {
			next[i] = soa
		}
	}
	s.records = next
	s.log.Info("zone updated", "zone", s.zone, "serial", soa.Serial, "changes", len(r.Ns))
}

func deleteFunc(rrs []dns.RR, del func(dns.RR) bool) []dns.RR {
	out := rrs[:0:0]
	for _, rr := range rrs {
		if !del(rr) {
			out = append(out, rr)
		}
	}
	return out
}
