package dnsserver_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/understudy-ha/understudy/dnsprovider"
	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/internal/daemon/dnsserver"
)

const secret = "49xAmsV1tyxYH6DjJd+YhqDqUU86ug31hntArG1VkyY="

func start(t *testing.T, key *dnsserver.Key) *dnsserver.Server {
	t.Helper()
	s, err := dnsserver.New(dnsserver.Config{
		Zone: "demo.test",
		Key:  key,
		Records: []string{
			"@ 60 IN SOA ns1 hostmaster 10 3600 600 86400 60",
			"@ 60 IN NS ns1",
			"ns1 60 IN A 127.0.0.1",
			"www 60 IN A 192.0.2.1",
			"www 60 IN TXT \"kept\"",
			"a.b 60 IN A 192.0.2.9",
		},
	})
	require.NoError(t, err)
	require.NoError(t, s.Listen("127.0.0.1:0"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done)
	})
	return s
}

func ask(t *testing.T, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	for _, n := range []string{"udp", "tcp"} {
		r, _, err := (&dns.Client{Net: n, Timeout: 2 * time.Second}).Exchange(m, addr)
		require.NoError(t, err, n)
		if n == "tcp" {
			return r
		}
	}
	return nil
}

func TestQueries(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	tests := []struct {
		name    string
		qname   string
		qtype   uint16
		rcode   int
		answers int
		soaInNs bool
	}{
		{"answer", "www.demo.test.", dns.TypeA, dns.RcodeSuccess, 1, false},
		{"case-insensitive", "WWW.Demo.Test.", dns.TypeA, dns.RcodeSuccess, 1, false},
		{"nodata", "www.demo.test.", dns.TypeAAAA, dns.RcodeSuccess, 0, true},
		{"empty non-terminal is nodata", "b.demo.test.", dns.TypeA, dns.RcodeSuccess, 0, true},
		{"nxdomain", "nope.demo.test.", dns.TypeA, dns.RcodeNameError, 0, true},
		{"other zone refused", "www.example.com.", dns.TypeA, dns.RcodeRefused, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ask(t, s.Addr(), tc.qname, tc.qtype)
			assert.Equal(t, tc.rcode, r.Rcode)
			assert.Len(t, r.Answer, tc.answers)
			assert.Equal(t, tc.rcode != dns.RcodeRefused, r.Authoritative)
			if tc.soaInNs {
				require.Len(t, r.Ns, 1)
				assert.Equal(t, dns.TypeSOA, r.Ns[0].Header().Rrtype)
			}
		})
	}
}

// TestRFC2136Switcher drives the real switcher against the server.
func TestRFC2136Switcher(t *testing.T) {
	t.Parallel()
	key := dnsserver.Key{Name: "ddns-key", Secret: secret}
	s := start(t, &key)
	good := dnsprovider.TSIGKey{Name: "ddns-key", Algorithm: "hmac-sha256", Secret: secret}
	sw, err := dnsprovider.NewRFC2136(dnsprovider.RFC2136Config{Zone: "demo.test", Name: "www", TTL: 30 * time.Second, Servers: []string{s.Addr()}, Key: &good})
	require.NoError(t, err)
	node := failover.Node{Name: "b", Address: netip.MustParseAddr("192.0.2.2")}

	rep, err := sw.SwitchReport(t.Context(), node)
	require.NoError(t, err)
	assert.True(t, rep.Changed)
	assert.Equal(t, uint32(11), s.Serial())
	r := ask(t, s.Addr(), "www.demo.test.", dns.TypeA)
	require.Len(t, r.Answer, 1)
	assert.Equal(t, "192.0.2.2", r.Answer[0].(*dns.A).A.String())
	assert.Equal(t, uint32(30), r.Answer[0].Header().Ttl)
	assert.Len(t, ask(t, s.Addr(), "www.demo.test.", dns.TypeTXT).Answer, 1, "other RRset of the name kept")

	rep, err = sw.SwitchReport(t.Context(), node)
	require.NoError(t, err)
	assert.False(t, rep.Changed)
	assert.Equal(t, uint32(11), s.Serial(), "idempotent: no update")

	t.Run("refusals", func(t *testing.T) {
		wrong := good
		wrong.Secret = "c2VjcmV0LXRoYXQtbmFtZWQtZG9lcy1ub3Qta25vdw=="
		for _, tc := range []struct {
			name  string
			key   *dnsprovider.TSIGKey
			rcode int
		}{
			{"wrong secret", &wrong, dns.RcodeNotAuth},
			{"unsigned", nil, dns.RcodeRefused},
		} {
			sw, err := dnsprovider.NewRFC2136(dnsprovider.RFC2136Config{Zone: "demo.test", Name: "www", Servers: []string{s.Addr()}, Key: tc.key})
			require.NoError(t, err)
			var ue *dnsprovider.UpdateError
			require.ErrorAs(t, sw.Switch(t.Context(), failover.Node{Name: "c", Address: netip.MustParseAddr("192.0.2.3")}), &ue, tc.name)
			assert.Equal(t, tc.rcode, ue.Rcode, tc.name)
		}
		assert.Equal(t, uint32(11), s.Serial())
	})
}

func TestServerWithoutKeyRefusesSignedUpdates(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	k := dnsprovider.TSIGKey{Name: "ddns-key", Secret: secret}
	sw, err := dnsprovider.NewRFC2136(dnsprovider.RFC2136Config{Zone: "demo.test", Servers: []string{s.Addr()}, Key: &k})
	require.NoError(t, err)
	var ue *dnsprovider.UpdateError
	require.ErrorAs(t, sw.Switch(t.Context(), failover.Node{Name: "c", Address: netip.MustParseAddr("192.0.2.3")}), &ue)
	assert.True(t, ue.Permanent())
}

func TestNewRejects(t *testing.T) {
	for name, cfg := range map[string]dnsserver.Config{
		"no zone":      {},
		"bad record":   {Zone: "demo.test", Records: []string{"www IN A not-an-ip"}},
		"outside zone": {Zone: "demo.test", Records: []string{"www.other.test. IN A 192.0.2.1"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := dnsserver.New(cfg)
			assert.Error(t, err)
		})
	}
}
