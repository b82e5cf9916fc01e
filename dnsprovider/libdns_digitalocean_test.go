package dnsprovider_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/dnsprovider"
	"github.com/understudy-ha/understudy/dnsprovider/libdnstest"
	fakedo "github.com/understudy-ha/understudy/internal/testkit/fakes/digitalocean"
	"github.com/understudy-ha/understudy/internal/testkit/fakes/fakehttp"
)

const doToken = "dop_v1_secret0123456789"

// startDO starts the DigitalOcean fake with a zone of 45 records, so
// listing it takes three pages.
func startDO(t *testing.T) *fakedo.Server {
	d := fakedo.Start(t)
	d.AddToken(doToken)
	d.AddToken("other-zones-only", "example.org")
	recs := []fakedo.Record{
		{Type: "A", Name: "@", Data: "203.0.113.1", TTL: 30},
		{Type: "NS", Name: "@", Data: "ns1.digitalocean.com", TTL: 1800},
		{Type: "MX", Name: "@", Data: "mail.example.com", Priority: 10, TTL: 1800},
		{Type: "TXT", Name: "@", Data: "v=spf1 mx -all", TTL: 1800},
	}
	for i := range 41 {
		recs = append(recs, fakedo.Record{Type: "A", Name: fmt.Sprintf("host%02d", i), Data: fmt.Sprintf("192.0.2.%d", 100+i), TTL: 1800})
	}
	d.AddZone("example.com", recs...)
	d.AddZone("example.org")
	return d
}

func newDO(t *testing.T, d *fakedo.Server, token string) *dnsprovider.DigitalOcean {
	p, err := dnsprovider.NewDigitalOcean(token, d.HTTP.Client())
	require.NoError(t, err)
	return p
}

func TestDigitalOceanConformance(t *testing.T) {
	d := startDO(t)
	libdnstest.Run(t, newDO(t, d, doToken), "example.com.", libdnstest.Options{TTL: 60 * time.Second})
	assert.Positive(t, d.Faults.Count("GET /v2/domains/example.com/records"))
}

func TestDigitalOceanPagination(t *testing.T) {
	d := startDO(t)
	recs, err := newDO(t, d, doToken).GetRecords(t.Context(), "example.com.")
	require.NoError(t, err)
	assert.Len(t, recs, 45)
	assert.Equal(t, 3, d.Faults.Count("GET /v2/domains/example.com/records"), "three pages of 20")
}

func apexDO(d *fakedo.Server) []string {
	var out []string
	for _, r := range d.Records("example.com") {
		if r.Name == "@" && r.Type == "A" {
			out = append(out, fmt.Sprintf("%s ttl %d", r.Data, r.TTL))
		}
	}
	return out
}

func newDOSwitch(t *testing.T, d *fakedo.Server, token, zone string) *dnsprovider.Libdns {
	sw, err := dnsprovider.NewLibdns(dnsprovider.LibdnsConfig{
		Provider: newDO(t, d, token), ProviderName: "digitalocean", Zone: zone, Name: "@", TTL: 30 * time.Second,
		Timeout: 500 * time.Millisecond, Attempts: 4, Backoff: 10 * time.Millisecond,
	})
	require.NoError(t, err)
	return sw
}

func TestDigitalOceanSwitch(t *testing.T) {
	d := startDO(t)
	sw := newDOSwitch(t, d, doToken, "example.com")
	before := len(d.Records("example.com"))
	rep, err := sw.SwitchReport(t.Context(), cybelle)
	require.NoError(t, err)
	assert.True(t, rep.Changed)
	assert.Equal(t, []string{"198.51.100.7 ttl 30"}, apexDO(d))
	assert.Len(t, d.Records("example.com"), before, "one record replaced, none added or lost")
	// The new record was created before the old one was deleted.
	reqs := d.Faults.Requests()
	post, del := -1, -1
	for i, r := range reqs {
		if r == "POST /v2/domains/example.com/records" {
			post = i
		}
		if len(r) > 6 && r[:6] == "DELETE" {
			del = i
		}
	}
	assert.True(t, post >= 0 && del > post, "create then delete: %v", reqs)

	rep, err = sw.SwitchReport(t.Context(), cybelle)
	require.NoError(t, err)
	assert.False(t, rep.Changed)
}

func TestDigitalOceanTransientFaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault fakehttp.Fault
	}{
		{"429 with Retry-After", fakehttp.Fault{Status: 429, Body: `{"id":"too_many_requests","message":"API Rate limit exceeded."}`, Header: http.Header{"Retry-After": {"1"}}}},
		{"500", fakehttp.Fault{Status: 500, Body: `{"id":"server_error","message":"Unexpected server-side error"}`}},
		{"slow past the timeout", fakehttp.Fault{Delay: time.Minute}},
		{"dropped connection", fakehttp.Fault{Drop: true}},
		{"fault on the create", fakehttp.Fault{Method: "POST", Status: 503, Body: `{"id":"service_unavailable","message":"unavailable"}`}},
		{"fault on the delete", fakehttp.Fault{Method: "DELETE", Status: 500, Body: `{"id":"server_error","message":"oops"}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := startDO(t)
			d.Faults.Add(tc.fault)
			rep, err := newDOSwitch(t, d, doToken, "example.com").SwitchReport(t.Context(), cybelle)
			require.NoError(t, err)
			assert.True(t, rep.Changed)
			assert.Equal(t, []string{"198.51.100.7 ttl 30"}, apexDO(d))
		})
	}
}

func TestDigitalOceanRetryAfterIsHonoured(t *testing.T) {
	d := startDO(t)
	d.Faults.Add(fakehttp.Fault{Status: 429, Body: `{"id":"too_many_requests","message":"API Rate limit exceeded."}`, Header: http.Header{"Retry-After": {"30"}}})
	sw := newDOSwitch(t, d, doToken, "example.com")
	ctx, cancel := contextWithTimeout(t, 2*time.Second)
	defer cancel()
	_, err := sw.SwitchReport(ctx, cybelle)
	require.Error(t, err, "a 30 s Retry-After does not fit in 2 s: give up rather than hammer")
	assert.Equal(t, 1, len(d.Faults.Requests()), "no request before the Retry-After")
	assert.Equal(t, 30*time.Second, dnsprovider.RetryAfter(err))
	assert.Equal(t, []string{"203.0.113.1 ttl 30"}, apexDO(d))
}

func TestDigitalOceanPermanentFaults(t *testing.T) {
	for _, tc := range []struct {
		name, token, zone string
		status            int
	}{
		{"bad token", "wrong", "example.com", 401},
		{"unknown zone", doToken, "nonexistent.com", 404},
		{"zone the token cannot see", "other-zones-only", "example.com", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := startDO(t)
			_, err := newDOSwitch(t, d, tc.token, tc.zone).SwitchReport(t.Context(), cybelle)
			var ae *dnsprovider.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tc.status, ae.Status)
			assert.True(t, dnsprovider.IsPermanent(err))
			assert.NotContains(t, err.Error(), tc.token)
			assert.Len(t, d.Faults.Requests(), 1, "one request, no retry")
			assert.Equal(t, []string{"203.0.113.1 ttl 30"}, apexDO(d))
		})
	}
}

func TestDigitalOceanWrongFamilyRefusedByAPI(t *testing.T) {
	d := startDO(t)
	p := newDO(t, d, doToken)
	_, err := p.AppendRecords(t.Context(), "example.com.", []libdnsRecord{libdnsRR("bad", "A", "2001:db8::1")})
	var ae *dnsprovider.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 422, ae.Status)
	assert.True(t, ae.Permanent())
}

// The token goes to the API's host only: a redirect to another host is
// followed without it.
func TestDigitalOceanTokenStaysWithTheAPIHost(t *testing.T) {
	var mu sync.Mutex
	heard := map[string]string{}
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		heard[r.URL.Host] = r.Header.Get("Authorization")
		mu.Unlock()
		h := http.Header{"Content-Type": {"application/json"}}
		status := http.StatusNotFound
		if r.URL.Host == "api.digitalocean.com" {
			status = http.StatusFound
			h.Set("Location", "https://elsewhere.example"+r.URL.Path)
		}
		return &http.Response{StatusCode: status, Header: h, Request: r,
			Body: io.NopCloser(strings.NewReader(`{"id":"not_found","message":"no"}`))}, nil
	})}
	p, err := dnsprovider.NewDigitalOcean(doToken, client)
	require.NoError(t, err)
	_, err = p.GetRecords(t.Context(), "example.com.")
	require.Error(t, err, "the redirect target answers 404")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, map[string]string{"api.digitalocean.com": "Bearer " + doToken, "elsewhere.example": ""}, heard)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
