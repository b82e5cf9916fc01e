// Command bindarbiter rebuilds the arbiter of the article "Failover
// architecture of two web servers" (habr 174713) with Understudy: two
// servers that are their own BIND name servers, checked on SSH, DNS, HTTP
// and MySQL; when the master's critical services (HTTP, MySQL) are down
// and the slave's are up, the A record of test.ru is pointed at the slave.
//
// Copy it and edit articleSetup. README.md maps each of the article's
// scripts to the lines below.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/understudy-ha/understudy/dnsprovider"
	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/failover/notify"
	"github.com/understudy-ha/understudy/health"
)

// server is one of the article's two hosts: the address test.ru's A record
// points at when it carries the site, and where master.sh (or slave.sh)
// probes its four services.
type server struct {
	Name  string
	IP    string // the A record's value: $HOST_MASTER / $HOST_SLAVE
	HTTP  string // URL of the site: the article's port 80
	MySQL string // host:port, 3306
	SSH   string // host:port, 22
	DNS   string // host:port of its BIND, 53
}

// setup is everything the article hard-codes in its scripts.
type setup struct {
	Master, Slave server
	Zone          string
	// TSIGKeyFile signs dynamic updates sent to NameServers (both
	// authoritative servers). Empty: rewrite ZoneFile and rndc reload it,
	// the article's own way, then ask Verify.
	TSIGKeyFile string
	NameServers []string
	ZoneFile    string
	Rndc        []string
	Verify      []string
	// SMTP is mutt's smtp_url; Admin is $EMAIL.
	SMTP  string
	Admin string
	// MySQLUser logs in with the password in MySQLPasswordFile (kept out
	// of argv and of this file).
	MySQLUser         string
	MySQLPasswordFile string
	// StateFile replaces /var/lock/sync/*.sem; Interval is cron's */1.
	StateFile string
	Interval  time.Duration
}

// articleSetup is the article's values: master 10.1.0.1, slave 10.2.0.2,
// both name servers for test.ru, and the admin's SMTP relay 10.6.6.6.
func articleSetup() setup {
	host := func(name, ip string) server {
		return server{Name: name, IP: ip, HTTP: "http://" + ip + "/",
			MySQL: ip + ":3306", SSH: ip + ":22", DNS: ip + ":53"}
	}
	return setup{
		Master:            host("master", "10.1.0.1"),
		Slave:             host("slave", "10.2.0.2"),
		Zone:              "test.ru.",
		TSIGKeyFile:       "/etc/bind/ddns.key",
		NameServers:       []string{"10.1.0.1:53", "10.2.0.2:53"},
		ZoneFile:          "/etc/bind/db.test.ru",
		Rndc:              []string{"rndc"},
		Verify:            []string{"127.0.0.1:53"},
		SMTP:              "10.6.6.6:25",
		Admin:             "admin@my.com",
		MySQLUser:         "monitor",
		MySQLPasswordFile: "/etc/understudy/mysql-monitor.pw",
		StateFile:         "/var/lib/understudy/bindarbiter.json",
		Interval:          time.Minute,
	}
}

func main() {
	s := articleSetup()
	once := flag.Bool("once", false, "run one round and exit (for cron, like the article's */1 crontab line)")
	flag.DurationVar(&s.Interval, "interval", s.Interval, "time between rounds in daemon mode")
	flag.StringVar(&s.StateFile, "state", s.StateFile, "state file (the article's /var/lock/sync/*.sem)")
	flag.StringVar(&s.TSIGKeyFile, "tsig-key", s.TSIGKeyFile, "TSIG key file (tsig-keygen output); empty: rewrite the zone file instead")
	flag.StringVar(&s.MySQLPasswordFile, "mysql-password-file", s.MySQLPasswordFile, "password of the MySQL monitor user")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*once, s, log); err != nil {
		log.Error("bindarbiter", "err", err)
		os.Exit(1)
	}
}

