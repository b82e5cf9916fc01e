// Command keepalived-do rebuilds the setup of the article "Serveur High
// Availability : créer un load balancer avec une IP flottante": two
// DigitalOcean droplets running nginx, a reserved (floating) IP that
// follows the healthy one, master preferred (priority 200 over 100).
//
// Where the article has keepalived elect a master and a notify_master
// shell script call DigitalOcean's assign-ip ten times, three seconds
// apart, this program checks nginx on both droplets every 2 seconds and
// moves the reserved IP with the ippool.ReservedIP switcher (metadata
// check, API check, assign, action polling, retries under a deadline).
// Run it on each droplet, or on a third machine with -no-metadata.
// Copy it and edit articleSetup; README.md maps the article's files to
// the lines below.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/health"
	"github.com/understudy-ha/understudy/ippool"
)

// droplet is one of the article's two droplets.
type droplet struct {
	Name     string
	ID       string // assign-ip $IP $ID
	Address  string // unicast_src_ip, on the private network
	Priority int
	Nginx    string // URL that says nginx answers (chk_nginx)
}

// setup is everything the article hard-codes in keepalived.conf and
// master.sh.
type setup struct {
	Master, Backup droplet
	ReservedIP     string // the article's 138.xxx.xxx.177
	TokenFile      string // DO_TOKEN, from a file
	APIURL         string // "" for DigitalOcean's API
	MetadataURL    string // "" for the droplet metadata service
	NoMetadata     bool
	StateFile      string
	Interval       time.Duration // vrrp_script interval
}

// articleSetup is the article's values (the droplet IDs are made up).
func articleSetup() setup {
	host := func(name, id, ip string, prio int) droplet {
		return droplet{Name: name, ID: id, Address: ip, Priority: prio, Nginx: "http://" + ip + "/load.html"}
	}
	return setup{
		Master:     host("ubuntu-master", "1111111", "10.134.23.164", 200), // state MASTER, priority 200
		Backup:     host("ubuntu-backup", "2222222", "10.134.4.220", 100),  // state BACKUP, priority 100
		ReservedIP: "203.0.113.177",
		TokenFile:  "/etc/understudy/do-token",
		StateFile:  "/var/lib/understudy/keepalived-do.json",
		Interval:   2 * time.Second, // interval 2
	}
}

func main() {
	s := articleSetup()
	flag.StringVar(&s.TokenFile, "token-file", s.TokenFile, "file holding the DigitalOcean API token (read/write scope)")
	flag.StringVar(&s.ReservedIP, "ip", s.ReservedIP, "the reserved IP (the article's 138.xxx.xxx.177)")
	flag.BoolVar(&s.NoMetadata, "no-metadata", s.NoMetadata, "not running on a droplet: skip the metadata service")
	flag.StringVar(&s.StateFile, "state", s.StateFile, "state file")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(s, log); err != nil {
		log.Error("keepalived-do", "err", err)
		os.Exit(1)
	}
}

func run(s setup, log *slog.Logger) error {
	arb, err := newArbiter(s, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return arb.Run(ctx)
}

// newArbiter builds keepalived and notify_master from s.
func newArbiter(s setup, log *slog.Logger) (*failover.Arbiter, error) {
	// export DO_TOKEN='...': the token comes from a file, never from argv
	// or a script, and never reaches a log line.
	token, err := os.ReadFile(s.TokenFile)
	if err != nil {
		return nil, err
	}
	api, err := ippool.NewGodoClient(strings.TrimSpace(string(token)), s.APIURL, nil)
	if err != nil {
		return nil, err
	}
	ip, err := netip.ParseAddr(s.ReservedIP)
	if err != nil {
		return nil, fmt.Errorf("reserved ip: %w", err)
	}
	// master.sh: curl metadata/v1/id, metadata/v1/floating_ip/ipv4/active,
	// then assign-ip $IP $ID up to 10 times, 3 s apart.
	sw, err := ippool.NewReservedIP(api, ippool.ReservedIPConfig{
		IP:          ip,
		MetadataURL: s.MetadataURL,
		NoMetadata:  s.NoMetadata,
		Deadline:    30 * time.Second, // 10 tries × 3 s
		Logger:      log,
	})
	if err != nil {
		return nil, err
	}

	// vrrp_script chk_nginx { script "pidof nginx"; interval 2 }, run
	// against both droplets over the private network, so one arbiter can
	// judge both (pidof only sees the local droplet).
	var nodes []failover.Node
	var checks []failover.Check
	for _, d := range []droplet{s.Master, s.Backup} {
		addr, err := netip.ParseAddr(d.Address)
		if err != nil {
			return nil, fmt.Errorf("droplet %s: %w", d.Name, err)
		}
		nodes = append(nodes, failover.Node{Name: d.Name, Address: addr, Priority: d.Priority,
			Labels: map[string]string{ippool.DropletLabel: d.ID}})
		c, err := health.NewHTTP(health.HTTPConfig{URL: d.Nginx})
		if err != nil {
			return nil, fmt.Errorf("droplet %s: %w", d.Name, err)
		}
		checks = append(checks, failover.Check{
			CheckSpec: failover.CheckSpec{Name: d.Name + "/nginx", Node: d.Name}, Checker: c})
	}

	return failover.New(failover.Config{
		Policy: failover.Policy{
			Nodes: nodes,
			// keepalived takes a failed track_script at once (fall 1); we ask
			// for 2 failures in a row, and 2 successes before failing back
			// (keepalived preempts as soon as the master is back).
			FailAfter: 2,
			RiseAfter: 2,
			Failback:  failover.FailbackAuto,
		},
		Checks:       checks,
		Switchers:    []failover.Switcher{sw},
		StatePath:    s.StateFile,
		Interval:     s.Interval,
		CheckTimeout: s.Interval / 2, // a check must end before the next round
		Logger:       log,
	})
}
