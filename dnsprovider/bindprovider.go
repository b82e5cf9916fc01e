package dnsprovider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/libdns/libdns"
	"github.com/miekg/dns"
)

// ErrOutsideZone means a record's name does not lie within the zone.
var ErrOutsideZone = errors.New("dnsprovider: name outside the zone")

// BINDConfig configures a [BIND] libdns provider.
type BINDConfig struct {
	// Server is the primary's host:port. Required.
	Server string
	// Key signs updates and zone transfers with TSIG (nil: unsigned).
	Key *TSIGKey
	// Net is "tcp" (default) or "udp" for updates; zone transfers always
	// use TCP.
	Net string
	// Timeout bounds one exchange when the context has no earlier
	// deadline (default 10s).
	Timeout time.Duration
}

// BIND is a libdns provider for a DNS server that takes RFC 2136 dynamic
// updates (BIND's named, Knot, PowerDNS…), so that such a server is one
// more provider for the [Libdns] switcher and for anything else written
// against libdns.
//
// GetRecords transfers the zone (AXFR, signed when a key is set) and
// returns every record except the SOA and DNSSEC records (RRSIG, NSEC,
// NSEC3, NSEC3PARAM, DNSKEY, CDS, CDNSKEY and BIND's private type
// 65534). AppendRecords, SetRecords and DeleteRecords each send one
// UPDATE, which the server applies atomically: SetRecords deletes each
// input RRset and adds the input records in the same message, so the
// name is never without the record and a refused SetRecords changes
// nothing. Note that DNS keeps one TTL per RRset: a record appended to
// an RRset with another TTL gives the whole RRset its TTL.
//
// Names are relative to the zone as libdns documents ("www", "@"); a
// name ending in a dot is taken as absolute and must lie within the zone
// ([ErrOutsideZone] otherwise). TXT data is the unquoted text; it is
// split into 255-byte strings on the wire and joined on the way back. A
// refused update is an [*UpdateError]. Safe for concurrent use; calls
// that read and then write (DeleteRecords) are serialised.
type BIND struct {
	server  string
	key     *TSIGKey
	net     string
	timeout time.Duration
	mu      sync.Mutex
}

var (
	_ libdns.RecordGetter   = (*BIND)(nil)
	_ libdns.RecordAppender = (*BIND)(nil)
	_ libdns.RecordSetter   = (*BIND)(nil)
	_ libdns.RecordDeleter  = (*BIND)(nil)
)

// NewBIND validates cfg and returns the provider.
func NewBIND(cfg BINDConfig) (*BIND, error) {
	if _, _, err := net.SplitHostPort(cfg.Server); err != nil {
		return nil, fmt.Errorf("bind provider: server %q: want host:port: %w", cfg.Server, err)
	}
	if cfg.Key != nil {
		if err := cfg.Key.Validate(); err != nil {
			return nil, fmt.Errorf("bind provider: %w", err)
		}
	}
	b := &BIND{server: cfg.Server, net: cfg.Net, timeout: cfg.Timeout}
	switch b.net {
	case "":
		b.net = "tcp"
	case "tcp", "udp":
	default:
		return nil, fmt.Errorf("bind provider: net %q: want tcp or udp", cfg.Net)
	}
	if b.timeout <= 0 {
		b.timeout = 10 * time.Second
	}
	if cfg.Key != nil {
		k := *cfg.Key
		b.key = &k
	}
	return b, nil
}

// skipped are the types GetRecords leaves out.
var skipped = map[uint16]bool{
	dns.TypeSOA: true, dns.TypeRRSIG: true, dns.TypeNSEC: true, dns.TypeNSEC3: true,
	dns.TypeNSEC3PARAM: true, dns.TypeDNSKEY: true, dns.TypeCDS: true, dns.TypeCDNSKEY: true,
	65534: true,
}

