package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/dnsprovider"
	"github.com/understudy-ha/understudy/failover"
	fakegandi "github.com/understudy-ha/understudy/internal/testkit/fakes/gandi"
	"github.com/understudy-ha/understudy/internal/testkit/smtpsink"
)

const (
	gandiToken = "gandi-pat-secret-0123456789"
	demeterIP  = "203.0.113.1"  // the record's value at the start
	cybelleIP  = "198.51.100.7" // what checkip shows cybelle
)

// TestBackup runs cybelle's cron script run after run against the real
// libdns/gandi code talking to the LiveDNS fake, a checkip and a tunnel
// sshd on loopback, and a real SMTP server.
func TestBackup(t *testing.T) {
	for _, failAfter := range []int{1, 3} {
		t.Run(fmt.Sprintf("fail_after=%d", failAfter), func(t *testing.T) {
			w := newWorld(t, cybelleIP)
			w.setup.FailAfter = failAfter
			w.setup.Hook = nil // TestMaster runs it

			// Master up: the first run converges on demeter, which the
			// record already names: nothing written, one mail saying so.
			w.backup(t)
			w.backup(t)
			assert.Equal(t, []string{demeterIP}, w.record(t))
			assert.Zero(t, w.gandi.Faults.Count("PUT "), "wrote with the master up")
			assert.Equal(t, []string{"demeter"}, w.smtp.switchedTo())

			// The tunnel goes down: the record moves to cybelle on the
			// FailAfter-th run, with exactly one mail.
			w.tunnel.stop(t)
			for i := 1; i < failAfter; i++ {
				w.backup(t)
				assert.Equal(t, []string{demeterIP}, w.record(t), "switched after %d failed runs", i)
			}
			w.backup(t)
			assert.Equal(t, []string{cybelleIP}, w.record(t))
			w.backup(t)
			w.backup(t)
			assert.Equal(t, []string{cybelleIP}, w.record(t))
			assert.Equal(t, []string{"demeter", "cybelle"}, w.smtp.switchedTo(), "one mail for the failover")
			for _, m := range w.smtp.received() {
				assert.Equal(t, []string{"root@soutade.fr"}, m.To)
			}

			// demeter is back and its own script takes the record back.
			w.tunnel.start(t)
			w.checkip.set("203.0.113.9")
			res, err := master(t.Context(), w.setup, nil)
			require.NoError(t, err)
			require.True(t, res.Changed)
			w.checkip.set(cybelleIP)
			puts := w.gandi.Faults.Count("PUT ")
			w.backup(t)
			w.backup(t)
			assert.Equal(t, puts, w.gandi.Faults.Count("PUT "), "cybelle wrote the record with demeter holding it")
			assert.Equal(t, []string{"203.0.113.9"}, w.record(t), "cybelle took the record again with the master up")
			assert.Equal(t, []string{"demeter", "cybelle", "demeter (active_changed)"}, w.smtp.switchedTo(),
				"one mail when the record is found back on demeter, and no write")

			// A second outage switches again.
			w.tunnel.stop(t)
			for range failAfter {
				w.backup(t)
			}
			assert.Equal(t, []string{cybelleIP}, w.record(t), "no switch on the second outage")
			assert.Equal(t, []string{"demeter", "cybelle", "demeter (active_changed)", "cybelle"}, w.smtp.switchedTo())
		})
	}
}

// TestBackupNoInternet: with checkip unreachable, a down master switches
// nothing, however many runs, and nobody is mailed.
func TestBackupNoInternet(t *testing.T) {
	w := newWorld(t, cybelleIP)
	w.backup(t)
	mails := len(w.smtp.received())
	w.checkip.stop(t)
	w.tunnel.stop(t)
	for range 3 {
		w.backup(t)
	}
	assert.Equal(t, []string{demeterIP}, w.record(t))
	assert.Zero(t, w.gandi.Faults.Count("PUT "))
	assert.Len(t, w.smtp.received(), mails)

	// The Internet is back and the master still down: now it switches.
	w.checkip.start(t)
	w.backup(t)
	assert.Equal(t, []string{cybelleIP}, w.record(t))
}

