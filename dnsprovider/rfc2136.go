package dnsprovider

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"
	"github.com/understudy-ha/understudy/failover"
)

// RFC2136Config configures an [RFC2136] switcher. The zero value of each
// optional field means the default written next to it.
type RFC2136Config struct {
	// Zone is the zone the record lives in ("test.ru"); updates are
	// addressed to it. Required.
	Zone string
	// Name is the record's owner: relative to Zone ("www", "@" for the
	// apex) or absolute within it ("www.test.ru."). Default "@".
	Name string
	// TTL is written with the record and checked on verification
	// (default 60s; whole seconds).
	TTL time.Duration
	// Servers are the authoritative servers as host:port. Every one is
	// updated and every one verified, the way the article's two NS
	// servers each held the zone. Required.
	Servers []string
	// Key signs the updates with TSIG. nil sends them unsigned, which
	// only a server with allow-update { any; } (or a test server) accepts.
	Key *TSIGKey
	// Net is "tcp" (default) or "udp", for updates and queries. TCP is
	// the default: a stopped server is reported at once (connection
	// refused) instead of after the timeout, and answers are never
	// truncated.
	Net string
	// Timeout bounds each step on each server: the check and the update
	// together, then the polling that verifies the update (default 5s).
	Timeout time.Duration
	// AAAA also maintains the name's AAAA record from Node.Address6 when
	// the node's Address is IPv4 and its Address6 is valid. When the node
	// has no Address6 the AAAA record is left alone.
	AAAA bool
	// Logger receives one Info record per server changed (nil: discard).
	Logger *slog.Logger
}

// Validate checks the configuration.
func (c RFC2136Config) Validate() error {
	if _, err := ownerName(c.Zone, c.Name); err != nil {
		return fmt.Errorf("rfc2136: %w", err)
	}
	if _, err := ttlSeconds(c.TTL); err != nil {
		return fmt.Errorf("rfc2136: %w", err)
	}
	if len(c.Servers) == 0 {
		return errors.New("rfc2136: no servers")
	}
	for _, s := range c.Servers {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return fmt.Errorf("rfc2136: server %q: want host:port: %w", s, err)
		}
	}
	if c.Key != nil {
		if err := c.Key.Validate(); err != nil {
			return fmt.Errorf("rfc2136: %w", err)
		}
	}
	switch c.Net {
	case "", "tcp", "udp":
	default:
		return fmt.Errorf("rfc2136: net %q: want tcp or udp", c.Net)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("rfc2136: negative timeout %v", c.Timeout)
	}
	return nil
}

// RFC2136 points a name at a node by DNS UPDATE (RFC 2136) signed with
// TSIG, the way nsupdate does, on every configured server, and verifies
// each server's answer afterwards.
//
// Switch is idempotent: a server that already answers exactly the node's
// address with the configured TTL gets no update (its SOA serial stays).
// It is safe for concurrent use, though concurrent switches of the same
// name race like two nsupdate runs would.
type RFC2136 struct {
	zone    string
	owner   string
	ttl     uint32
	servers []string
	key     *TSIGKey
	net     string
	timeout time.Duration
	aaaa    bool
	log     *slog.Logger
}

var _ failover.Switcher = (*RFC2136)(nil)

