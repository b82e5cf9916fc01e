package ippool_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/internal/testkit/fakes/doreservedip"
	"github.com/understudy-ha/understudy/ippool"
)

const (
	fakeToken = "dop_v1_fake"
	rip       = "192.0.2.10"
	dropA     = 101
	dropB     = 202
)

var (
	nodeA = failover.Node{Name: "a", Labels: map[string]string{"droplet_id": "101"}}
	nodeB = failover.Node{Name: "b", Labels: map[string]string{"droplet_id": "202"}}
)

func TestReservedIPSwitch(t *testing.T) {
	type env struct {
		api  *doreservedip.Server
		meta *doreservedip.Metadata
	}
	cases := []struct {
		name    string
		holder  int
		token   string
		ip      string
		to      failover.Node
		meta    int // droplet the metadata service speaks for (0: none)
		setup   func(e env)
		wantErr error
		status  int  // HTTP status the error must carry (0: none)
		short   bool // a 200 ms deadline
		check   func(t *testing.T, e env)
	}{
		{name: "assigns and polls the action until completed", holder: dropA, to: nodeB,
			setup: func(e env) { e.api.ActionPolls = 2 },
			check: func(t *testing.T, e env) {
				assert.Equal(t, dropB, e.api.Holder(rip))
				assert.Equal(t, 1, e.api.Count("POST", "/v2/reserved_ips/"+rip+"/actions"))
				assert.Equal(t, 3, e.api.Count("GET", "/v2/reserved_ips/"+rip+"/actions/"), "in-progress twice, then completed")
			}},
		{name: "already assigned: metadata says so, no API call", holder: dropB, to: nodeB, meta: dropB,
			check: func(t *testing.T, e env) {
				assert.Zero(t, e.api.Count("", "/v2/"))
				assert.Equal(t, 3, e.meta.Hits(), "id, active, ip_address")
			}},
		{name: "already assigned: metadata is another droplet, API says so", holder: dropB, to: nodeB, meta: dropA,
			check: func(t *testing.T, e env) {
				assert.Equal(t, 1, e.api.Count("GET", "/v2/reserved_ips/"+rip))
				assert.Zero(t, e.api.Count("POST", "/v2/"))
			}},
		{name: "metadata says this droplet but not active: assigns", holder: dropA, to: nodeB, meta: dropB,
			check: func(t *testing.T, e env) { assert.Equal(t, dropB, e.api.Holder(rip)) }},
		{name: "unassigned IP gets assigned", holder: 0, to: nodeA,
			check: func(t *testing.T, e env) { assert.Equal(t, dropA, e.api.Holder(rip)) }},
		{name: "401 is not retried", holder: dropA, to: nodeB, token: "wrong", status: 401,
			check: func(t *testing.T, e env) {
				assert.Equal(t, 1, e.api.Count("", "/v2/"))
				assert.Equal(t, dropA, e.api.Holder(rip))
			}},
		{name: "404 unknown IP is not retried", holder: dropA, to: nodeB, ip: "192.0.2.99", status: 404,
			check: func(t *testing.T, e env) { assert.Equal(t, 1, e.api.Count("", "/v2/")) }},
		{name: "422 unknown droplet is not retried", holder: dropA, to: failover.Node{Name: "c", Labels: map[string]string{"droplet_id": "999"}}, status: 422,
			check: func(t *testing.T, e env) {
				assert.Equal(t, 1, e.api.Count("POST", "/v2/"))
				assert.Equal(t, dropA, e.api.Holder(rip))
			}},
		{name: "429 honours Retry-After", holder: dropA, to: nodeB,
			setup: func(e env) { e.api.Fail("POST", "/v2/reserved_ips/", 429, 1, "1") },
			check: func(t *testing.T, e env) {
				assert.Equal(t, dropB, e.api.Holder(rip))
				var posts []time.Time
				for _, r := range e.api.Requests() {
					if r.Method == "POST" {
						posts = append(posts, r.Time)
					}
				}
				require.Len(t, posts, 2)
				assert.GreaterOrEqual(t, posts[1].Sub(posts[0]), time.Second, "retried before Retry-After")
			}},
		{name: "500 is retried", holder: dropA, to: nodeB,
			setup: func(e env) { e.api.Fail("POST", "/v2/reserved_ips/", 500, 2, "") },
			check: func(t *testing.T, e env) {
				assert.Equal(t, dropB, e.api.Holder(rip))
				assert.Equal(t, 3, e.api.Count("POST", "/v2/"))
			}},
		{name: "500 while polling keeps polling the same action", holder: dropA, to: nodeB,
			setup: func(e env) { e.api.Fail("GET", "/v2/reserved_ips/"+rip+"/actions/", 500, 2, "") },
			check: func(t *testing.T, e env) {
				assert.Equal(t, dropB, e.api.Holder(rip))
				assert.Equal(t, 1, e.api.Count("POST", "/v2/"))
			}},
		{name: "500 forever gives up at the deadline", holder: dropA, to: nodeB, wantErr: context.DeadlineExceeded, status: 500, short: true,
			setup: func(e env) { e.api.Fail("POST", "/v2/", 500, 1<<30, "") },
			check: func(t *testing.T, e env) { assert.Greater(t, e.api.Count("POST", "/v2/"), 1) }},
		{name: "errored actions are retried, then reported", holder: dropA, to: nodeB, wantErr: ippool.ErrActionFailed, short: true,
			setup: func(e env) { e.api.ErrorActions = true },
			check: func(t *testing.T, e env) { assert.Greater(t, e.api.Count("POST", "/v2/"), 1) }},
		{name: "node without droplet_id", holder: dropA, to: failover.Node{Name: "x"}, wantErr: ippool.ErrNoDropletID,
			check: func(t *testing.T, e env) { assert.Zero(t, e.api.Count("", "/v2/")) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := env{api: doreservedip.New(t, fakeToken)}
			e.api.AddDroplet(dropA, dropB)
			e.api.AddReservedIP(rip, c.holder)
			cfg := ippool.ReservedIPConfig{
				IP: netip.MustParseAddr(rip), NoMetadata: true, Deadline: 3 * time.Second,
				MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, PollInterval: time.Millisecond,
			}
			if c.ip != "" {
				cfg.IP = netip.MustParseAddr(c.ip)
			}
			if c.meta != 0 {
				e.meta = e.api.Metadata(t, c.meta)
				cfg.NoMetadata, cfg.MetadataURL = false, e.meta.URL
			}
			if c.short {
				cfg.Deadline = 200 * time.Millisecond
			}
			if c.setup != nil {
				c.setup(e)
			}
			token := fakeToken
			if c.token != "" {
				token = c.token
			}
			client, err := ippool.NewGodoClient(token, e.api.URL, nil)
			require.NoError(t, err)
			sw, err := ippool.NewReservedIP(client, cfg)
			require.NoError(t, err)

			err = sw.Switch(t.Context(), c.to)
			switch {
			case c.wantErr == nil && c.status == 0:
				require.NoError(t, err)
			default:
				require.Error(t, err)
				if c.wantErr != nil {
					require.ErrorIs(t, err, c.wantErr)
				}
				if c.status != 0 {
					var er *godo.ErrorResponse
					require.ErrorAs(t, err, &er)
					assert.Equal(t, c.status, er.Response.StatusCode)
					assert.NotEmpty(t, er.Message, "DigitalOcean's error message is kept")
				}
				assert.NotContains(t, err.Error(), token, "the token leaked into an error")
			}
			c.check(t, e)
		})
	}
}

