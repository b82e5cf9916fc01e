package dnsprovider

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/libdns/libdns"
	"github.com/miekg/dns"
	"github.com/understudy-ha/understudy/failover"
)

// LibdnsProvider is what the [Libdns] switcher needs from a libdns
// provider: read the zone and replace RRsets.
type LibdnsProvider interface {
	libdns.RecordGetter
	libdns.RecordSetter
}

// LibdnsConfig configures a [Libdns] switcher. The zero value of each
// optional field means the default written next to it.
type LibdnsConfig struct {
	// Provider talks to the DNS host. Required. Use [NewGandi],
	// [NewDigitalOcean], [NewBIND] or any libdns provider whose
	// SetRecords replaces the RRset, as libdns documents.
	Provider LibdnsProvider
	// ProviderName names the provider in reports and messages (default
	// "libdns").
	ProviderName string
	// Zone is the zone as the provider knows it ("example.com."). Required.
	Zone string
	// Name is the record's owner: relative to Zone ("www", "@" for the
	// apex) or absolute within it ("www.example.com."). Default "@".
	Name string
	// TTL is written with the record and checked on read-back (default
	// 60s; whole seconds). Providers have floors: Gandi refuses less
	// than 300s, DigitalOcean less than 30s.
	TTL time.Duration
	// Type restricts the records written: "A" or "AAAA" refuse a node
	// whose address is of the other family; "" (default) picks A or
	// AAAA from the node's address.
	Type string
	// AAAA also maintains the name's AAAA record from Node.Address6 when
	// the node's Address is IPv4 and its Address6 is valid.
	AAAA bool
	// Timeout bounds one attempt: read, write and read-back (default 30s).
	Timeout time.Duration
	// Attempts is how many attempts one Switch makes when it meets
	// transient faults (default 3). Permanent faults end it at once.
	Attempts int
	// Backoff is the wait after the first failed attempt, doubled after
	// each (default 1s, at most 30s). A Retry-After given by the API
	// replaces it when longer.
	Backoff time.Duration
	// Logger receives one Info record per change and one Debug record
	// per retry (nil: discard).
	Logger *slog.Logger
}

// Validate checks the configuration.
func (c LibdnsConfig) Validate() error {
	if c.Provider == nil {
		return errors.New("libdns: no provider")
	}
	if _, err := ownerName(c.Zone, c.Name); err != nil {
		return fmt.Errorf("libdns: %w", err)
	}
	if _, err := ttlSeconds(c.TTL); err != nil {
		return fmt.Errorf("libdns: %w", err)
	}
	switch c.Type {
	case "", "A", "AAAA":
	default:
		return fmt.Errorf("libdns: type %q: want A, AAAA or empty", c.Type)
	}
	if c.Timeout < 0 || c.Backoff < 0 || c.Attempts < 0 {
		return errors.New("libdns: negative timeout, backoff or attempts")
	}
	return nil
}

// Libdns points one name's A/AAAA RRset at a node through a libdns
// provider, touching no other record of the zone.
//
// Each attempt reads the zone; when the RRset already holds exactly the
// node's address with the configured TTL it writes nothing. Otherwise it
// calls SetRecords with the one record and reads the zone again to
// confirm. Transient faults (timeouts, lost connections, HTTP 429 and
// 5xx) are retried with backoff, honouring Retry-After; permanent ones
// (bad token, unknown zone, a record refused) end the switch at once.
// A provider whose SetRecords replaces the RRset in one call never
// leaves the name without a record; [NewGandi] and [NewDigitalOcean]
// add the new record before they remove the old one.
//
// Switch is idempotent and safe for concurrent use.
type Libdns struct {
	p        LibdnsProvider
	pname    string
	zone     string
	owner    string // absolute, lower case
	rel      string // relative to zone, "@" for the apex
	ttl      time.Duration
	typ      string
	aaaa     bool
	timeout  time.Duration
	attempts int
	backoff  time.Duration
	log      *slog.Logger
}

var _ failover.Switcher = (*Libdns)(nil)

