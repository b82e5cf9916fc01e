package dnsprovider_test

import (
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/dnsprovider"
	"github.com/understudy-ha/understudy/dnsprovider/libdnstest"
	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/internal/testkit/fakes/fakehttp"
	fakegandi "github.com/understudy-ha/understudy/internal/testkit/fakes/gandi"
)

const gandiToken = "gandi-pat-secret-0123456789"

// startGandi starts the LiveDNS fake with soutade.fr and routes
// http.DefaultTransport (which libdns/gandi uses) to it. These tests do
// not run in parallel.
func startGandi(t *testing.T) *fakegandi.Server {
	g := fakegandi.Start(t)
	g.HTTP.InstallDefault(t)
	g.AddToken(gandiToken)
	g.AddToken("other-zones-only", "example.org")
	g.AddZone("soutade.fr",
		fakegandi.RRset{Name: "@", Type: "A", TTL: 300, Values: []string{"203.0.113.1"}},
		fakegandi.RRset{Name: "@", Type: "MX", TTL: 10800, Values: []string{"10 spool.mail.gandi.net."}},
		fakegandi.RRset{Name: "@", Type: "TXT", TTL: 10800, Values: []string{"v=spf1 include:_mailcust.gandi.net ?all"}},
		fakegandi.RRset{Name: "www", Type: "CNAME", TTL: 10800, Values: []string{"soutade.fr."}},
	)
	g.AddZone("example.org")
	return g
}

func TestGandiConformance(t *testing.T) {
	startGandi(t)
	p, err := dnsprovider.NewGandi(gandiToken)
	require.NoError(t, err)
	libdnstest.Run(t, p, "soutade.fr.", libdnstest.Options{TTL: 300 * time.Second})
}

func newGandiSwitch(t *testing.T, token string, zone string, ttl time.Duration) *dnsprovider.Libdns {
	p, err := dnsprovider.NewGandi(token)
	require.NoError(t, err)
	sw, err := dnsprovider.NewLibdns(dnsprovider.LibdnsConfig{
		Provider: p, ProviderName: "gandi", Zone: zone, Name: "@", TTL: ttl,
		Timeout: 500 * time.Millisecond, Attempts: 4, Backoff: 10 * time.Millisecond,
	})
	require.NoError(t, err)
	return sw
}

var cybelle = failover.Node{Name: "cybelle", Address: netip.MustParseAddr("198.51.100.7")}

func apexA(g *fakegandi.Server) fakegandi.RRset {
	for _, r := range g.RRsets("soutade.fr") {
		if r.Name == "@" && r.Type == "A" {
			return r
		}
	}
	return fakegandi.RRset{}
}

func TestGandiSwitch(t *testing.T) {
	g := startGandi(t)
	sw := newGandiSwitch(t, gandiToken, "soutade.fr", 300*time.Second)
	others := g.RRsets("soutade.fr")

	rep, err := sw.SwitchReport(t.Context(), cybelle)
	require.NoError(t, err)
	assert.True(t, rep.Changed, "the article's exit 34")
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("203.0.113.1")}, rep.Previous)
	assert.Equal(t, []string{"198.51.100.7"}, apexA(g).Values)
	for _, r := range others {
		if r.Type != "A" {
			assert.Contains(t, g.RRsets("soutade.fr"), r, "untouched")
		}
	}

	puts := g.Faults.Count("PUT ")
	rep, err = sw.SwitchReport(t.Context(), cybelle)
	require.NoError(t, err)
	assert.False(t, rep.Changed)
	assert.Equal(t, puts, g.Faults.Count("PUT "), "no write when the record is current")
}

// TestGandiTransientFaults: each fault hits the first request of the
// switch; the switch retries with backoff and completes.
func TestGandiTransientFaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault fakehttp.Fault
	}{
		{"429 with Retry-After", fakehttp.Fault{Status: 429, Body: `{"code":429,"message":"Too many requests","object":"HTTPTooManyRequests","cause":"Too Many Requests"}`, Header: http.Header{"Retry-After": {"1"}}}},
		{"500", fakehttp.Fault{Status: 500, Body: `{"code":500,"message":"Internal Server Error","object":"HTTPInternalServerError","cause":"Internal Server Error"}`}},
		{"502 without JSON", fakehttp.Fault{Status: 502, Body: `<html>Bad Gateway</html>`}},
		{"slow past the timeout", fakehttp.Fault{Delay: time.Minute}},
		{"dropped connection", fakehttp.Fault{Drop: true}},
		{"fault on the write", fakehttp.Fault{Method: "PUT", Status: 503, Body: `{"code":503,"message":"unavailable"}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGandi(t)
			g.Faults.Add(tc.fault)
			sw := newGandiSwitch(t, gandiToken, "soutade.fr", 300*time.Second)
			rep, err := sw.SwitchReport(t.Context(), cybelle)
			require.NoError(t, err)
			assert.True(t, rep.Changed)
			assert.Equal(t, []string{"198.51.100.7"}, apexA(g).Values)
		})
	}
}

// TestGandiPermanentFaults: a bad token, an unknown zone, a zone the
// token cannot see, a TTL LiveDNS refuses: one attempt, a clear error,
// and the record as it was.
func TestGandiPermanentFaults(t *testing.T) {
	for _, tc := range []struct {
		name, token, zone string
		ttl               time.Duration
		status            int
		requests          int // one attempt makes this many
	}{
		{"bad token", "wrong-token", "soutade.fr", 300 * time.Second, 401, 1},
		{"unknown zone", gandiToken, "nonexistent.fr", 300 * time.Second, 404, 1},
		{"zone the token cannot see", "other-zones-only", "soutade.fr", 300 * time.Second, 403, 1},
		{"TTL below LiveDNS's floor (refused PUT)", gandiToken, "soutade.fr", 10 * time.Second, 400, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGandi(t)
			sw := newGandiSwitch(t, tc.token, tc.zone, tc.ttl)
			_, err := sw.SwitchReport(t.Context(), cybelle)
			require.Error(t, err)
			var ae *dnsprovider.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tc.status, ae.Status)
			assert.True(t, dnsprovider.IsPermanent(err))
			assert.NotContains(t, err.Error(), tc.token)
			assert.Equal(t, tc.requests, len(g.Faults.Requests()), "one attempt, no retry: %v", g.Faults.Requests())
			assert.Equal(t, []string{"203.0.113.1"}, apexA(g).Values, "the record stays")
		})
	}
}
