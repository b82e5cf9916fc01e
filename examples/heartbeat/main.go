// Command heartbeat rebuilds the two-node cluster of the article "Serveur
// Linux haute disponibilité" (Heartbeat + DRBD) with Understudy: debian1
// and debian2 watch each other over the crossover link, and the node that
// is active takes over one resource group, in order — the virtual IP
// 192.168.69.100, the DRBD resource repl, the ext3 file system on
// /mnt/repl, Apache, a mail to the admin — and releases it in reverse.
//
// Run it on both nodes with -self debian1 / -self debian2. README.md maps
// the article's ha.cf and haresources to the lines below.
package main

import (
	"context"
	"flag"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/failover/notify"
	"github.com/understudy-ha/understudy/health"
	"github.com/understudy-ha/understudy/ippool"
)

func main() {
	self := flag.String("self", "debian1", "this node's name (ha.cf: node debian1 debian2)")
	state := flag.String("state", "/var/lib/understudy/heartbeat.json", "state file")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*self, *state, log); err != nil {
		log.Error("heartbeat", "err", err)
		os.Exit(1)
	}
}

// policy is ha.cf: keepalive 2, warntime 10, deadtime 60, initdead 80,
// auto_failback off. The arbiter checks every 2 s, so 10 s is 5 missed
// checks and 60 s is 30.
func policy() failover.Policy {
	const keepalive = 2 * time.Second
	return failover.Policy{
		Nodes: []failover.Node{
			// haresources names debian1 first: it is the preferred node.
			{Name: "debian1", Address: netip.MustParseAddr("192.168.69.14"), Priority: 2},
			{Name: "debian2", Address: netip.MustParseAddr("192.168.69.15"), Priority: 1},
		},
		Checks: []failover.CheckSpec{
			{Name: "debian1/link", Node: "debian1"},
			{Name: "debian2/link", Node: "debian2"},
		},
		WarnAfter: int(10 * time.Second / keepalive), // warntime 10
		FailAfter: int(60 * time.Second / keepalive), // deadtime 60
		Grace:     80 * time.Second,                  // initdead 80
		Failback:  failover.FailbackManual,           // auto_failback off
	}
}

func run(self, state string, log *slog.Logger) error {
	// bcast eth1 / udpport 694: each node is "alive" while it answers on
	// the crossover link (10.0.0.0/8). sshd stands in for the heartbeat.
	var checks []failover.Check
	for _, n := range []struct{ name, addr string }{{"debian1", "10.0.0.1:22"}, {"debian2", "10.0.0.2:22"}} {
		c, err := health.NewTCP(health.TCPConfig{Address: n.addr, Expect: "SSH-"})
		if err != nil {
			return err
		}
		checks = append(checks, failover.Check{CheckSpec: failover.CheckSpec{Name: n.name + "/link", Node: n.name}, Checker: c})
	}

	// haresources: debian1 IPaddr::192.168.69.100 drbddisk::repl
	//   Filesystem::/dev/drbd0::/mnt/repl::ext3 apache MailTo::admin@example.com
	vip, err := ippool.NewVIP(ippool.VIPConfig{Self: self, Interface: "eth0", Address: netip.MustParsePrefix("192.168.69.100/24"), Logger: log})
	if err != nil {
		return err
	}
	defer vip.Close()
	mail, err := notify.NewMail(notify.MailConfig{Server: "localhost:25", From: "heartbeat@example.com", To: []string{"admin@example.com"}})
	if err != nil {
		return err
	}
	group, err := ippool.NewGroup(ippool.GroupConfig{Name: "web", Self: self, Logger: log, Steps: []ippool.GroupStep{
		{Name: "IPaddr::192.168.69.100", Step: vip},
		// drbddisk::repl. The replicate package's DRBD switcher plugs in
		// here with ippool.SwitcherStep; until then, drbdadm by argv.
		{Name: "drbddisk::repl", Step: &ippool.Command{
			TakeoverArgv: []string{"drbdadm", "primary", "repl"},
			ReleaseArgv:  []string{"drbdadm", "secondary", "repl"},
		}},
		{Name: "Filesystem::/dev/drbd0::/mnt/repl::ext3", Step: &ippool.Mount{Device: "/dev/drbd0", Target: "/mnt/repl", FSType: "ext3"}},
		{Name: "apache", Step: &ippool.Command{ // Debian Etch's init script; ippool.Systemctl on systemd
			TakeoverArgv: []string{"/etc/init.d/apache", "start"},
			ReleaseArgv:  []string{"/etc/init.d/apache", "stop"},
		}},
		{Name: "MailTo::admin@example.com", Step: &ippool.Notify{Notifier: mail, Self: self, Group: "web", Logger: log}},
	}})
	if err != nil {
		return err
	}

	arb, err := failover.New(failover.Config{
		Policy:    policy(),
		Checks:    checks,
		Switchers: []failover.Switcher{group},
		StatePath: state,
		Interval:  2 * time.Second, // keepalive 2
		Logger:    log,
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return arb.Run(ctx)
}
