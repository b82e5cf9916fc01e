// Package demo is `understudy demo`: a failover and a failback, live, with
// nothing to set up. Two web services on loopback play the primary and
// the backup, an embedded authoritative DNS server carries
// www.demo.test, and a real arbiter (the same Policy, checks and RFC 2136
// switcher the daemon uses) watches them at a short interval. The demo
// breaks the primary, shows the strikes, the switch, the recovery and the
// failback as a timeline, and returns.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/understudy-ha/understudy/dnsprovider"
	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/health"
	"github.com/understudy-ha/understudy/internal/daemon/dnsserver"
	"github.com/understudy-ha/understudy/internal/daemon/websvc"
)

// Options tune the demo. Zero values mean the defaults.
type Options struct {
	// Interval between rounds (default 400ms).
	Interval time.Duration
	// DNSAddr is where the embedded DNS server listens (default
	// 127.0.0.1:0, a free port).
	DNSAddr string
	// Settle is the number of quiet rounds shown before the primary is
	// broken and after each switch (default 3).
	Settle int
}

const (
	zone      = "demo.test."
	name      = "www.demo.test."
	primaryIP = "127.0.0.1"
	backupIP  = "127.0.0.2"
)

// Result sums up a demo run, for tests.
type Result struct {
	// Failover is the time from breaking the primary to the DNS server
	// answering the backup; Failback from restarting it to the DNS
	// server answering the primary again.
	Failover, Failback time.Duration
	// Events are every event the arbiter emitted, in order.
	Events []failover.Event
}

// Run plays the demo, writing the timeline to w.
func Run(ctx context.Context, w io.Writer, o Options) (Result, error) {
	if o.Interval <= 0 {
		o.Interval = 400 * time.Millisecond
	}
	if o.DNSAddr == "" {
		o.DNSAddr = "127.0.0.1:0"
	}
	if o.Settle <= 0 {
		o.Settle = 3
	}
	var res Result

	primary, err := websvc.Start(primaryIP+":0", "hello from the primary")
	if err != nil {
		return res, err
	}
	defer primary.Stop()
	backup, err := websvc.Start(backupIP+":0", "hello from the backup")
	if err != nil {
		return res, fmt.Errorf("backup web service on %s (Linux answers on all of 127.0.0.0/8): %w", backupIP, err)
	}
	defer backup.Stop()

	secret := make([]byte, 32)
	rand.Read(secret)
	key := dnsprovider.TSIGKey{Name: "demo-key.", Algorithm: "hmac-sha256", Secret: base64.StdEncoding.EncodeToString(secret)}
	srv, err := dnsserver.New(dnsserver.Config{
		Zone:    zone,
		Records: []string{name + " 10 IN A " + primaryIP},
		Key:     &dnsserver.Key{Name: key.Name, Algorithm: key.Algorithm, Secret: key.Secret},
	})
	if err != nil {
		return res, err
	}
	if err := srv.Listen(o.DNSAddr); err != nil {
		return res, fmt.Errorf("embedded DNS server on %s: %w", o.DNSAddr, err)
	}
	dnsCtx, stopDNS := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { srv.Serve(dnsCtx) })
	defer wg.Wait()
	defer stopDNS()

	sw, err := dnsprovider.NewRFC2136(dnsprovider.RFC2136Config{
		Zone: zone, Name: "www", TTL: 10 * time.Second, Servers: []string{srv.Addr()}, Key: &key,
	})
	if err != nil {
		return res, err
	}
	timeout := o.Interval / 2
	var checks []failover.Check
	for _, n := range []struct {
		node string
		web  *websvc.Service
	}{{"primary", primary}, {"backup", backup}} {
		node, web := n.node, n.web
		c, err := health.NewHTTP(health.HTTPConfig{URL: "http://" + web.Addr() + "/", Timeout: timeout, BodyContains: "hello"})
		if err != nil {
			return res, err
		}
		checks = append(checks, failover.Check{
			CheckSpec: failover.CheckSpec{Name: node + "/http", Node: node, Role: failover.RoleCritical},
			Checker:   c, Timeout: timeout,
		})
	}
	start := time.Now()
	var mu sync.Mutex
	arb, err := failover.New(failover.Config{
		Policy: failover.Policy{
			Nodes: []failover.Node{
				{Name: "primary", Address: netip.MustParseAddr(primaryIP), Priority: 2},
				{Name: "backup", Address: netip.MustParseAddr(backupIP), Priority: 1},
			},
			FailAfter: 3,
			RiseAfter: 2,
			Failback:  failover.FailbackAuto,
		},
		Checks:       checks,
		Switchers:    []failover.Switcher{sw},
		Interval:     o.Interval,
		CheckTimeout: timeout,
		OnEvent: func(e failover.Event) {
			mu.Lock()
			res.Events = append(res.Events, e)
			mu.Unlock()
		},
	})
	if err != nil {
		return res, err
	}

	p := &printer{w: w, start: start}
	p.header(primary, backup, srv.Addr(), o.Interval)

	// The script: settle, break the primary, wait for the switch, settle
	// on the backup, repair the primary, wait for the failback, settle.
	type phase int
	const (
		healthy phase = iota
		broken
		onBackup
		repaired
		done
	)
	ph, quiet := healthy, 0
	var brokeAt, repairedAt time.Time
	ticker := time.NewTicker(o.Interval)
	defer ticker.Stop()
	for round := 1; ph != done; round++ {
		if round > 60+6*o.Settle {
			return res, errors.New("demo: the script did not finish in time")
		}
		rep, err := arb.Tick(ctx)
		if err != nil {
			return res, err
		}
		p.round(round, rep, arb.Snapshot())
		switched := false
		for _, e := range rep.Events {
			p.event(e)
			if e.Kind == failover.EventSwitchDone {
				switched = true
			}
		}
		if switched {
			got := lookup(srv.Addr())
			p.line("        dig @%s -p %s www.demo.test  →  %s", hostOf(srv.Addr()), portOf(srv.Addr()), got)
		}
		switch ph {
		case healthy:
			if quiet++; quiet >= o.Settle {
				p.banner("stopping the primary's web service")
				primary.Stop()
				brokeAt, ph = time.Now(), broken
			}
		case broken:
			if switched && lookup(srv.Addr()) == backupIP {
				res.Failover = time.Since(brokeAt)
				ph, quiet = onBackup, 0
			}
		case onBackup:
			if quiet++; quiet >= o.Settle {
				p.banner("starting the primary's web service again")
				if err := primary.Start(); err != nil {
					return res, err
				}
				repairedAt, ph = time.Now(), repaired
			}
		case repaired:
			if switched && lookup(srv.Addr()) == primaryIP {
				res.Failback = time.Since(repairedAt)
				ph = done
			}
		}
		if ph == done {
			break
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-ticker.C:
		}
	}
	p.line("")
	p.line("Failover took %s (3 failed rounds of %s, then one DNS update); failback %s (2 good rounds).",
		res.Failover.Round(time.Millisecond), o.Interval, res.Failback.Round(time.Millisecond))
	p.line("The same run, on your servers: see README.md (understudy run -c understudy.yaml).")
	return res, nil
}