// TestMaster runs demeter's cron script: a new address from checkip
// rewrites the record and calls the hook with the old and new address;
// the same address writes nothing and calls nothing.
func TestMaster(t *testing.T) {
	w := newWorld(t, demeterIP)
	out := filepath.Join(t.TempDir(), "hook.out")
	hook := filepath.Join(t.TempDir(), "repoint-cybelle")
	require.NoError(t, os.WriteFile(hook, []byte(`#!/bin/sh
printf '%s %s %s\n' "$1" "$2" "$UNDERSTUDY_NEW_ADDRESS" >>"$HOOK_OUT"
`), 0o755))
	t.Setenv("HOOK_OUT", out)
	w.setup.Hook = []string{hook}
	hookCalls := func() []string {
		b, err := os.ReadFile(out)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		require.NoError(t, err)
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}

	res, err := master(t.Context(), w.setup, nil)
	require.NoError(t, err)
	assert.False(t, res.Changed)
	assert.Zero(t, w.gandi.Faults.Count("PUT "))
	assert.Nil(t, hookCalls())

	w.checkip.set("203.0.113.9")
	res, err = master(t.Context(), w.setup, nil)
	require.NoError(t, err)
	assert.True(t, res.Changed, "the article's exit 34")
	assert.Equal(t, "[203.0.113.1]", fmt.Sprint(res.Old))
	assert.Equal(t, "203.0.113.9", res.New.String())
	assert.Equal(t, []string{"203.0.113.9"}, w.record(t))
	assert.Equal(t, []string{"203.0.113.1 203.0.113.9 203.0.113.9"}, hookCalls())

	res, err = master(t.Context(), w.setup, nil)
	require.NoError(t, err)
	assert.False(t, res.Changed)
	assert.Len(t, hookCalls(), 1, "hook called without a change")

	// checkip down: nothing is touched, and the run says why.
	w.checkip.stop(t)
	_, err = master(t.Context(), w.setup, nil)
	require.ErrorIs(t, err, dnsprovider.ErrSourceUnavailable)
	assert.Equal(t, []string{"203.0.113.9"}, w.record(t))
}

// world is Gandi, checkip, demeter's tunnel sshd and root's mail relay,
// and a setup pointing at them.
type world struct {
	setup   setup
	gandi   *fakegandi.Server
	checkip *checkIP
	tunnel  *service
	smtp    *smtpServer
}

func newWorld(t *testing.T, myIP string) *world {
	w := &world{gandi: fakegandi.Start(t), smtp: startSMTP(t)}
	routeGandi(t, w.gandi)
	w.gandi.AddToken(gandiToken)
	w.gandi.AddZone("soutade.fr",
		fakegandi.RRset{Name: "@", Type: "A", TTL: 300, Values: []string{demeterIP}},
		fakegandi.RRset{Name: "@", Type: "MX", TTL: 10800, Values: []string{"10 spool.mail.gandi.net."}},
	)
	w.checkip = &checkIP{addr: myIP}
	w.checkip.service = startService(t, w.checkip.serve)
	w.tunnel = startService(t, serveSSH)
	tok := filepath.Join(t.TempDir(), "gandi.token")
	require.NoError(t, os.WriteFile(tok, []byte(gandiToken+"\n"), 0o600))
	w.setup = articleSetup()
	w.setup.CheckIP = "http://" + w.checkip.service.addr + "/"
	w.setup.MasterTunnel = w.tunnel.addr
	w.setup.SMTP = w.smtp.addr
	w.setup.TokenFile = tok
	w.setup.StateFile = filepath.Join(t.TempDir(), "gandi-backup.json")
	return w
}

// routeGandi makes http.DefaultTransport (libdns/gandi has no other
// seam) connect to the fake for api.gandi.net, trusting its CA, and
// dial every other address (checkip on loopback) as it is. It stays an
// *http.Transport, as health.NewHTTP expects. Tests using it do not run
// in parallel.
func routeGandi(t *testing.T, g *fakegandi.Server) {
	old := http.DefaultTransport
	tr := g.HTTP.Transport()
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, _, err := net.SplitHostPort(addr); err == nil && host == fakegandi.Host {
			addr = g.HTTP.Addr()
		}
		return d.DialContext(ctx, network, addr)
	}
	http.DefaultTransport = tr
	t.Cleanup(func() {
		http.DefaultTransport = old
		tr.CloseIdleConnections()
	})
}

