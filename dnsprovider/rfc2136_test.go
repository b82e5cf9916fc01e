package dnsprovider_test

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/understudy-ha/understudy/dnsprovider"
	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/internal/servers/bind"
	"github.com/understudy-ha/understudy/internal/testkit/bindtest"
)

// richZone has records that a switch of www's A record must not touch.
const richZone = `$TTL 300
@       IN SOA ns1 hostmaster ( 1 60 30 3600 10 )
        IN NS  ns1
        IN MX  10 mail
        IN TXT "v=spf1 -all"
ns1     IN A   127.0.0.1
mail    IN A   192.0.2.25
www     IN A   192.0.2.10
www     IN AAAA 2001:db8::10
`

var (
	nodeA = failover.Node{Name: "master", Address: netip.MustParseAddr("10.1.0.1")}
	nodeB = failover.Node{Name: "slave", Address: netip.MustParseAddr("10.2.0.2")}
)

func addrs(t *testing.T, s *bindtest.Server, name string, qtype uint16) []string {
	t.Helper()
	var out []string
	for _, rr := range s.Query(t, name, qtype).Answer {
		switch v := rr.(type) {
		case *dns.A:
			out = append(out, v.A.String()+" "+itoa(v.Hdr.Ttl))
		case *dns.AAAA:
			out = append(out, v.AAAA.String()+" "+itoa(v.Hdr.Ttl))
		}
	}
	return out
}

func itoa(u uint32) string { return strconv.FormatUint(uint64(u), 10) }

// withoutWWWAndSOA drops what a switch of www's A record may change.
func withoutWWWAndSOA(rrs []string) []string {
	return slices.DeleteFunc(slices.Clone(rrs), func(s string) bool {
		rr, err := dns.NewRR(s)
		if err != nil {
			return false
		}
		h := rr.Header()
		return h.Rrtype == dns.TypeSOA || (h.Rrtype == dns.TypeA && h.Name == "www.example.test.")
	})
}

func newRFC2136(t *testing.T, cfg dnsprovider.RFC2136Config) *dnsprovider.RFC2136 {
	t.Helper()
	if cfg.Zone == "" {
		cfg.Zone = "example.test"
	}
	if cfg.Name == "" {
		cfg.Name = "www"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 3 * time.Second
	}
	r, err := dnsprovider.NewRFC2136(cfg)
	require.NoError(t, err)
	return r
}

func TestRFC2136SwitchNamed(t *testing.T) {
	t.Parallel()
	s := bindtest.Start(t, bind.Options{Zones: []bind.Zone{{Name: "example.test", Content: richZone, Updates: true}}})
	key, err := dnsprovider.LoadTSIGKey(s.KeyFile)
	require.NoError(t, err)
	before := s.AXFR(t, "example.test")
	serial0 := s.Serial(t, "example.test")

	sw := newRFC2136(t, dnsprovider.RFC2136Config{Servers: []string{s.Addr}, Key: &key, TTL: 30 * time.Second})
	rep, err := sw.SwitchReport(t.Context(), nodeB)
	require.NoError(t, err)
	assert.True(t, rep.Changed)
	assert.Equal(t, []string{s.Addr}, rep.Updated)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("192.0.2.10")}, rep.Previous)

	assert.Equal(t, []string{"10.2.0.2 30"}, addrs(t, s, "www.example.test", dns.TypeA))
	assert.Equal(t, []string{"2001:db8::10 300"}, addrs(t, s, "www.example.test", dns.TypeAAAA), "AAAA of the same name untouched")
	after := s.AXFR(t, "example.test")
	assert.Equal(t, withoutWWWAndSOA(before), withoutWWWAndSOA(after), "other records untouched")
	serial1 := s.Serial(t, "example.test")
	assert.NotEqual(t, serial0, serial1)

	t.Run("idempotent", func(t *testing.T) {
		rep, err := sw.SwitchReport(t.Context(), nodeB)
		require.NoError(t, err)
		assert.False(t, rep.Changed)
		assert.Equal(t, serial1, s.Serial(t, "example.test"), "no update sent")
	})
	t.Run("current", func(t *testing.T) {
		cur, err := sw.Current(t.Context())
		require.NoError(t, err)
		assert.Equal(t, []netip.Addr{netip.MustParseAddr("10.2.0.2"), netip.MustParseAddr("2001:db8::10")}, cur)
	})
	t.Run("back to A, over UDP", func(t *testing.T) {
		udp := newRFC2136(t, dnsprovider.RFC2136Config{Servers: []string{s.Addr}, Key: &key, TTL: 30 * time.Second, Net: "udp"})
		require.NoError(t, udp.Switch(t.Context(), nodeA))
		assert.Equal(t, []string{"10.1.0.1 30"}, addrs(t, s, "www.example.test", dns.TypeA))
	})
	t.Run("IPv6 node writes AAAA only", func(t *testing.T) {
		v6 := failover.Node{Name: "v6", Address: netip.MustParseAddr("2001:db8::77")}
		require.NoError(t, sw.Switch(t.Context(), v6))
		assert.Equal(t, []string{"2001:db8::77 30"}, addrs(t, s, "www.example.test", dns.TypeAAAA))
		assert.Equal(t, []string{"10.1.0.1 30"}, addrs(t, s, "www.example.test", dns.TypeA))
	})
	t.Run("A and AAAA from Address6", func(t *testing.T) {
		both := newRFC2136(t, dnsprovider.RFC2136Config{Servers: []string{s.Addr}, Key: &key, AAAA: true})
		n := nodeB
		n.Address6 = netip.MustParseAddr("2001:db8::22")
		require.NoError(t, both.Switch(t.Context(), n))
		assert.Equal(t, []string{"10.2.0.2 60"}, addrs(t, s, "www.example.test", dns.TypeA))
		assert.Equal(t, []string{"2001:db8::22 60"}, addrs(t, s, "www.example.test", dns.TypeAAAA))
	})
}