func run(once bool, s setup, log *slog.Logger) error {
	arb, err := newArbiter(s, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if once {
		_, err := arb.Tick(ctx)
		return err
	}
	return arb.Run(ctx)
}

// newArbiter builds the article's dnswrite.sh from s.
func newArbiter(s setup, log *slog.Logger) (*failover.Arbiter, error) {
	pw, err := os.ReadFile(s.MySQLPasswordFile)
	if err != nil {
		return nil, fmt.Errorf("mysql password: %w", err)
	}
	password := strings.TrimSpace(string(pw))

	// master.sh and slave.sh: the same four probes on each server. HTTP and
	// MySQL are critical (compare.sh's PROTOCOLS="HTTP MYSQL"); SSH and DNS
	// only notify.
	var checks []failover.Check
	var errs []error
	for _, host := range []server{s.Master, s.Slave} {
		add := func(name string, role failover.Role, c health.Checker, err error) {
			if err != nil {
				errs = append(errs, fmt.Errorf("check %s/%s: %w", host.Name, name, err))
				return
			}
			checks = append(checks, failover.Check{
				CheckSpec: failover.CheckSpec{Name: host.Name + "/" + name, Node: host.Name, Role: role},
				Checker:   c,
			})
		}
		c, err := health.NewHTTP(health.HTTPConfig{URL: host.HTTP})
		add("http", failover.RoleCritical, c, err)
		m, err := health.NewMySQL(health.MySQLConfig{Address: host.MySQL, User: s.MySQLUser, Password: password})
		add("mysql", failover.RoleCritical, m, err)
		ssh, err := health.NewTCP(health.TCPConfig{Address: host.SSH, Expect: "SSH-"})
		add("ssh", failover.RoleNotify, ssh, err)
		d, err := health.NewDNS(health.DNSConfig{Server: host.DNS, Name: s.Zone, Type: "SOA"})
		add("dns", failover.RoleNotify, d, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	// compare.sh + the sed on db.test.ru: point test.ru's A record at the
	// chosen server, on both name servers, and check both answer it.
	var sw failover.Switcher
	if s.TSIGKeyFile != "" {
		key, err := dnsprovider.LoadTSIGKey(s.TSIGKeyFile)
		if err != nil {
			return nil, err
		}
		sw, err = dnsprovider.NewRFC2136(dnsprovider.RFC2136Config{
			Zone: s.Zone, Name: "@", TTL: 10 * time.Second,
			Servers: s.NameServers,
			Key:     &key,
		})
		if err != nil {
			return nil, err
		}
	} else {
		// The article's own way, for a zone without dynamic updates (run it
		// on each name server, or keep the secondary on zone transfers).
		sw, err = dnsprovider.NewZoneFile(dnsprovider.ZoneFileConfig{
			Zone: s.Zone, Name: "@", TTL: 10 * time.Second,
			File:   s.ZoneFile,
			Rndc:   s.Rndc,
			Verify: s.Verify,
		})
		if err != nil {
			return nil, err
		}
	}

	// mutt: mail the admin on each transition, not on every round.
	mail, err := notify.NewMail(notify.MailConfig{Server: s.SMTP, From: s.Admin, To: []string{s.Admin}})
	if err != nil {
		return nil, err
	}

	master, err := netip.ParseAddr(s.Master.IP)
	if err != nil {
		return nil, fmt.Errorf("master address: %w", err)
	}
	slave, err := netip.ParseAddr(s.Slave.IP)
	if err != nil {
		return nil, fmt.Errorf("slave address: %w", err)
	}
	return failover.New(failover.Config{
		Policy: failover.Policy{
			Nodes: []failover.Node{
				{Name: s.Master.Name, Address: master, Priority: 2},
				{Name: s.Slave.Name, Address: slave, Priority: 1},
			},
			FailAfter: 3, // the semaphore counters go 0..3
			RiseAfter: 2, // the article trusts a single success; we want two
			Failback:  failover.FailbackAuto,
		},
		Checks:    checks,
		Switchers: []failover.Switcher{sw},
		Notifiers: []failover.Notifier{notify.Filter(mail, notify.DefaultMailKinds()...)},
		StatePath: s.StateFile,
		Interval:  s.Interval,
		Logger:    log,
	})
}