func TestReservedIPMetadataUnreachableFallsBackToAPI(t *testing.T) {
	api := doreservedip.New(t, fakeToken)
	api.AddDroplet(dropA, dropB)
	api.AddReservedIP(rip, dropA)
	client, err := ippool.NewGodoClient(fakeToken, api.URL, nil)
	require.NoError(t, err)
	// A port nothing listens on: the metadata check fails fast.
	dead := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("no route to host") })}
	sw, err := ippool.NewReservedIP(client, ippool.ReservedIPConfig{
		IP: netip.MustParseAddr(rip), MetadataURL: "http://169.254.169.254", HTTPClient: dead,
		MinBackoff: time.Millisecond, PollInterval: time.Millisecond,
	})
	require.NoError(t, err)
	require.NoError(t, sw.Switch(t.Context(), nodeB))
	assert.Equal(t, dropB, api.Holder(rip))
	cur, err := sw.Current(t.Context())
	require.NoError(t, err)
	assert.Equal(t, dropB, cur)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The token goes to the API's host only: a redirect to another host is
// followed without it.
func TestGodoClientTokenStaysWithTheAPIHost(t *testing.T) {
	heard := make(chan string, 2)
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		heard <- "elsewhere:" + r.Header.Get("Authorization")
		http.Error(w, `{"id":"not_found","message":"no"}`, http.StatusNotFound)
	}))
	t.Cleanup(elsewhere.Close)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		heard <- "api:" + r.Header.Get("Authorization")
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusFound)
	}))
	t.Cleanup(api.Close)

	client, err := ippool.NewGodoClient(fakeToken, api.URL+"/", nil)
	require.NoError(t, err)
	_, _, err = client.ReservedIPs.Get(t.Context(), rip)
	require.Error(t, err, "the redirect target answers 404")
	assert.Equal(t, "api:Bearer "+fakeToken, <-heard)
	assert.Equal(t, "elsewhere:", <-heard, "no token for another host")
}