// GetRecords transfers the zone and returns its records.
func (b *BIND) GetRecords(ctx context.Context, zone string) ([]libdns.Record, error) {
	rrs, err := b.axfr(ctx, zone)
	if err != nil {
		return nil, err
	}
	z := dns.CanonicalName(zone)
	var out []libdns.Record
	for _, rr := range rrs {
		if skipped[rr.Header().Rrtype] {
			continue
		}
		out = append(out, fromDNS(rr, z))
	}
	return out, nil
}

func (b *BIND) axfr(ctx context.Context, zone string) ([]dns.RR, error) {
	z := dns.CanonicalName(zone)
	ctx, cancel := b.bound(ctx)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", b.server)
	if err != nil {
		return nil, fmt.Errorf("axfr %s from %s: %w", z, b.server, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	tr := &dns.Transfer{Conn: &dns.Conn{Conn: conn}}
	m := new(dns.Msg)
	m.SetAxfr(z)
	if b.key != nil {
		tr.TsigSecret = map[string]string{b.key.fqdn(): b.key.Secret}
		m.SetTsig(b.key.fqdn(), b.key.algorithm(), 300, time.Now().Unix())
	}
	env, err := tr.In(m, b.server)
	if err != nil {
		return nil, fmt.Errorf("axfr %s from %s: %w", z, b.server, err)
	}
	var out []dns.RR
	var firstErr error
	for e := range env {
		if e.Error != nil && firstErr == nil {
			firstErr = e.Error
		}
		out = append(out, e.RR...)
	}
	if firstErr != nil {
		if ctx.Err() != nil {
			firstErr = fmt.Errorf("%w (%w)", ctx.Err(), firstErr)
		}
		return nil, fmt.Errorf("axfr %s from %s: %w", z, b.server, firstErr)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("axfr %s from %s: empty transfer", z, b.server)
	}
	return out, nil
}

// bound applies the default timeout when ctx has no deadline.
func (b *BIND) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, b.timeout)
}

// AppendRecords adds the records in one UPDATE.
func (b *BIND) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	rrs, err := toDNS(recs, zone)
	if err != nil {
		return nil, err
	}
	m := b.newUpdate(zone)
	m.Insert(rrs)
	if err := b.send(ctx, m); err != nil {
		return nil, err
	}
	return typed(recs), nil
}

// SetRecords replaces each input RRset with the input records in one
// UPDATE.
func (b *BIND) SetRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	rrs, err := toDNS(recs, zone)
	if err != nil {
		return nil, err
	}
	m := b.newUpdate(zone)
	seen := map[[2]any]bool{}
	for _, rr := range rrs {
		k := [2]any{strings.ToLower(rr.Header().Name), rr.Header().Rrtype}
		if !seen[k] {
			seen[k] = true
			m.RemoveRRset([]dns.RR{rr})
		}
	}
	m.Insert(rrs)
	if err := b.send(ctx, m); err != nil {
		return nil, err
	}
	return typed(recs), nil
}

// DeleteRecords removes the records that exist and match (empty Type,
// TTL or Data match anything) in one UPDATE and returns them.
func (b *BIND) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	if _, err := toDNSNames(recs, zone); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	cur, err := b.GetRecords(ctx, zone)
	if err != nil {
		return nil, err
	}
	del := matching(cur, relative(recs))
	if len(del) == 0 {
		return nil, nil
	}
	rrs, err := toDNS(del, zone)
	if err != nil {
		return nil, err
	}
	m := b.newUpdate(zone)
	m.Remove(rrs)
	if err := b.send(ctx, m); err != nil {
		return nil, err
	}
	return del, nil
}

func (b *BIND) newUpdate(zone string) *dns.Msg {
	m := new(dns.Msg)
	m.SetUpdate(dns.CanonicalName(zone))
	return m
}

