package dnsprovider_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/dnsprovider"
)

// checkip is the article's checkip.dyndns.com on loopback: it answers
// the page that service answers, with an address the test sets.
func checkip(t *testing.T) (*httptest.Server, *atomic.Value) {
	var addr atomic.Value
	addr.Store("198.51.100.9")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "<html><head><title>Current IP Check</title></head><body>Current IP Address: %s</body></html>\r\n", addr.Load())
	}))
	t.Cleanup(srv.Close)
	return srv, &addr
}

func TestDDNSUpdate(t *testing.T) {
	srv, p := startLibdnsBIND(t)
	web, addr := checkip(t)
	record, err := dnsprovider.NewLibdns(dnsprovider.LibdnsConfig{Provider: p, ProviderName: "bind", Zone: "example.test", Name: "www", TTL: 10 * time.Second})
	require.NoError(t, err)
	rec := &cmdrun.Recorder{}
	d, err := dnsprovider.NewDDNS(dnsprovider.DDNSConfig{
		Source: dnsprovider.HTTPSource{URL: web.URL, Family: "ipv4"}, Record: record, Node: "demeter", Family: "ipv4",
		Hook: []string{"/usr/local/bin/repoint-peer", "--peer-conf", "/etc/openvpn/cybelle.conf"}, Runner: rec,
	})
	require.NoError(t, err)

	// The address changed: the record follows, old and new are told, the hook runs.
	res, err := d.Update(t.Context())
	require.NoError(t, err)
	assert.True(t, res.Changed)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("192.0.2.10")}, res.Old)
	assert.Equal(t, netip.MustParseAddr("198.51.100.9"), res.New)
	assert.Equal(t, [][]string{{"/usr/local/bin/repoint-peer", "--peer-conf", "/etc/openvpn/cybelle.conf", "192.0.2.10", "198.51.100.9"}}, rec.Argvs())
	assert.Contains(t, rec.Cmds[0].Env, "UNDERSTUDY_OLD_ADDRESS=192.0.2.10")
	assert.Contains(t, rec.Cmds[0].Env, "UNDERSTUDY_NEW_ADDRESS=198.51.100.9")
	r := srv.Query(t, "www.example.test.", dns.TypeA)
	require.Len(t, r.Answer, 1)
	assert.Equal(t, "198.51.100.9", r.Answer[0].(*dns.A).A.String())

	// No change: nothing written, no hook.
	serial := srv.Serial(t, "example.test")
	res, err = d.Update(t.Context())
	require.NoError(t, err)
	assert.False(t, res.Changed)
	assert.Equal(t, serial, srv.Serial(t, "example.test"))
	assert.Len(t, rec.Cmds, 1)

	// It moves again.
	addr.Store("198.51.100.10")
	res, err = d.Update(t.Context())
	require.NoError(t, err)
	assert.True(t, res.Changed)
	assert.Equal(t, []string{"/usr/local/bin/repoint-peer", "--peer-conf", "/etc/openvpn/cybelle.conf", "198.51.100.9", "198.51.100.10"}, rec.Argvs()[1])

	// An IPv6 answer for an A record: refused, nothing written.
	addr.Store("2001:db8::9")
	serial = srv.Serial(t, "example.test")
	_, err = d.Update(t.Context())
	assert.ErrorIs(t, err, dnsprovider.ErrWrongFamily)
	assert.Equal(t, serial, srv.Serial(t, "example.test"))

	// The source is down: no update, an error to alert on.
	web.Close()
	_, err = d.Update(t.Context())
	assert.ErrorIs(t, err, dnsprovider.ErrSourceUnavailable)
	assert.Equal(t, serial, srv.Serial(t, "example.test"))
	assert.Len(t, rec.Cmds, 2)
}

func TestDDNSHookFailure(t *testing.T) {
	_, p := startLibdnsBIND(t)
	web, _ := checkip(t)
	record, err := dnsprovider.NewLibdns(dnsprovider.LibdnsConfig{Provider: p, Zone: "example.test", Name: "www"})
	require.NoError(t, err)
	boom := errors.New("exit status 255")
	rec := &cmdrun.Recorder{Respond: func(cmdrun.Cmd) (cmdrun.Result, error) { return cmdrun.Result{ExitCode: 255}, boom }}
	d, err := dnsprovider.NewDDNS(dnsprovider.DDNSConfig{Source: dnsprovider.HTTPSource{URL: web.URL}, Record: record, Hook: []string{"ssh"}, Runner: rec})
	require.NoError(t, err)
	res, err := d.Update(t.Context())
	assert.True(t, res.Changed, "the record changed even though the hook failed")
	assert.ErrorIs(t, err, dnsprovider.ErrHook)
	assert.ErrorIs(t, err, boom)
}

func TestHTTPSourceAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, body, family string
		status             int
		want               string
		err                error
	}{
		{"bare v4", "203.0.113.7\n", "", 200, "203.0.113.7", nil},
		{"checkip page", "<body>Current IP Address: 203.0.113.8</body>", "ipv4", 200, "203.0.113.8", nil},
		{"bare v6", "2001:db8::7", "ipv6", 200, "2001:db8::7", nil},
		{"v6 when v4 wanted", "2001:db8::7", "ipv4", 200, "", dnsprovider.ErrWrongFamily},
		{"no address", "rate limited, try later", "", 200, "", dnsprovider.ErrSourceUnavailable},
		{"503", "203.0.113.7", "", 503, "", dnsprovider.ErrSourceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			defer web.Close()
			a, err := dnsprovider.HTTPSource{URL: web.URL, Family: tc.family}.Addr(t.Context())
			if tc.err != nil {
				assert.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, a.String())
		})
	}
}

func TestInterfaceSource(t *testing.T) {
	a, err := dnsprovider.InterfaceSource{Name: "lo", Family: "ipv4"}.Addr(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", a.String())
	_, err = dnsprovider.InterfaceSource{Name: "no-such-if0"}.Addr(t.Context())
	assert.ErrorIs(t, err, dnsprovider.ErrSourceUnavailable)
}
