package dnsprovider

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/understudy-ha/understudy/failover"
)

// ErrNotVerified means the switch was carried out but a server did not
// answer with the new record within the switcher's timeout.
var ErrNotVerified = errors.New("dnsprovider: record not verified")

// ErrBadNode means the node has no address the switcher can write.
var ErrBadNode = errors.New("dnsprovider: node has no usable address")

// Report says what one switch did.
type Report struct {
	// Changed is true when at least one server or file was modified.
	Changed bool
	// Updated lists what was modified: the servers that received an
	// update (RFC2136) or the zone file (ZoneFile).
	Updated []string
	// Previous holds the addresses the record(s) had before the switch,
	// as the first server or the zone file showed them.
	Previous []netip.Addr
}

// want is one record a switch writes: the RRset of Type at the owner
// name holds exactly Addr.
type want struct {
	Type uint16
	Addr netip.Addr
}

func (w want) String() string { return dns.TypeToString[w.Type] + " " + w.Addr.String() }

// wantsFor returns the records a switch to node writes: A or AAAA from
// Address, plus AAAA from Address6 when aaaa is set and Address6 is a
// valid IPv6 address while Address is IPv4.
func wantsFor(node failover.Node, aaaa bool) ([]want, error) {
	a := node.Address.Unmap()
	if !a.IsValid() {
		return nil, fmt.Errorf("%w: node %q", ErrBadNode, node.Name)
	}
	if a.Zone() != "" {
		return nil, fmt.Errorf("%w: node %q address %s has a zone", ErrBadNode, node.Name, a)
	}
	if a.Is6() {
		return []want{{dns.TypeAAAA, a}}, nil
	}
	ws := []want{{dns.TypeA, a}}
	if aaaa && node.Address6.IsValid() && node.Address6.Is6() && !node.Address6.Is4In6() && node.Address6.Zone() == "" {
		ws = append(ws, want{dns.TypeAAAA, node.Address6})
	}
	return ws, nil
}

// ownerName resolves a record name against the zone: "@" or "" is the
// apex, a name ending in a dot is absolute, a name ending in the zone's
// name (without the dot) is taken as absolute too, and anything else is
// relative to the zone. The result is lower-case and fully qualified and
// must lie within the zone.
func ownerName(zone, name string) (string, error) {
	z := dns.CanonicalName(zone)
	if _, ok := dns.IsDomainName(z); !ok || zone == "" {
		return "", fmt.Errorf("invalid zone %q", zone)
	}
	var abs string
	n := strings.ToLower(name)
	switch {
	case n == "" || n == "@":
		abs = z
	case dns.IsFqdn(n):
		abs = n
	case n == strings.TrimSuffix(z, ".") || strings.HasSuffix(n, "."+strings.TrimSuffix(z, ".")):
		abs = n + "."
	default:
		abs = n + "." + z
		if z == "." {
			abs = n + "."
		}
	}
	if _, ok := dns.IsDomainName(abs); !ok {
		return "", fmt.Errorf("invalid name %q", name)
	}
	if !dns.IsSubDomain(z, abs) {
		return "", fmt.Errorf("name %q is not within zone %s", name, z)
	}
	return abs, nil
}

// ttlSeconds converts a configured TTL to whole seconds.
func ttlSeconds(d time.Duration) (uint32, error) {
	if d < 0 || d%time.Second != 0 || d > time.Duration(1<<31-1)*time.Second {
		return 0, fmt.Errorf("TTL %v is not a whole number of seconds between 0 and 2^31-1", d)
	}
	return uint32(d / time.Second), nil
}

// answer is what a server said about one RRset.
type answer struct {
	addrs []netip.Addr
	ttls  []uint32
}

// query asks server for the RRset of qtype at name (no recursion) and
// returns the addresses found in the answer section.
func query(ctx context.Context, c *dns.Client, server, name string, qtype uint16) (answer, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = false
	r, _, err := c.ExchangeContext(ctx, m, server)
	if err != nil {
		return answer{}, fmt.Errorf("query %s %s at %s: %w", name, dns.TypeToString[qtype], server, err)
	}
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		return answer{}, fmt.Errorf("query %s %s at %s: %s", name, dns.TypeToString[qtype], server, dns.RcodeToString[r.Rcode])
	}
	var a answer
	for _, rr := range r.Answer {
		if !strings.EqualFold(rr.Header().Name, name) {
			continue
		}
		var addr netip.Addr
		switch v := rr.(type) {
		case *dns.A:
			if qtype != dns.TypeA {
				continue
			}
			addr, _ = netip.AddrFromSlice(v.A.To4())
		case *dns.AAAA:
			if qtype != dns.TypeAAAA {
				continue
			}
			addr, _ = netip.AddrFromSlice(v.AAAA.To16())
		default:
			continue
		}
		a.addrs = append(a.addrs, addr)
		a.ttls = append(a.ttls, rr.Header().Ttl)
	}
	return a, nil
}

// matches reports whether the answer is exactly addr, with TTL ttl when
// ttl >= 0.
func (a answer) matches(addr netip.Addr, ttl int64) bool {
	if len(a.addrs) != 1 || a.addrs[0] != addr {
		return false
	}
	return ttl < 0 || int64(a.ttls[0]) == ttl
}

func (a answer) String() string {
	if len(a.addrs) == 0 {
		return "no record"
	}
	parts := make([]string, len(a.addrs))
	for i := range a.addrs {
		parts[i] = fmt.Sprintf("%s ttl %d", a.addrs[i], a.ttls[i])
	}
	return strings.Join(parts, ", ")
}

// pollInterval is how often verification asks again.
const pollInterval = 50 * time.Millisecond

// verify asks server until every wanted RRset is exactly the wanted
// address (and TTL, when ttl >= 0), or timeout passes; without poll it
// asks once.
func verify(ctx context.Context, c *dns.Client, server, name string, ws []want, ttl int64, timeout time.Duration, poll bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		var last error
		ok := true
		for _, w := range ws {
			a, err := query(ctx, c, server, name, w.Type)
			if err != nil {
				last, ok = err, false
				break
			}
			if !a.matches(w.Addr, ttl) {
				want := w.Addr.String()
				if ttl >= 0 {
					want += fmt.Sprintf(" ttl %d", ttl)
				}
				last, ok = fmt.Errorf("%s answers %s for %s %s, want %s", server, a, name, dns.TypeToString[w.Type], want), false
				break
			}
		}
		if ok {
			return nil
		}
		if !poll {
			return fmt.Errorf("%w: %w", ErrNotVerified, last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrNotVerified, last)
		case <-tick.C:
		}
	}
}

// sortedAddrs returns addrs sorted, without duplicates.
func sortedAddrs(addrs []netip.Addr) []netip.Addr {
	out := slices.Clone(addrs)
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return slices.Compact(out)
}