// lookup asks the DNS server for www.demo.test A.
func lookup(server string) string {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	r, _, err := (&dns.Client{Timeout: time.Second}).Exchange(m, server)
	if err != nil {
		return "error: " + err.Error()
	}
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return strings.Join(out, " ")
}

func hostOf(addr string) string { h, _, _ := net.SplitHostPort(addr); return h }
func portOf(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }

// printer writes the timeline.
type printer struct {
	w     io.Writer
	start time.Time
}

func (p *printer) line(format string, args ...any) {
	fmt.Fprintf(p.w, format+"\n", args...)
}

func (p *printer) header(primary, backup *websvc.Service, dnsAddr string, iv time.Duration) {
	p.line("Understudy demo: www.demo.test fails over between two web services, and back.")
	p.line("")
	p.line("  primary  http://%s/   www.demo.test A %s", primary.Addr(), primaryIP)
	p.line("  backup   http://%s/   www.demo.test A %s", backup.Addr(), backupIP)
	p.line("  DNS      %s, an embedded authoritative server for demo.test, updated by RFC 2136 + TSIG", dnsAddr)
	p.line("           watch it:  dig @%s -p %s www.demo.test +short", hostOf(dnsAddr), portOf(dnsAddr))
	p.line("  policy   a check is down after 3 failures in a row, up after 2 successes; a round every %s;", iv)
	p.line("           failback automatic")
	p.line("")
}

func (p *printer) stamp() string {
	return fmt.Sprintf("%6.2fs", time.Since(p.start).Seconds())
}

func (p *printer) banner(msg string) {
	p.line("%s  ---- %s ----", p.stamp(), msg)
}

func (p *printer) round(n int, rep failover.RoundReport, snap failover.Snapshot) {
	status := map[string]failover.CheckStatus{}
	for _, c := range snap.Checks {
		status[c.Name] = c
	}
	var parts []string
	for _, r := range rep.Results {
		st := status[r.Name]
		var cell string
		switch {
		case r.Err != nil && st.Status == failover.StatusDown:
			cell = fmt.Sprintf("DOWN (%d fails)", st.Fails)
		case r.Err != nil:
			cell = fmt.Sprintf("FAIL %d/3", st.Fails)
		case st.Status == failover.StatusDown:
			cell = "ok, rising"
		default:
			cell = "ok"
		}
		parts = append(parts, fmt.Sprintf("%s %-15s", r.Name, cell))
	}
	active := rep.Active
	if active == "" {
		active = "?"
	}
	p.line("%s  round %-3d %s traffic: %s", p.stamp(), n, strings.Join(parts, "  "), active)
}

func (p *printer) event(e failover.Event) {
	mark := map[failover.EventKind]string{
		failover.EventCheckWarn:      "strike",
		failover.EventCheckDown:      "DOWN  ",
		failover.EventCheckUp:        "UP    ",
		failover.EventNodeDown:       "DOWN  ",
		failover.EventNodeUp:         "UP    ",
		failover.EventSwitchIntended: "switch",
		failover.EventSwitchDone:     "done  ",
		failover.EventSwitchFailed:   "FAILED",
	}[e.Kind]
	if mark == "" {
		mark = "note  "
	}
	p.line("        %s %s", mark, e.Message)
}
