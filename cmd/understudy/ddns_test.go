package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/internal/harness/bind"
)

// TestDDNSCommand runs the master side of the article on a real named:
// the record follows this host's address (exit 34, old and new
// printed), then stays (exit 0); a dead address source is exit 1 and
// no update.
func TestDDNSCommand(t *testing.T) {
	srv := bind.Start(t, bind.Options{Zones: []bind.Zone{{Name: "soutade.test", Updates: true}}})
	var addr atomic.Value
	addr.Store("198.51.100.9")
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "<html><body>Current IP Address: %s</body></html>", addr.Load())
	}))
	t.Cleanup(web.Close)
	cfg := writeConfig(t, fmt.Sprintf(`log: {level: warn}
nodes:
  - {name: demeter, address: 192.0.2.10}
ddns:
  source_url: %s
  family: ipv4
  node: demeter
  record:
    type: libdns
    provider: bind
    zone: soutade.test
    name: www
    ttl: 10s
    server: %s
    tsig_key_file: %s
`, web.URL, srv.Addr, srv.KeyFile))

	r := runCLI(t, "-c", cfg, "ddns")
	require.Equal(t, exitChanged, r.code, r.stderr)
	assert.Equal(t, "changed 192.0.2.10 198.51.100.9\n", r.stdout)
	a := srv.Query(t, "www.soutade.test.", dns.TypeA)
	require.Len(t, a.Answer, 1)
	assert.Equal(t, "198.51.100.9", a.Answer[0].(*dns.A).A.String())

	r = runCLI(t, "-c", cfg, "ddns")
	assert.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "unchanged 198.51.100.9\n", r.stdout)

	serial := srv.Serial(t, "soutade.test")
	web.Close()
	r = runCLI(t, "-c", cfg, "ddns")
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "address source unavailable")
	assert.Equal(t, serial, srv.Serial(t, "soutade.test"))
}

// TestValidateLibdnsSwitcher builds a gandi libdns switcher from the
// configuration; a missing token is refused with the place in the file.
func TestValidateLibdnsSwitcher(t *testing.T) {
	t.Setenv("GANDI_PAT", "pat")
	base := `nodes:
  - {name: demeter, address: 192.0.2.10}
switchers:
  - type: libdns
    provider: gandi
    zone: soutade.fr
    name: "@"
    ttl: 300s
`
	r := runCLI(t, "-c", writeConfig(t, base+"    token_env: GANDI_PAT\n"), "validate")
	assert.Equal(t, exitOK, r.code, r.stderr)
	r = runCLI(t, "-c", writeConfig(t, base), "validate")
	assert.NotEqual(t, exitOK, r.code)
	assert.Contains(t, r.stderr, "token_file or token_env")
}
