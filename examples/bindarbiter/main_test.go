package main

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/internal/servers/bind"
	"github.com/understudy-ha/understudy/internal/testkit/bindtest"
	"github.com/understudy-ha/understudy/internal/testkit/mariadb"
	"github.com/understudy-ha/understudy/internal/testkit/smtpsink"
)

// The article's db.test.ru, on loopback: the master is 127.0.0.1 and the
// slave 127.0.0.2.
const zoneFile = `$ORIGIN test.ru.
$TTL 10
@ IN SOA ns.master.my.com. admin.my.com. ( 2 ; Serial
 10 ; Refresh
 10 ; Retry
 10 ; Expire
 10 ) ; Negative Cache TTL
 IN NS ns.master.my.com.
 IN NS ns.slave.my.com.
;
@ IN A 127.0.0.1
`

const (
	masterIP = "127.0.0.1"
	slaveIP  = "127.0.0.2"
)

// TestArticle runs the arbiter the way the article's cron did, one Tick per
// "minute", against real named, MariaDB, HTTP, SSH-banner and SMTP servers
// on loopback, and checks what named answers and what the admin received.
func TestArticle(t *testing.T) {
	// One MariaDB serves both nodes' MySQL checks: the failures below are
	// injected on HTTP and SSH, so a second server would only cost start-up
	// time without being taken down.
	db := mariadb.Start(t)
	db.Exec(t, "CREATE USER 'monitor'@'%' IDENTIFIED BY 'monitor-pw'")
	pwFile := filepath.Join(t.TempDir(), "mysql-monitor.pw")
	require.NoError(t, os.WriteFile(pwFile, []byte("monitor-pw\n"), 0o600))

	t.Run("rfc2136", func(t *testing.T) {
		// Two name servers sharing a key, like the article's two NS.
		ns1 := bindtest.Start(t, bind.Options{Zones: []bind.Zone{{Name: "test.ru", Updates: true, Content: zoneFile}}})
		ns2 := bindtest.Start(t, bind.Options{Zones: []bind.Zone{{Name: "test.ru", Updates: true, Content: zoneFile}}, Key: &ns1.TSIGKey})
		w := newWorld(t, db.Addr, pwFile, ns1.Addr, ns2.Addr)
		w.setup.TSIGKeyFile = ns1.KeyFile
		w.setup.NameServers = []string{ns1.Addr, ns2.Addr}
		arb, err := newArbiter(w.setup, nil)
		require.NoError(t, err)
		both := func() []string { return []string{aRecord(t, ns1), aRecord(t, ns2)} }

		// First run, all healthy: the arbiter converges on the master
		// (the record already says so) and then makes no switch.
		rep := tick(t, arb)
		assert.Equal(t, "master", rep.Active)
		assert.Equal(t, []failover.EventKind{failover.EventSwitchDone}, w.smtp.kindsSince(0))
		rep = tick(t, arb)
		assert.False(t, rep.Decision.Switch, "switched with both servers healthy")
		assert.Equal(t, []string{masterIP, masterIP}, both())
		mails := w.smtp.Count()

		// The master's sshd dies: SSH is notify-only, so a mail at the
		// third failure and no switch, however long it lasts.
		w.masterSSH.stop(t)
		for i := 1; i <= 5; i++ {
			rep := tick(t, arb)
			assert.False(t, rep.Decision.Switch, "SSH failure %d switched", i)
		}
		assert.Equal(t, []string{masterIP, masterIP}, both())
		assert.Equal(t, []failover.EventKind{failover.EventCheckDown}, w.smtp.kindsSince(mails))
		w.masterSSH.start(t)
		tick(t, arb)
		tick(t, arb)
		assert.Equal(t, []failover.EventKind{failover.EventCheckDown, failover.EventCheckUp}, w.smtp.kindsSince(mails))
		mails = w.smtp.Count()

		// The master's Apache dies: the counter reaches 3 on the third
		// round, and both name servers then answer the slave.
		w.masterHTTP.stop(t)
		for i := 1; i <= 2; i++ {
			rep := tick(t, arb)
			require.False(t, rep.Decision.Switch, "switched after %d failures", i)
			assert.Equal(t, []string{masterIP, masterIP}, both())
		}
		rep = tick(t, arb)
		require.True(t, rep.Switched, "no switch after 3 failures: %v", rep.SwitchErr)
		assert.Equal(t, "slave", rep.Active)
		assert.Equal(t, []string{slaveIP, slaveIP}, both())
		// Later rounds with the master still down send nothing more.
		tick(t, arb)
		tick(t, arb)
		assert.Equal(t, []failover.EventKind{failover.EventCheckDown, failover.EventNodeDown, failover.EventSwitchDone},
			w.smtp.kindsSince(mails), "one mail per transition, not one per round")
		mails = w.smtp.Count()

		// Apache is back: failback after RiseAfter (2) good rounds.
		w.masterHTTP.start(t)
		rep = tick(t, arb)
		assert.False(t, rep.Decision.Switch, "failed back after one success")
		assert.Equal(t, []string{slaveIP, slaveIP}, both())
		rep = tick(t, arb)
		require.True(t, rep.Switched, "no failback: %v", rep.SwitchErr)
		assert.Equal(t, "master", rep.Active)
		assert.Equal(t, []string{masterIP, masterIP}, both())
		assert.Equal(t, []failover.EventKind{failover.EventCheckUp, failover.EventNodeUp, failover.EventSwitchDone},
			w.smtp.kindsSince(mails))
		for _, m := range w.smtp.received()[mails:] {
			assert.Equal(t, []string{"admin@my.com"}, m.To)
		}
	})

	t.Run("zonefile", func(t *testing.T) {
		// The article's way: a static zone, rewritten and reloaded.
		ns := bindtest.Start(t, bind.Options{Zones: []bind.Zone{{Name: "test.ru", Content: zoneFile}}})
		w := newWorld(t, db.Addr, pwFile, ns.Addr, ns.Addr)
		w.setup.TSIGKeyFile = ""
		w.setup.ZoneFile = ns.ZoneFile("test.ru")
		w.setup.Rndc = ns.RndcArgs()
		w.setup.Verify = []string{ns.Addr}
		arb, err := newArbiter(w.setup, nil)
		require.NoError(t, err)

		tick(t, arb)
		serial := ns.Serial(t, "test.ru")
		w.masterHTTP.stop(t)
		tick(t, arb)
		tick(t, arb)
		assert.Equal(t, masterIP, aRecord(t, ns))
		rep := tick(t, arb)
		require.True(t, rep.Switched, "no switch after 3 failures: %v", rep.SwitchErr)
		assert.Equal(t, slaveIP, aRecord(t, ns))
		assert.Greater(t, ns.Serial(t, "test.ru"), serial, "serial not bumped")
		text, err := os.ReadFile(ns.ZoneFile("test.ru"))
		require.NoError(t, err)
		assert.Contains(t, string(text), "ns.master.my.com.", "the rest of the zone was lost")

		w.masterHTTP.start(t)
		tick(t, arb)
		rep = tick(t, arb)
		require.True(t, rep.Switched, "no failback: %v", rep.SwitchErr)
		assert.Equal(t, masterIP, aRecord(t, ns))
	})
}

