package dnsprovider_test

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libdns/libdns"
	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/dnsprovider"
	"github.com/understudy-ha/understudy/dnsprovider/libdnstest"
	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/internal/servers/bind"
	"github.com/understudy-ha/understudy/internal/testkit/bindtest"
)

// libdnsZone holds records of several types that a switch must leave alone.
const libdnsZone = `$TTL 300
@       IN SOA ns1.example.test. hostmaster.example.test. ( 1 60 30 3600 10 )
        IN NS  ns1.example.test.
        IN MX  10 mail.example.test.
        IN TXT "v=spf1 mx -all"
ns1     IN A   127.0.0.1
mail    IN A   192.0.2.25
www     IN A   192.0.2.10
www     IN AAAA 2001:db8::10
www     IN TXT "site verification"
ftp     IN CNAME www
_sip._tcp IN SRV 10 60 5060 sip.example.test.
sip     IN A   192.0.2.50
`

func startLibdnsBIND(t *testing.T) (*bindtest.Server, *dnsprovider.BIND) {
	t.Helper()
	srv := bindtest.Start(t, bind.Options{Zones: []bind.Zone{{Name: "example.test", Content: libdnsZone, Updates: true}}})
	p, err := dnsprovider.NewBIND(dnsprovider.BINDConfig{Server: srv.Addr, Key: &srv.TSIGKey})
	require.NoError(t, err)
	return srv, p
}

// TestBINDConformance runs the libdns conformance suite against a real
// named (started on loopback; needs bind9).
func TestBINDConformance(t *testing.T) {
	_, p := startLibdnsBIND(t)
	libdnstest.Run(t, p, "example.test.", libdnstest.Options{TTL: 60 * time.Second})
}

func TestBINDGetRecordsSkipsSOAAndIsRelative(t *testing.T) {
	_, p := startLibdnsBIND(t)
	recs, err := p.GetRecords(t.Context(), "example.test.")
	require.NoError(t, err)
	var keys []string
	for _, r := range recs {
		rr := r.RR()
		assert.NotEqual(t, "SOA", rr.Type)
		keys = append(keys, rr.Name+" "+rr.Type+" "+rr.Data)
	}
	assert.Contains(t, keys, "www A 192.0.2.10")
	assert.Contains(t, keys, "@ MX 10 mail.example.test.")
	assert.Contains(t, keys, "www TXT site verification")
	assert.Contains(t, keys, "ftp CNAME www.example.test.")
}

func TestBINDNameOutsideZone(t *testing.T) {
	srv, p := startLibdnsBIND(t)
	serial := srv.Serial(t, "example.test")
	for _, name := range []string{"www.example.org.", "example.org."} {
		_, err := p.SetRecords(t.Context(), "example.test.", []libdns.Record{libdns.Address{Name: name, TTL: time.Minute, IP: netip.MustParseAddr("192.0.2.1")}})
		assert.ErrorIs(t, err, dnsprovider.ErrOutsideZone, name)
	}
	assert.Equal(t, serial, srv.Serial(t, "example.test"), "nothing may be sent")
}

func TestBINDRefusedUpdateIsPermanent(t *testing.T) {
	srv, _ := startLibdnsBIND(t)
	bad := srv.TSIGKey
	bad.Secret = "c2VjcmV0LW5vdC10aGUtb25l" // another secret: BADSIG
	p, err := dnsprovider.NewBIND(dnsprovider.BINDConfig{Server: srv.Addr})
	require.NoError(t, err)
	_, err = p.SetRecords(t.Context(), "example.test.", []libdns.Record{libdns.Address{Name: "www", TTL: time.Minute, IP: netip.MustParseAddr("192.0.2.1")}})
	var ue *dnsprovider.UpdateError
	require.ErrorAs(t, err, &ue)
	assert.True(t, ue.Permanent(), "unsigned update to a zone that wants a key: %v", err)
	assert.True(t, dnsprovider.IsPermanent(err))
	p2, err := dnsprovider.NewBIND(dnsprovider.BINDConfig{Server: srv.Addr, Key: &bad})
	require.NoError(t, err)
	_, err = p2.SetRecords(t.Context(), "example.test.", []libdns.Record{libdns.Address{Name: "www", TTL: time.Minute, IP: netip.MustParseAddr("192.0.2.1")}})
	require.ErrorAs(t, err, &ue)
	assert.True(t, ue.Permanent())
	assert.NotContains(t, err.Error(), bad.Secret)
}

// TestLibdnsSwitcherOnBIND is the core's BIND switch done through the
// libdns provider: only www's A RRset changes; every other record of
// every type stays as it was.
func TestLibdnsSwitcherOnBIND(t *testing.T) {
	srv, p := startLibdnsBIND(t)
	before := withoutSOA(srv.AXFR(t, "example.test"))
	sw, err := dnsprovider.NewLibdns(dnsprovider.LibdnsConfig{Provider: p, ProviderName: "bind", Zone: "example.test", Name: "www", TTL: 10 * time.Second})
	require.NoError(t, err)
	node := failover.Node{Name: "cybelle", Address: netip.MustParseAddr("198.51.100.7")}

	rep, err := sw.SwitchReport(t.Context(), node)
	require.NoError(t, err)
	assert.True(t, rep.Changed)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("192.0.2.10")}, rep.Previous)

	after := withoutSOA(srv.AXFR(t, "example.test"))
	want := slices.DeleteFunc(slices.Clone(before), func(s string) bool { return strings.HasPrefix(s, "www.example.test.\t300\tIN\tA\t") })
	want = append(want, "www.example.test.\t10\tIN\tA\t198.51.100.7")
	slices.Sort(want)
	assert.Equal(t, want, after)

	serial := srv.Serial(t, "example.test")
	rep, err = sw.SwitchReport(t.Context(), node)
	require.NoError(t, err)
	assert.False(t, rep.Changed, "second switch to the same node")
	assert.Equal(t, serial, srv.Serial(t, "example.test"))
	r := srv.Query(t, "www.example.test.", dns.TypeA)
	require.Len(t, r.Answer, 1)
	assert.Equal(t, "198.51.100.7", r.Answer[0].(*dns.A).A.String())
}

func TestLibdnsSwitcherWrongFamily(t *testing.T) {
	_, p := startLibdnsBIND(t)
	sw, err := dnsprovider.NewLibdns(dnsprovider.LibdnsConfig{Provider: p, Zone: "example.test", Name: "www", Type: "A"})
	require.NoError(t, err)
	_, err = sw.SwitchReport(t.Context(), failover.Node{Name: "v6", Address: netip.MustParseAddr("2001:db8::1")})
	assert.ErrorIs(t, err, dnsprovider.ErrBadNode)
	_, err = dnsprovider.NewLibdns(dnsprovider.LibdnsConfig{Provider: p, Zone: "example.test", Name: "www.example.org."})
	assert.Error(t, err, "a name outside the zone is refused at construction")
	assert.False(t, errors.Is(err, nil))
}

func withoutSOA(rrs []string) []string {
	out := slices.DeleteFunc(rrs, func(s string) bool { return strings.Contains(s, "\tSOA\t") })
	slices.Sort(out)
	return out
}