// backup runs cybelle's script once, like one cron run.
func (w *world) backup(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, backup(ctx, w.setup, nil))
}

// record is the values of soutade.fr's A record at the fake.
func (w *world) record(t *testing.T) []string {
	t.Helper()
	for _, r := range w.gandi.RRsets("soutade.fr") {
		if r.Name == "@" && r.Type == "A" {
			return r.Values
		}
	}
	t.Fatal("soutade.fr has no A record")
	return nil
}

// checkIP is checkip.dyndns.com: it shows the caller's "public" address.
type checkIP struct {
	*service
	mu   sync.Mutex
	addr string
}

func (c *checkIP) set(addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addr = addr
}

func (c *checkIP) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(w, "<html><head><title>Current IP Check</title></head><body>Current IP Address: %s</body></html>\r\n", c.addr)
}

// serve serves HTTP on l until l is closed, then closes the open
// connections too, so that a stopped checkip is gone for clients that
// keep connections alive.
func (c *checkIP) serve(l net.Listener) {
	srv := &http.Server{Handler: c, ErrorLog: log.New(io.Discard, "", 0)}
	_ = srv.Serve(l)
	_ = srv.Close()
}

// service is a TCP server on loopback that a test can stop and start
// again on the same port.
type service struct {
	addr  string
	serve func(net.Listener)
	l     net.Listener
	done  chan struct{}
}

func startService(t *testing.T, serve func(net.Listener)) *service {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &service{addr: l.Addr().String(), serve: serve}
	s.run(l)
	t.Cleanup(func() { s.stop(t) })
	return s
}

func (s *service) run(l net.Listener) {
	s.l, s.done = l, make(chan struct{})
	go func() { defer close(s.done); s.serve(l) }()
}

// stop closes the listener and waits for the server loop to end; new
// connections are refused.
func (s *service) stop(t *testing.T) {
	if s.l == nil {
		return
	}
	require.NoError(t, s.l.Close())
	<-s.done
	s.l = nil
}

// start listens again on the same address.
func (s *service) start(t *testing.T) {
	l, err := net.Listen("tcp", s.addr)
	require.NoError(t, err)
	s.run(l)
}

// serveSSH greets like sshd and hangs up.
func serveSSH(l net.Listener) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		wg.Go(func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			_, _ = io.WriteString(c, "SSH-2.0-test\r\n")
		})
	}
}

// smtpServer is the relay the article mails through: a real SMTP server
// on loopback (internal/testkit/smtpsink) that records what it receives.
type smtpServer struct {
	*smtpsink.Sink
	addr string
}

func startSMTP(t *testing.T) *smtpServer {
	s := smtpsink.Start(t)
	return &smtpServer{Sink: s, addr: s.Addr}
}

func (s *smtpServer) received() []smtpsink.Message { return s.Messages() }

// switchedTo returns, for each mail received, the node it says the
// record was switched to, or was found pointing at (followed by
// " (active_changed)"); any other kind of mail fails the test.
func (s *smtpServer) switchedTo() []string {
	var to []string
	for _, m := range s.received() {
		kind := failover.EventKind(m.Header.Get("X-Understudy-Event"))
		if kind == failover.EventActiveChanged {
			if sub := activeRE.FindStringSubmatch(m.Header.Get("Subject")); sub != nil {
				to = append(to, sub[1]+" (active_changed)")
			} else {
				to = append(to, "unparsable "+m.Header.Get("Subject"))
			}
			continue
		}
		if kind != failover.EventSwitchDone {
			to = append(to, "unexpected "+string(kind))
			continue
		}
		sub := switchedRE.FindStringSubmatch(m.Header.Get("Subject"))
		if sub == nil {
			to = append(to, "unparsable "+m.Header.Get("Subject"))
			continue
		}
		to = append(to, sub[1])
	}
	return to
}

// switchedRE finds the target in a switch_done mail's subject
// ("[understudy] switched demeter -> cybelle: …").
var switchedRE = regexp.MustCompile(`switched (?:[^ ]+ -> |to )([^ :]+)`)

// activeRE finds the node in an active_changed mail's subject
// ("[understudy] active_changed: traffic points at demeter, not at …").
var activeRE = regexp.MustCompile(`traffic points at ([^ ,]+),`)