// NewLibdns validates cfg and returns the switcher.
func NewLibdns(cfg LibdnsConfig) (*Libdns, error) {
	if cfg.TTL == 0 {
		cfg.TTL = 60 * time.Second
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	owner, _ := ownerName(cfg.Zone, cfg.Name)
	zone := dns.CanonicalName(cfg.Zone)
	l := &Libdns{
		p: cfg.Provider, pname: cfg.ProviderName, zone: zone, owner: owner,
		rel: libdns.RelativeName(owner, zone), ttl: cfg.TTL, typ: cfg.Type, aaaa: cfg.AAAA,
		timeout: cfg.Timeout, attempts: cfg.Attempts, backoff: cfg.Backoff, log: cfg.Logger,
	}
	if l.pname == "" {
		l.pname = "libdns"
	}
	if l.timeout == 0 {
		l.timeout = 30 * time.Second
	}
	if l.attempts == 0 {
		l.attempts = 3
	}
	if l.backoff == 0 {
		l.backoff = time.Second
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	return l, nil
}

// Switch points the name at node; see [Libdns].
func (l *Libdns) Switch(ctx context.Context, to failover.Node) error {
	_, err := l.SwitchReport(ctx, to)
	return err
}

// SwitchReport is Switch, telling what it did: Changed is the article's
// "exit 34", Previous the addresses the name had before.
func (l *Libdns) SwitchReport(ctx context.Context, to failover.Node) (Report, error) {
	ws, err := wantsFor(to, l.aaaa)
	if err != nil {
		return Report{}, err
	}
	if l.typ != "" && dns.TypeToString[ws[0].Type] != l.typ {
		return Report{}, fmt.Errorf("%w: node %q address %s is not for a %s record", ErrBadNode, to.Name, ws[0].Addr, l.typ)
	}
	var rep Report
	backoff := l.backoff
	for attempt := 1; ; attempt++ {
		err := l.attempt(ctx, ws, &rep, attempt == 1)
		if err == nil {
			return rep, nil
		}
		err = fmt.Errorf("%s switch %s to %s: %w", l.pname, l.owner, to.Name, err)
		if IsPermanent(err) || attempt >= l.attempts || ctx.Err() != nil {
			return rep, err
		}
		wait := backoff
		if ra := RetryAfter(err); ra > wait {
			wait = ra
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return rep, fmt.Errorf("%w (no time left to wait %v before a retry)", err, wait)
		}
		l.log.Debug("dns provider attempt failed", "provider", l.pname, "name", l.owner, "attempt", attempt, "wait", wait, "error", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return rep, fmt.Errorf("%w (stopped: %w)", err, ctx.Err())
		case <-t.C:
		}
		backoff = min(backoff*2, max(30*time.Second, l.backoff))
	}
}

// attempt makes one read, write, read-back round.
func (l *Libdns) attempt(ctx context.Context, ws []want, rep *Report, first bool) error {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	recs, err := l.p.GetRecords(ctx, l.zone)
	if err != nil {
		return fmt.Errorf("get records: %w", err)
	}
	cur := l.rrsets(recs)
	if first {
		for _, w := range ws {
			rep.Previous = append(rep.Previous, cur[w.Type].addrs...)
		}
		rep.Previous = sortedAddrs(rep.Previous)
	}
	if l.current(cur, ws) {
		return nil
	}
	in := make([]libdns.Record, len(ws))
	for i, w := range ws {
		in[i] = libdns.Address{Name: l.rel, TTL: l.ttl, IP: w.Addr}
	}
	if _, err := l.p.SetRecords(ctx, l.zone, in); err != nil {
		return fmt.Errorf("set records: %w", err)
	}
	rep.Changed = true
	if !slices.Contains(rep.Updated, l.pname+":"+l.zone) {
		rep.Updated = append(rep.Updated, l.pname+":"+l.zone)
	}
	l.log.Info("dns record updated", "provider", l.pname, "name", l.owner, "from", fmt.Sprint(rep.Previous), "to", fmt.Sprint(ws))
	recs, err = l.p.GetRecords(ctx, l.zone)
	if err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	cur = l.rrsets(recs)
	if !l.current(cur, ws) {
		var got []string
		for _, w := range ws {
			got = append(got, dns.TypeToString[w.Type]+" "+cur[w.Type].String())
		}
		return fmt.Errorf("%w: read back %s, want %v ttl %d", ErrNotVerified, strings.Join(got, "; "), ws, int(l.ttl/time.Second))
	}
	return nil
}

// rrsets picks the owner's A and AAAA records out of a zone listing.
func (l *Libdns) rrsets(recs []libdns.Record) map[uint16]answer {
	out := map[uint16]answer{}
	for _, r := range recs {
		rr := r.RR()
		if !strings.EqualFold(dns.CanonicalName(libdns.AbsoluteName(rr.Name, l.zone)), l.owner) {
			continue
		}
		t, ok := dns.StringToType[strings.ToUpper(rr.Type)]
		if !ok || (t != dns.TypeA && t != dns.TypeAAAA) {
			continue
		}
		a, err := netip.ParseAddr(rr.Data)
		if err != nil {
			continue
		}
		x := out[t]
		x.addrs = append(x.addrs, a)
		x.ttls = append(x.ttls, uint32(rr.TTL/time.Second))
		out[t] = x
	}
	return out
}

func (l *Libdns) current(cur map[uint16]answer, ws []want) bool {
	for _, w := range ws {
		if !cur[w.Type].matches(w.Addr, int64(l.ttl/time.Second)) {
			return false
		}
	}
	return true
}

// Current returns the addresses of the name's A and AAAA records, sorted.
func (l *Libdns) Current(ctx context.Context) ([]netip.Addr, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	recs, err := l.p.GetRecords(ctx, l.zone)
	if err != nil {
		return nil, fmt.Errorf("%s current %s: %w", l.pname, l.owner, err)
	}
	cur := l.rrsets(recs)
	return sortedAddrs(append(cur[dns.TypeA].addrs, cur[dns.TypeAAAA].addrs...)), nil
}