// NewRFC2136 validates cfg and returns the switcher.
func NewRFC2136(cfg RFC2136Config) (*RFC2136, error) {
	if cfg.TTL == 0 {
		cfg.TTL = 60 * time.Second
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	owner, _ := ownerName(cfg.Zone, cfg.Name)
	ttl, _ := ttlSeconds(cfg.TTL)
	r := &RFC2136{
		zone:    dns.CanonicalName(cfg.Zone),
		owner:   owner,
		ttl:     ttl,
		servers: append([]string(nil), cfg.Servers...),
		net:     cfg.Net,
		timeout: cfg.Timeout,
		aaaa:    cfg.AAAA,
		log:     cfg.Logger,
	}
	if cfg.Key != nil {
		k := *cfg.Key
		r.key = &k
	}
	if r.net == "" {
		r.net = "tcp"
	}
	if r.timeout == 0 {
		r.timeout = 5 * time.Second
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r, nil
}

// UpdateError is a server's refusal of an update, or the failure to get
// its answer. Rcode and TSIGError hold BIND's reason when it answered.
type UpdateError struct {
	// Server is the host:port that was updated.
	Server string
	// Rcode is the response code (dns.RcodeRefused, dns.RcodeNotAuth…),
	// or -1 when no response arrived.
	Rcode int
	// TSIGError is the error field of the response's TSIG record
	// (dns.RcodeBadSig, dns.RcodeBadKey, dns.RcodeBadTime), 0 if none.
	TSIGError uint16
	// Err is the transport or TSIG verification error, if any.
	Err error
}

// Error names the server and BIND's reason, e.g. "NOTAUTH(BADSIG)".
func (e *UpdateError) Error() string {
	msg := "update at " + e.Server + ": "
	switch {
	case e.Rcode >= 0:
		msg += dns.RcodeToString[e.Rcode]
		if e.TSIGError != 0 {
			msg += "(" + dns.RcodeToString[int(e.TSIGError)] + ")"
		}
		if e.Err != nil {
			msg += ": " + e.Err.Error()
		}
	case e.Err != nil:
		msg += e.Err.Error()
	default:
		msg += "failed"
	}
	return msg
}

// Unwrap returns the transport or TSIG verification error.
func (e *UpdateError) Unwrap() error { return e.Err }

// Permanent reports whether retrying the same update cannot help: the
// server answered and refused it (REFUSED, NOTAUTH, BADSIG/BADKEY…), as
// opposed to a timeout or a lost connection. BADTIME counts as permanent
// too: it means the clocks disagree, which a retry will not fix.
func (e *UpdateError) Permanent() bool {
	return e.TSIGError != 0 || (e.Rcode > 0 && e.Rcode != dns.RcodeServerFailure)
}

func (r *RFC2136) client() *dns.Client {
	c := &dns.Client{Net: r.net, Timeout: r.timeout}
	if r.key != nil {
		c.TsigSecret = map[string]string{r.key.fqdn(): r.key.Secret}
	}
	return c
}

// Switch updates every server to point the name at node, then verifies.
func (r *RFC2136) Switch(ctx context.Context, to failover.Node) error {
	_, err := r.SwitchReport(ctx, to)
	return err
}

// SwitchReport is Switch, telling what it did. Every server is tried even
// when an earlier one fails; the errors of all failed servers are joined.
func (r *RFC2136) SwitchReport(ctx context.Context, to failover.Node) (Report, error) {
	ws, err := wantsFor(to, r.aaaa)
	if err != nil {
		return Report{}, err
	}
	var rep Report
	var errs []error
	for i, server := range r.servers {
		changed, prev, err := r.switchServer(ctx, server, ws)
		if i == 0 {
			rep.Previous = prev
		}
		if changed {
			rep.Changed = true
			rep.Updated = append(rep.Updated, server)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return rep, fmt.Errorf("rfc2136 switch %s to %s: %w", r.owner, to.Name, err)
	}
	return rep, nil
}

// switchServer brings one server to the wanted records.
func (r *RFC2136) switchServer(ctx context.Context, server string, ws []want) (changed bool, prev []netip.Addr, err error) {
	c := r.client()
	sctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	current := true
	for _, w := range ws {
		a, err := query(sctx, c, server, r.owner, w.Type)
		if err != nil {
			// An unreachable server is reported by the update below,
			// with its typed error.
			current = false
			break
		}
		prev = append(prev, a.addrs...)
		if !a.matches(w.Addr, int64(r.ttl)) {
			current = false
		}
	}
	prev = sortedAddrs(prev)
	if current {
		r.log.Debug("record already current", "server", server, "name", r.owner)
		return false, prev, nil
	}
	if err := r.update(sctx, c, server, ws); err != nil {
		return false, prev, err
	}
	r.log.Info("dns record updated", "server", server, "name", r.owner, "from", fmt.Sprint(prev), "to", fmt.Sprint(ws))
	if err := verify(ctx, c, server, r.owner, ws, int64(r.ttl), r.timeout, true); err != nil {
		return true, prev, err
	}
	return true, prev, nil
}

// update sends one UPDATE message: for each wanted type, delete the
// RRset and add the one record (RFC 2136 §2.5.2 and §2.5.1).
func (r *RFC2136) update(ctx context.Context, c *dns.Client, server string, ws []want) error {
	m := new(dns.Msg)
	m.SetUpdate(r.zone)
	for _, w := range ws {
		rr := newAddrRR(r.owner, r.ttl, w.Addr)
		m.RemoveRRset([]dns.RR{rr})
		m.Insert([]dns.RR{rr})
	}
	if r.key != nil {
		m.SetTsig(r.key.fqdn(), r.key.algorithm(), 300, time.Now().Unix())
	}
	resp, _, err := c.ExchangeContext(ctx, m, server)
	if resp == nil {
		return &UpdateError{Server: server, Rcode: -1, Err: err}
	}
	var tsigErr uint16
	if t := resp.IsTsig(); t != nil {
		tsigErr = t.Error
	}
	if resp.Rcode != dns.RcodeSuccess || tsigErr != 0 {
		return &UpdateError{Server: server, Rcode: resp.Rcode, TSIGError: tsigErr, Err: err}
	}
	if err != nil {
		// NOERROR, but the response's signature did not verify: the
		// change may have happened; verification will tell.
		return &UpdateError{Server: server, Rcode: -1, Err: fmt.Errorf("response: %w", err)}
	}
	return nil
}

// newAddrRR builds an A or AAAA record.
func newAddrRR(name string, ttl uint32, addr netip.Addr) dns.RR {
	if addr.Is4() {
		return &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: addr.AsSlice()}
	}
	return &dns.AAAA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: ttl}, AAAA: addr.AsSlice()}
}

// Current returns the addresses the first server answers for the name
// (A and AAAA together, sorted).
func (r *RFC2136) Current(ctx context.Context) ([]netip.Addr, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	c := r.client()
	var out []netip.Addr
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		a, err := query(ctx, c, r.servers[0], r.owner, t)
		if err != nil {
			return nil, fmt.Errorf("rfc2136 current: %w", err)
		}
		out = append(out, a.addrs...)
	}
	return sortedAddrs(out), nil
}