// world is the two servers' services on loopback, the admin's SMTP relay,
// and a setup pointing at them. The name-server fields are the caller's.
type world struct {
	setup                 setup
	masterHTTP, masterSSH *service
	smtp                  *smtpServer
}

func newWorld(t *testing.T, mysqlAddr, pwFile, masterDNS, slaveDNS string) *world {
	w := &world{smtp: startSMTP(t)}
	w.masterHTTP = startService(t, masterIP, serveHTTP)
	slaveHTTP := startService(t, slaveIP, serveHTTP)
	w.masterSSH = startService(t, masterIP, serveSSH)
	slaveSSH := startService(t, slaveIP, serveSSH)
	w.setup = articleSetup()
	w.setup.Master = server{Name: "master", IP: masterIP, HTTP: "http://" + w.masterHTTP.addr + "/",
		MySQL: mysqlAddr, SSH: w.masterSSH.addr, DNS: masterDNS}
	w.setup.Slave = server{Name: "slave", IP: slaveIP, HTTP: "http://" + slaveHTTP.addr + "/",
		MySQL: mysqlAddr, SSH: slaveSSH.addr, DNS: slaveDNS}
	w.setup.SMTP = w.smtp.addr
	w.setup.MySQLPasswordFile = pwFile
	w.setup.StateFile = filepath.Join(t.TempDir(), "bindarbiter.json")
	return w
}

// tick runs one round, like one cron run of dnswrite.sh.
func tick(t *testing.T, arb *failover.Arbiter) failover.RoundReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := arb.Tick(ctx)
	require.NoError(t, err)
	return rep
}

// aRecord is what ns answers for test.ru A.
func aRecord(t *testing.T, ns *bindtest.Server) string {
	t.Helper()
	r := ns.Query(t, "test.ru.", dns.TypeA)
	require.Equal(t, dns.RcodeSuccess, r.Rcode)
	require.Len(t, r.Answer, 1)
	a, ok := r.Answer[0].(*dns.A)
	require.True(t, ok, "answer %v", r.Answer[0])
	return a.A.String()
}

// service is a TCP server on a fixed loopback address that a test can stop
// and start again on the same port.
type service struct {
	addr  string
	serve func(net.Listener)
	l     net.Listener
	done  chan struct{}
}

func startService(t *testing.T, ip string, serve func(net.Listener)) *service {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
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

// serveHTTP is the site: 200 on /.
func serveHTTP(l net.Listener) {
	srv := &http.Server{
		Handler:  http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "test.ru\n") }),
		ErrorLog: log.New(io.Discard, "", 0),
	}
	_ = srv.Serve(l)
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

// kindsSince returns the event kinds (X-Understudy-Event) of the mails
// received after the first n.
func (s *smtpServer) kindsSince(n int) []failover.EventKind {
	var kinds []failover.EventKind
	for _, m := range s.received()[n:] {
		kinds = append(kinds, failover.EventKind(m.Header.Get("X-Understudy-Event")))
	}
	return kinds
}
