// Command gandi rebuilds the DNS failover of Grégory Soutadé's article
// "La réplication quand on est auto hébergé" (2015) with Understudy: a
// master at home (demeter) whose address changes, a backup at a friend's
// (cybelle) linked to it by an OpenVPN tunnel, and soutade.fr's A record
// at Gandi.
//
//	gandi backup   on cybelle, every ten minutes from cron (the article's
//	               first cron script): if the Internet is there and the
//	               master does not answer over the tunnel, point the
//	               record at cybelle's own address and mail root.
//	gandi master   on demeter, every ten minutes (the second script): if
//	               demeter's address changed, point the record back at it,
//	               then run the hook with the old and new address, which
//	               rewrites cybelle's OpenVPN "remote" line. Exit status 34
//	               when the record changed, like the modified gandi.py.
//
// The Gandi token is read from /etc/understudy/gandi.token (a LiveDNS
// personal access token). Copy and edit articleSetup; README.md maps
// the article's scripts to the lines below.
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

	"github.com/understudy-ha/understudy/dnsprovider"
	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/failover/notify"
	"github.com/understudy-ha/understudy/health"
)

// setup is everything the article's two scripts hard-code.
type setup struct {
	Zone, Name string
	// MasterTunnel is MASTER_ADDRESS, the master's sshd seen over OpenVPN.
	MasterTunnel string
	// CheckIP is checkip.dyndns.com: the witness ("is the Internet
	// there") and where each host reads its own public address.
	CheckIP string
	// SMTP relays mail to Root (mail -s … root@$HOST).
	SMTP, Root string
	// TokenFile holds the LiveDNS personal access token.
	TokenFile string
	// StateFile keeps the arbiter's state between cron runs.
	StateFile string
	// FailAfter is how many runs in a row the tunnel must fail.
	FailAfter int
	// Hook repoints cybelle's OpenVPN at demeter's new address; it gets
	// OLD NEW (see README.md).
	Hook []string
}

// articleSetup is the article's values.
func articleSetup() setup {
	return setup{
		Zone:         "soutade.fr.",
		Name:         "@",
		MasterTunnel: "10.8.0.1:22", // MASTER_ADDRESS="10.8.0.1"
		CheckIP:      "http://checkip.dyndns.com/",
		SMTP:         "localhost:25",
		Root:         "root@soutade.fr",
		TokenFile:    "/etc/understudy/gandi.token",
		StateFile:    "/var/lib/understudy/gandi-backup.json",
		FailAfter:    1, // the article switches on the first failed run
		Hook:         []string{"/usr/local/sbin/repoint-cybelle"},
	}
}

const (
	gandiMinTTL   = 300 * time.Second // LiveDNS refuses less
	exitChanged   = 34
	exitUsage     = 2
	switchTimeout = 30 * time.Second
)