func TestRFC2136Refusals(t *testing.T) {
	t.Parallel()
	s := bindtest.Start(t, bind.Options{Zones: []bind.Zone{
		{Name: "example.test", Updates: true},
		{Name: "static.test"},
	}})
	good, err := dnsprovider.LoadTSIGKey(s.KeyFile)
	require.NoError(t, err)
	wrong := good
	wrong.Secret = "c2VjcmV0LXRoYXQtbmFtZWQtZG9lcy1ub3Qta25vdw=="

	tests := []struct {
		name      string
		zone      string
		key       *dnsprovider.TSIGKey
		rcode     int
		tsigError uint16
	}{
		{"wrong secret", "example.test", &wrong, dns.RcodeNotAuth, dns.RcodeBadSig},
		{"unsigned", "example.test", nil, dns.RcodeRefused, 0},
		{"zone without update policy", "static.test", &good, dns.RcodeRefused, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sw := newRFC2136(t, dnsprovider.RFC2136Config{Zone: tc.zone, Servers: []string{s.Addr}, Key: tc.key})
			err := sw.Switch(t.Context(), nodeB)
			var ue *dnsprovider.UpdateError
			require.ErrorAs(t, err, &ue)
			assert.Equal(t, s.Addr, ue.Server)
			assert.Equal(t, tc.rcode, ue.Rcode, "rcode %s", dns.RcodeToString[ue.Rcode])
			assert.Equal(t, tc.tsigError, ue.TSIGError)
			assert.True(t, ue.Permanent())
			assert.NotContains(t, err.Error(), wrong.Secret)
			assert.Equal(t, []string{"192.0.2.10 10"}, addrs(t, s, "www."+tc.zone, dns.TypeA), "record unchanged")
		})
	}
}

// TestRFC2136TwoServers is the article's pair of NS servers, each with
// its own copy of the zone: one switch updates and verifies both.
func TestRFC2136TwoServers(t *testing.T) {
	t.Parallel()
	ns1 := bindtest.Start(t, bind.Options{Zones: []bind.Zone{{Name: "test.ru", Updates: true}}})
	key := ns1.TSIGKey
	ns2 := bindtest.Start(t, bind.Options{Zones: []bind.Zone{{Name: "test.ru", Updates: true}}, Key: &key})

	sw := newRFC2136(t, dnsprovider.RFC2136Config{Zone: "test.ru", Servers: []string{ns1.Addr, ns2.Addr}, Key: &key})
	rep, err := sw.SwitchReport(t.Context(), nodeB)
	require.NoError(t, err)
	assert.Equal(t, []string{ns1.Addr, ns2.Addr}, rep.Updated)
	for _, s := range []*bindtest.Server{ns1, ns2} {
		assert.Equal(t, []string{"10.2.0.2 60"}, addrs(t, s, "www.test.ru", dns.TypeA), s.Addr)
	}

	t.Run("one server down", func(t *testing.T) {
		ns2.Stop()
		err := sw.Switch(t.Context(), nodeA)
		var ue *dnsprovider.UpdateError
		require.ErrorAs(t, err, &ue)
		assert.Equal(t, ns2.Addr, ue.Server)
		assert.False(t, ue.Permanent(), "a server that does not answer may come back")
		assert.Contains(t, err.Error(), ns2.Addr)
		var oe *net.OpError
		assert.True(t, errors.As(err, &oe), "transport error kept: %v", err)
		// The reachable server was still switched.
		assert.Equal(t, []string{"10.1.0.1 60"}, addrs(t, ns1, "www.test.ru", dns.TypeA))
	})
}