// send signs and sends an UPDATE and checks the answer.
func (b *BIND) send(ctx context.Context, m *dns.Msg) error {
	ctx, cancel := b.bound(ctx)
	defer cancel()
	c := &dns.Client{Net: b.net, Timeout: b.timeout}
	if b.key != nil {
		c.TsigSecret = map[string]string{b.key.fqdn(): b.key.Secret}
		m.SetTsig(b.key.fqdn(), b.key.algorithm(), 300, time.Now().Unix())
	}
	resp, _, err := c.ExchangeContext(ctx, m, b.server)
	if resp == nil {
		return &UpdateError{Server: b.server, Rcode: -1, Err: err}
	}
	var tsigErr uint16
	if t := resp.IsTsig(); t != nil {
		tsigErr = t.Error
	}
	if resp.Rcode != dns.RcodeSuccess || tsigErr != 0 {
		return &UpdateError{Server: b.server, Rcode: resp.Rcode, TSIGError: tsigErr, Err: err}
	}
	if err != nil {
		return &UpdateError{Server: b.server, Rcode: -1, Err: fmt.Errorf("response: %w", err)}
	}
	return nil
}

// absName resolves a libdns record name against zone.
func absName(name, zone string) (string, error) {
	z := dns.CanonicalName(zone)
	if name == "" {
		name = "@"
	}
	abs := dns.CanonicalName(libdns.AbsoluteName(name, z))
	if _, ok := dns.IsDomainName(abs); !ok {
		return "", fmt.Errorf("invalid record name %q", name)
	}
	if !dns.IsSubDomain(z, abs) {
		return "", fmt.Errorf("%w: %q is not within %s", ErrOutsideZone, name, z)
	}
	return abs, nil
}

func toDNSNames(recs []libdns.Record, zone string) ([]string, error) {
	out := make([]string, len(recs))
	for i, r := range recs {
		n, err := absName(r.RR().Name, zone)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// toDNS converts libdns records to wire records of zone.
func toDNS(recs []libdns.Record, zone string) ([]dns.RR, error) {
	z := dns.CanonicalName(zone)
	out := make([]dns.RR, 0, len(recs))
	for _, r := range recs {
		rr := r.RR()
		name, err := absName(rr.Name, z)
		if err != nil {
			return nil, err
		}
		typ := strings.ToUpper(rr.Type)
		t, ok := dns.StringToType[typ]
		if !ok {
			return nil, fmt.Errorf("record %s: unknown type %q", name, rr.Type)
		}
		hdr := dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: uint32(rr.TTL / time.Second)}
		if t == dns.TypeTXT {
			out = append(out, &dns.TXT{Hdr: hdr, Txt: splitTXT(rr.Data)})
			continue
		}
		zp := dns.NewZoneParser(strings.NewReader(fmt.Sprintf("%s %d IN %s %s\n", name, hdr.Ttl, typ, rr.Data)), z, "")
		x, ok := zp.Next()
		if !ok || zp.Err() != nil {
			return nil, fmt.Errorf("record %s %s %q: %v", name, typ, rr.Data, zp.Err())
		}
		out = append(out, x)
	}
	return out, nil
}

// fromDNS converts a wire record of zone to a libdns typed record.
func fromDNS(rr dns.RR, zone string) libdns.Record {
	h := rr.Header()
	name := libdns.RelativeName(strings.ToLower(h.Name), zone)
	var data string
	if txt, ok := rr.(*dns.TXT); ok {
		data = joinTXT(txt.Txt)
	} else {
		data = strings.TrimPrefix(rr.String(), h.String())
	}
	return typed([]libdns.Record{libdns.RR{
		Name: name, TTL: time.Duration(h.Ttl) * time.Second,
		Type: dns.TypeToString[h.Rrtype], Data: data,
	}})[0]
}

// splitTXT escapes text for miekg/dns and splits it into strings of at
// most 255 bytes (counted before escaping).
func splitTXT(s string) []string {
	var out []string
	for len(s) > 255 || len(out) == 0 {
		n := min(len(s), 255)
		out = append(out, escapeTXT(s[:n]))
		s = s[n:]
	}
	if len(s) > 0 {
		out = append(out, escapeTXT(s))
	}
	return out
}

func escapeTXT(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

func joinTXT(parts []string) string {
	un := strings.NewReplacer(`\\`, `\`, `\"`, `"`)
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(un.Replace(p))
	}
	return b.String()
}