func main() {
	flag.Parse()
	s := articleSetup()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	code := 0
	switch flag.Arg(0) {
	case "backup":
		err = backup(ctx, s, log)
	case "master":
		var res dnsprovider.DDNSResult
		res, err = master(ctx, s, log)
		if res.Changed {
			fmt.Printf("changed %v %s\n", res.Old, res.New) // gandi.py's old and new IP
			code = exitChanged
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: gandi backup|master")
		os.Exit(exitUsage)
	}
	if err != nil {
		log.Error("gandi", "err", err)
		os.Exit(1)
	}
	os.Exit(code)
}

// gandiRecord is the modified gandi.py: soutade.fr's A record at Gandi.
func gandiRecord(s setup, log *slog.Logger) (*dnsprovider.Libdns, error) {
	tok, err := os.ReadFile(s.TokenFile)
	if err != nil {
		return nil, err
	}
	p, err := dnsprovider.NewGandi(strings.TrimSpace(string(tok)))
	if err != nil {
		return nil, err
	}
	return dnsprovider.NewLibdns(dnsprovider.LibdnsConfig{
		Provider: p, ProviderName: "gandi", Zone: s.Zone, Name: s.Name, TTL: gandiMinTTL,
		Type: "A", Timeout: switchTimeout, Logger: log,
	})
}

// backup is one run of cybelle's cron script.
func backup(ctx context.Context, s setup, log *slog.Logger) error {
	record, err := gandiRecord(s, log)
	if err != nil {
		return err
	}
	// "il change l'entrée DNS vers son IP actuelle": cybelle's own
	// public address, as checkip sees it.
	self, err := dnsprovider.HTTPSource{URL: s.CheckIP, Family: "ipv4"}.Addr(ctx)
	if err != nil {
		return nil // no Internet at all: exit 0, like "ping checkip || exit 0"
	}
	// The master's public address is whatever the record holds now.
	cur, err := record.Current(ctx)
	if err != nil {
		return err
	}
	master := netip.IPv4Unspecified()
	if len(cur) > 0 {
		master = cur[0]
	}

	// ping -c 4 checkip.dyndns.com || exit 0: a witness check. When it
	// fails, the arbiter is isolated and switches nothing.
	witness, err := health.NewHTTP(health.HTTPConfig{URL: s.CheckIP})
	if err != nil {
		return err
	}
	// ping -c 4 $MASTER_ADDRESS && exit 0: the master over the tunnel.
	tunnel, err := health.NewTCP(health.TCPConfig{Address: s.MasterTunnel, Expect: "SSH-"})
	if err != nil {
		return err
	}
	// echo `date` | mail -s "Fallback server (cybelle) activated" root:
	// a mail per switch (or failed switch), not per run; and one when
	// the record is found back on demeter ("Master server (demeter)
	// activated").
	mail, err := notify.NewMail(notify.MailConfig{Server: s.SMTP, From: s.Root, To: []string{s.Root}})
	if err != nil {
		return err
	}
	arb, err := failover.New(failover.Config{
		Policy: failover.Policy{
			Nodes: []failover.Node{
				{Name: "demeter", Address: master, Priority: 2},
				{Name: "cybelle", Address: self, Priority: 1},
			},
			FailAfter: s.FailAfter,
			RiseAfter: 1,                       // one answer over the tunnel is enough ("&& exit 0")
			Failback:  failover.FailbackManual, // demeter takes the record back itself (gandi master)
		},
		Checks: []failover.Check{
			{CheckSpec: failover.CheckSpec{Name: "internet", Role: failover.RoleWitness}, Checker: witness},
			{CheckSpec: failover.CheckSpec{Name: "demeter/tunnel", Node: "demeter", Role: failover.RoleCritical}, Checker: tunnel},
		},
		// python /home/soutade/gandi.py
		Switchers:     []failover.Switcher{record},
		SwitchTimeout: 2 * switchTimeout,
		Notifiers:     []failover.Notifier{notify.Filter(mail, failover.EventSwitchDone, failover.EventSwitchFailed, failover.EventActiveChanged)},
		StatePath:     s.StateFile,
		Logger:        log,
	})
	if err != nil {
		return err
	}
	// When demeter has taken the record back (gandi master), the arbiter
	// reads the record (record is a failover.Currenter), records demeter
	// as active again and mails active_changed, so that demeter's next
	// failure switches again.
	_, err = arb.Tick(ctx)
	return err
}

// master is one run of demeter's cron script.
func master(ctx context.Context, s setup, log *slog.Logger) (dnsprovider.DDNSResult, error) {
	record, err := gandiRecord(s, log)
	if err != nil {
		return dnsprovider.DDNSResult{}, err
	}
	d, err := dnsprovider.NewDDNS(dnsprovider.DDNSConfig{
		Source: dnsprovider.HTTPSource{URL: s.CheckIP, Family: "ipv4"},
		Record: record, Node: "demeter", Family: "ipv4",
		// ssh root@${old_ip} "sed -i -e 's/^remote .*$/remote ${new_ip}/' …; service openvpn restart"
		Hook:   s.Hook,
		Logger: log,
	})
	if err != nil {
		return dnsprovider.DDNSResult{}, err
	}
	return d.Update(ctx)
}
