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
// README.md maps the article's files to the lines below.
package main

import (
	"context"
	"flag"
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

func main() {
	tokenFile := flag.String("token-file", "/etc/understudy/do-token", "file holding the DigitalOcean API token (read/write scope)")
	reservedIP := flag.String("ip", "203.0.113.177", "the reserved IP (the article's 138.xxx.xxx.177)")
	noMetadata := flag.Bool("no-metadata", false, "not running on a droplet: skip the metadata service")
	state := flag.String("state", "/var/lib/understudy/keepalived-do.json", "state file")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*tokenFile, *reservedIP, *noMetadata, *state, log); err != nil {
		log.Error("keepalived-do", "err", err)
		os.Exit(1)
	}
}

func run(tokenFile, ip string, noMetadata bool, state string, log *slog.Logger) error {
	// export DO_TOKEN='...': the token comes from a file, never from argv
	// or a script, and never reaches a log line.
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		return err
	}
	api, err := ippool.NewGodoClient(strings.TrimSpace(string(token)), "", nil)
	if err != nil {
		return err
	}
	// master.sh: curl metadata/v1/id, metadata/v1/floating_ip/ipv4/active,
	// then assign-ip $IP $ID up to 10 times, 3 s apart.
	sw, err := ippool.NewReservedIP(api, ippool.ReservedIPConfig{
		IP:         netip.MustParseAddr(ip),
		NoMetadata: noMetadata,
		Deadline:   30 * time.Second, // 10 tries × 3 s
		Logger:     log,
	})
	if err != nil {
		return err
	}

	// vrrp_script chk_nginx { script "pidof nginx"; interval 2 }, run
	// against both droplets over the private network, so one arbiter can
	// judge both (pidof only sees the local droplet).
	nodes := []failover.Node{
		// state MASTER, priority 200, unicast_src_ip 10.134.23.164
		{Name: "ubuntu-master", Address: netip.MustParseAddr("10.134.23.164"), Priority: 200,
			Labels: map[string]string{ippool.DropletLabel: "1111111"}},
		// state BACKUP, priority 100, unicast_src_ip 10.134.4.220
		{Name: "ubuntu-backup", Address: netip.MustParseAddr("10.134.4.220"), Priority: 100,
			Labels: map[string]string{ippool.DropletLabel: "2222222"}},
	}
	var checks []failover.Check
	var specs []failover.CheckSpec
	for _, n := range nodes {
		c, err := health.NewHTTP(health.HTTPConfig{URL: "http://" + n.Address.String() + "/load.html"})
		if err != nil {
			return err
		}
		spec := failover.CheckSpec{Name: n.Name + "/nginx", Node: n.Name}
		specs = append(specs, spec)
		checks = append(checks, failover.Check{CheckSpec: spec, Checker: c})
	}

	arb, err := failover.New(failover.Config{
		Policy: failover.Policy{
			Nodes:  nodes,
			Checks: specs,
			// keepalived takes a failed track_script at once (fall 1); we ask
			// for 2 failures in a row, and 2 successes before failing back
			// (keepalived preempts as soon as the master is back).
			FailAfter: 2,
			RiseAfter: 2,
			Failback:  failover.FailbackAuto,
		},
		Checks:    checks,
		Switchers: []failover.Switcher{sw},
		StatePath: state,
		Interval:  2 * time.Second, // interval 2
		Logger:    log,
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return arb.Run(ctx)
}
