package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/internal/servers/bind"
	"github.com/understudy-ha/understudy/internal/testkit/bindtest"
)

// TestDDNSCommand runs the master side of the article on a real named:
// the record follows this host's address (exit 34, old and new
// printed), then stays (exit 0); a dead address source is exit 1 and
// no update.
func TestDDNSCommand(t *testing.T) {
	srv := bindtest.Start(t, bind.Options{Zones: []bind.Zone{{Name: "soutade.test", Updates: true}}})
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
	assert.Empty(t, r.stdout, "silent when nothing changed: cron mails what a job prints")
	r = runCLI(t, "-c", cfg, "ddns", "-v")
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

// TestRunDDNS runs the daemon with ddns.every on a real named: the
// record follows this host's address each time it moves, each change is
// logged and sent to the webhook as address_changed, a dead source is
// only a warning, and the daemon exits 0 when its context ends.
func TestRunDDNS(t *testing.T) {
	srv := bindtest.Start(t, bind.Options{Zones: []bind.Zone{{Name: "soutade.test", Updates: true}}})
	var addr atomic.Value
	addr.Store("198.51.100.9")
	var failing atomic.Bool
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "Current IP Address: %s", addr.Load())
	}))
	t.Cleanup(web.Close)
	up := upServer(t)
	hook, heard := hookServer(t)
	cfgPath := writeConfig(t, twoNodes(up.URL+"/", closedPort(t), fmt.Sprintf(`notify:
  - {type: webhook, url: %q, events: [address_changed]}
ddns:
  every: 50ms
  source_url: %s
  family: ipv4
  node: a
  record:
    type: libdns
    provider: bind
    zone: soutade.test
    name: www
    ttl: 10s
    server: %s
    tsig_key_file: %s
`, hook.URL, web.URL, srv.Addr, srv.KeyFile)))
	cfgText, err := os.ReadFile(cfgPath)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cfgPath, bytes.Replace(cfgText, []byte("log: {level: warn}"), []byte("log: {format: json, level: info}"), 1), 0o600))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"-c", cfgPath, "run"}, &stdout, &stderr) }()

	recordIs := func(want string) func() bool {
		return func() bool {
			a := srv.Query(t, "www.soutade.test.", dns.TypeA)
			return len(a.Answer) == 1 && a.Answer[0].(*dns.A).A.String() == want
		}
	}
	require.Eventually(t, recordIs("198.51.100.9"), 10*time.Second, 20*time.Millisecond, "first address never written: %s", stderr.String())
	addr.Store("198.51.100.10")
	require.Eventually(t, recordIs("198.51.100.10"), 10*time.Second, 20*time.Millisecond, "moved address never written: %s", stderr.String())
	require.Eventually(t, func() bool { return len(heard()) == 2 }, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, []failover.EventKind{failover.EventAddressChanged, failover.EventAddressChanged}, heard())
	assert.Contains(t, stderr.String(), `"msg":"ddns changed","node":"a","old":"198.51.100.9","new":"198.51.100.10"`)

	failing.Store(true)
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), `"msg":"ddns update failed"`) }, 10*time.Second, 20*time.Millisecond)
	assert.Contains(t, stderr.String(), `"level":"WARN","msg":"ddns update failed"`)
	assert.True(t, recordIs("198.51.100.10")(), "a dead source writes nothing")

	cancel()
	select {
	case code := <-done:
		assert.Equal(t, exitOK, code, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
	assert.Contains(t, stderr.String(), `"msg":"understudy stopped"`)
}
