package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DefaultDNSTimeout bounds a DNS check when DNSConfig.Timeout is zero.
const DefaultDNSTimeout = 2 * time.Second

// DNSConfig configures a [DNS] check. The zero value of each field means
// its documented default.
type DNSConfig struct {
	// Server is host:port of the DNS server to ask (required; port 53
	// when omitted).
	Server string
	// Name is the name to look up (required), with or without the final
	// dot.
	Name string
	// Type is the record type: A, AAAA, CNAME, MX, TXT, NS, SOA, PTR,
	// SRV... (default "A").
	Type string
	// Expect lists values that must all be in the answer: addresses for
	// A and AAAA, host names for CNAME, MX, NS, PTR, SRV and SOA (the
	// primary server), the joined strings for TXT. Addresses compare as
	// addresses, names without regard to case or the final dot. Empty
	// (the default): any non-empty answer with RCODE NOERROR passes.
	Expect []string
	// Net is "udp" (the default) or "tcp". A truncated UDP answer is
	// judged as it is; ask over TCP for large answers.
	Net string
	// Timeout bounds the query (default DefaultDNSTimeout).
	Timeout time.Duration
}

// Validate reports whether the configuration can be used.
func (c DNSConfig) Validate() error {
	if c.Server == "" {
		return errors.New("health: dns: no server")
	}
	if c.Name == "" {
		return errors.New("health: dns: no name")
	}
	if _, ok := dns.IsDomainName(c.Name); !ok {
		return fmt.Errorf("health: dns: %q is not a domain name", c.Name)
	}
	if c.Type != "" {
		if _, ok := dns.StringToType[strings.ToUpper(c.Type)]; !ok {
			return fmt.Errorf("health: dns: unknown record type %q", c.Type)
		}
	}
	switch c.Net {
	case "", "udp", "tcp":
	default:
		return fmt.Errorf("health: dns: net %q: want udp or tcp", c.Net)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("health: dns timeout %v is negative", c.Timeout)
	}
	return nil
}

// DNS asks one server for one name and type and judges the answer.
// Safe for concurrent use.
type DNS struct {
	cfg    DNSConfig
	server string
	name   string
	qtype  uint16
	client *dns.Client
	target string
}

var _ Checker = (*DNS)(nil)

// NewDNS validates cfg and returns the check.
func NewDNS(cfg DNSConfig) (*DNS, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &DNS{cfg: cfg, server: cfg.Server, name: dns.Fqdn(cfg.Name), qtype: dns.TypeA}
	if _, _, err := net.SplitHostPort(d.server); err != nil {
		d.server = net.JoinHostPort(strings.Trim(d.server, "[]"), "53")
	}
	if cfg.Type != "" {
		d.qtype = dns.StringToType[strings.ToUpper(cfg.Type)]
	}
	network := cfg.Net
	if network == "" {
		network = "udp"
	}
	d.client = &dns.Client{Net: network}
	d.target = fmt.Sprintf("%s %s @%s", d.name, dns.TypeToString[d.qtype], d.server)
	return d, nil
}

// Check sends the query and judges the answer. It returns nil when
// healthy and a *[Error] otherwise; an RCODE other than NOERROR, an
// empty answer or a missing value wraps [ErrUnexpected].
func (d *DNS) Check(ctx context.Context) error {
	ctx, cancel := withTimeout(ctx, d.cfg.Timeout, DefaultDNSTimeout)
	defer cancel()
	if err := d.check(ctx); err != nil {
		return &Error{Kind: "dns", Target: d.target, Err: withCtxErr(ctx, err)}
	}
	return nil
}

func (d *DNS) check(ctx context.Context) error {
	conn, err := d.client.DialContext(ctx, d.server)
	if err != nil {
		return err
	}
	defer conn.Close()
	// The client applies ctx's deadline; a cancelled ctx must also end
	// the read.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	m := new(dns.Msg)
	m.SetQuestion(d.name, d.qtype)
	r, _, err := d.client.ExchangeWithConnContext(ctx, m, conn)
	if err != nil {
		return err
	}
	if r.Rcode != dns.RcodeSuccess {
		return fmt.Errorf("%w: rcode %s", ErrUnexpected, dns.RcodeToString[r.Rcode])
	}
	if len(r.Answer) == 0 {
		return fmt.Errorf("%w: empty answer", ErrUnexpected)
	}
	got := make([]rdata, len(r.Answer))
	for i, rr := range r.Answer {
		got[i] = value(rr)
	}
	for _, want := range d.cfg.Expect {
		if !slices.ContainsFunc(got, func(v rdata) bool { return v.matches(want) }) {
			vals := make([]string, len(got))
			for i, v := range got {
				vals[i] = v.s
			}
			return fmt.Errorf("%w: answer %v lacks %s", ErrUnexpected, vals, want)
		}
	}
	return nil
}

// rdata is the value of one answer record and how to compare it.
type rdata struct {
	s    string
	name bool // a domain name: compare without case and final dot
}

func (v rdata) matches(want string) bool {
	if v.s == want {
		return true
	}
	if a, err := netip.ParseAddr(v.s); err == nil {
		b, err := netip.ParseAddr(want)
		return err == nil && a == b
	}
	return v.name && strings.EqualFold(dns.Fqdn(v.s), dns.Fqdn(want))
}

func value(rr dns.RR) rdata {
	switch rr := rr.(type) {
	case *dns.A:
		return rdata{s: rr.A.String()}
	case *dns.AAAA:
		return rdata{s: rr.AAAA.String()}
	case *dns.CNAME:
		return rdata{s: rr.Target, name: true}
	case *dns.MX:
		return rdata{s: rr.Mx, name: true}
	case *dns.NS:
		return rdata{s: rr.Ns, name: true}
	case *dns.PTR:
		return rdata{s: rr.Ptr, name: true}
	case *dns.SRV:
		return rdata{s: rr.Target, name: true}
	case *dns.SOA:
		return rdata{s: rr.Ns, name: true}
	case *dns.TXT:
		return rdata{s: strings.Join(rr.Txt, "")}
	default:
		return rdata{s: strings.TrimPrefix(rr.String(), rr.Header().String())}
	}
}
