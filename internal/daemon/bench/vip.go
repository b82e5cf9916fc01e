package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/health"
	"github.com/understudy-ha/understudy/ippool"
)

// VIPOptions tunes [VIP]. Zero values mean the defaults.
type VIPOptions struct {
	// Runs per pair and interval (10).
	Runs int
	// Adverts are the VRRP advertisement intervals measured (1s, 100ms).
	Adverts []time.Duration
	// Pairs are among keepalived-keepalived, native-native and mixed
	// (default all three).
	Pairs []string
	// CheckInterval and FailAfter shape the check-driven local-VIP move
	// (100ms, 3); CheckRuns is its number of runs (Runs).
	CheckInterval time.Duration
	FailAfter     int
	// Progress, when set, gets one line per run.
	Progress io.Writer
}

func (o *VIPOptions) defaults() {
	if o.Runs == 0 {
		o.Runs = 10
	}
	if len(o.Adverts) == 0 {
		o.Adverts = []time.Duration{time.Second, 100 * time.Millisecond}
	}
	if len(o.Pairs) == 0 {
		o.Pairs = []string{"keepalived-keepalived", "native-native", "mixed"}
	}
	if o.CheckInterval == 0 {
		o.CheckInterval = 100 * time.Millisecond
	}
	if o.FailAfter == 0 {
		o.FailAfter = 3
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

// VIP measures how long a virtual IP takes to move, from the failure to
// the VIP answering ARP with the new holder's MAC address in a third
// (client) namespace, asked by ARP every 5 ms.
//
// VRRP pairs (both nodes priority 100, unicast, VRID 51): the master is
// SIGKILLed (keepalived: parent and VRRP child; native: its Run
// abandoned) at a random phase of its advert cycle, and its VIP removed
// as a dead host's would be gone (keepalived's supervisor does this
// itself). The killed node is restarted and rejoins as backup, so the
// roles alternate and no run waits for preemption; in the mixed pair
// each side takes over in half the runs. Lines:
//
//	vip_failover_ms pair=native-native advert=100ms p50=… p95=… max=… n=10
//	vip_failover_ratio advert=100ms native/keepalived p50=… target<=1.05
//
// Check-driven: an arbiter (interval 100ms, fail_after 3) watches a TCP
// service in node a from the client and moves a local VIP (ippool.VIP on
// each node, no ARP probe) when the service dies:
//
//	vip_check_move_ms interval=100ms fail_after=3 p50=… p95=… max=… n=10 target_p95=350
func VIP(ctx context.Context, w io.Writer, o VIPOptions) error {
	o.defaults()
	if _, err := lookKeepalived(o.Pairs); err != nil {
		return err
	}
	lab, err := newVIPLab(ctx)
	if err != nil {
		return err
	}
	defer lab.remove()
	dir, err := os.MkdirTemp("", "understudy-bench-vip-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	for _, adv := range o.Adverts {
		p50 := map[string]float64{}
		for _, pair := range o.Pairs {
			ms, err := vrrpRuns(ctx, lab, dir, pair, adv, o)
			if err != nil {
				return fmt.Errorf("pair %s advert %s: %w", pair, adv, err)
			}
			p50[pair] = percentile(ms, 50)
			fmt.Fprintf(w, "vip_failover_ms pair=%s advert=%s p50=%.1f p95=%.1f max=%.1f n=%d\n",
				pair, adv, percentile(ms, 50), percentile(ms, 95), slices.Max(ms), len(ms))
		}
		if k, n := p50["keepalived-keepalived"], p50["native-native"]; k > 0 && n > 0 {
			fmt.Fprintf(w, "vip_failover_ratio advert=%s native/keepalived p50=%.3f target<=1.05\n", adv, n/k)
		}
	}
	ms, err := checkMoveRuns(ctx, lab, o)
	if err != nil {
		return fmt.Errorf("check-driven move: %w", err)
	}
	fmt.Fprintf(w, "vip_check_move_ms interval=%s fail_after=%d p50=%.1f p95=%.1f max=%.1f n=%d target_p95=%.0f\n",
		o.CheckInterval, o.FailAfter, percentile(ms, 50), percentile(ms, 95), slices.Max(ms), len(ms),
		float64(o.FailAfter)*float64(o.CheckInterval.Milliseconds())+50)
	return nil
}

func lookKeepalived(pairs []string) (string, error) {
	for _, p := range pairs {
		switch p {
		case "keepalived-keepalived", "mixed":
			p, err := exec.LookPath("keepalived")
			if err != nil {
				return "", fmt.Errorf("keepalived not found (Debian package keepalived): %w", err)
			}
			return p, nil
		case "native-native":
		default:
			return "", fmt.Errorf("unknown pair %q (keepalived-keepalived, native-native, mixed)", p)
		}
	}
	return "", nil
}

// vrrpNode is one side of a pair that can be started, crashed and
// watched.
type vrrpNode interface {
	start(ctx context.Context) error
	// kill crashes it; it returns once the kill is done.
	kill() error
	// settled reports whether it is a backup that has heard the master.
	settled() bool
	// close stops it for good.
	close()
}

func vrrpRuns(ctx context.Context, lab *vipLab, dir, pair string, adv time.Duration, o VIPOptions) ([]float64, error) {
	kinds := map[string][2]string{
		"keepalived-keepalived": {"keepalived", "keepalived"},
		"native-native":         {"native", "native"},
		"mixed":                 {"keepalived", "native"},
	}[pair]
	var nodes [2]vrrpNode
	for i, k := range kinds {
		if k == "native" {
			nodes[i] = &nativeNode{lab: lab, i: i, adv: adv}
		} else {
			nodes[i] = &kaNode{lab: lab, i: i, adv: adv, dir: filepath.Join(dir, fmt.Sprintf("%s-%s-%d", pair, adv, i))}
		}
	}
	defer func() {
		var wg sync.WaitGroup
		for _, n := range nodes {
			wg.Go(n.close)
		}
		wg.Wait()
		_ = lab.dropVIP(0)
		_ = lab.dropVIP(1)
	}()
	settle := 10*adv + 10*time.Second
	// Node a first, alone, so it is the first master.
	if err := nodes[0].start(ctx); err != nil {
		return nil, err
	}
	if err := waitFor(ctx, settle, func() bool { return lab.holds(0) }); err != nil {
		return nil, fmt.Errorf("first master: %w", err)
	}
	if err := nodes[1].start(ctx); err != nil {
		return nil, err
	}
	master := 0
	var ms []float64
	for run := range o.Runs {
		backup := 1 - master
		if err := waitFor(ctx, settle, func() bool {
			return lab.holds(master) && !lab.holds(backup) && nodes[backup].settled()
		}); err != nil {
			return nil, fmt.Errorf("run %d: steady state (master %d holds %v, backup holds %v, settled %v): %w", run, master, lab.holds(master), lab.holds(backup), nodes[backup].settled(), err)
		}
		bl, err := lab.link(backup)
		if err != nil {
			return nil, err
		}
		want := bl.MAC()
		bl.Close()
		if sleepFor(ctx, rand.N(adv)) != nil {
			return nil, ctx.Err()
		}
		start := time.Now()
		if err := nodes[master].kill(); err != nil {
			return nil, fmt.Errorf("run %d: kill: %w", run, err)
		}
		if err := lab.dropVIP(master); err != nil {
			return nil, err
		}
		if err := lab.arpWatch(ctx, vipLabVIP.Addr(), want, settle); err != nil {
			return nil, fmt.Errorf("run %d: waiting for the VIP on the backup: %w", run, err)
		}
		d := time.Since(start)
		ms = append(ms, float64(d.Microseconds())/1000)
		fmt.Fprintf(o.Progress, "run %d pair=%s advert=%s takeover=%s vip_failover_ms=%.1f\n", run+1, pair, adv, kinds[backup], ms[len(ms)-1])
		if err := nodes[master].start(ctx); err != nil {
			return nil, err
		}
		master = backup
	}
	return ms, nil
}

func sleepFor(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// nativeNode is the native speaker, run in this process.
type nativeNode struct {
	lab    *vipLab
	i      int
	adv    time.Duration
	v      *ippool.VRRP
	cancel context.CancelFunc
	done   chan struct{}
}

func (n *nativeNode) start(ctx context.Context) error {
	v, err := ippool.NewVRRP(ippool.VRRPConfig{
		Self: n.lab.nodes[n.i], Interface: "veth0", NetNS: n.lab.nodes[n.i],
		VRID: 51, Priority: 100, Advert: n.adv, VIPs: []netip.Prefix{vipLabVIP},
		SourceIP: vipLabAddrs[n.i].Addr(), Peers: []netip.Addr{vipLabAddrs[1-n.i].Addr()},
		Announce: ippool.Burst{Count: 1, Repeats: 1},
	})
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	n.v, n.cancel, n.done = v, cancel, make(chan struct{})
	go func() {
		defer close(n.done)
		if err := v.Run(rctx); err != nil && rctx.Err() == nil {
			fmt.Fprintln(os.Stderr, "bench vip: native speaker:", err)
		}
	}()
	return nil
}

func (n *nativeNode) kill() error {
	n.cancel()
	<-n.done
	return nil
}

func (n *nativeNode) settled() bool {
	return n.v.State() == ippool.VRRPBackup && n.v.Stats().Received > 0
}

func (n *nativeNode) close() {
	if n.cancel != nil {
		n.cancel()
		<-n.done
	}
}

// kaNode is keepalived under ippool.Keepalived, restarted by the bench
// (the supervisor's own restart is pushed out of the way).
type kaNode struct {
	lab     *vipLab
	i       int
	adv     time.Duration
	dir     string
	ka      *ippool.Keepalived
	cancel  context.CancelFunc
	done    chan struct{}
	backup  atomic.Int64 // unix nanos when keepalived said "Entering BACKUP STATE"
	cleaned chan struct{}
}

func (k *kaNode) start(ctx context.Context) error {
	if k.done != nil {
		// The killed one's supervisor must be gone: it reads the pid
		// files in the same directory.
		<-k.done
	}
	k.backup.Store(0)
	k.cleaned = make(chan struct{}, 1)
	ka, err := ippool.NewKeepalived(ippool.KeepalivedOptions{
		Config: ippool.KeepalivedConfig{
			Interface: "veth0", VRID: 51, Priority: 100, Advert: k.adv,
			SourceIP: vipLabAddrs[k.i].Addr(), Peers: []netip.Addr{vipLabAddrs[1-k.i].Addr()},
			VIPs: []netip.Prefix{vipLabVIP}, GARPRepeat: 1,
		},
		Dir: k.dir, NetNS: k.lab.nodes[k.i], RestartDelay: time.Hour,
		Logger: slog.New(&lineWatch{on: func(line string) {
			if strings.Contains(line, "Entering BACKUP STATE") {
				k.backup.Store(time.Now().UnixNano())
			}
		}}),
		OnEvent: func(e ippool.KeepalivedEvent) {
			if e.Kind == ippool.KeepalivedRestarting {
				k.cleaned <- struct{}{}
			}
		},
	})
	if err != nil {
		return err
	}
	if err := ka.WriteConfig(ctx); err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	k.ka, k.cancel, k.done = ka, cancel, make(chan struct{})
	go func() {
		defer close(k.done)
		if err := ka.Run(rctx); err != nil && rctx.Err() == nil {
			fmt.Fprintln(os.Stderr, "bench vip: keepalived:", err)
		}
	}()
	return nil
}

func (k *kaNode) kill() error {
	parent, child := k.ka.PIDs()
	if parent == 0 || child == 0 {
		return errors.New("keepalived PIDs unknown")
	}
	err := errors.Join(syscall.Kill(child, syscall.SIGKILL), syscall.Kill(parent, syscall.SIGKILL))
	// The supervisor notices, removes the stale VIP and would restart
	// after an hour: stop it there; the bench restarts it.
	go func(cancel context.CancelFunc, cleaned chan struct{}) {
		<-cleaned
		cancel()
	}(k.cancel, k.cleaned)
	return err
}

// settled: keepalived has entered BACKUP at least two adverts ago, so it
// has heard the master.
func (k *kaNode) settled() bool {
	t := k.backup.Load()
	return t != 0 && time.Since(time.Unix(0, t)) > 2*k.adv
}

func (k *kaNode) close() {
	if k.cancel != nil {
		k.cancel()
		<-k.done
	}
}

// lineWatch is a slog handler that hands keepalived's output lines to on.
type lineWatch struct{ on func(string) }

func (h *lineWatch) Enabled(context.Context, slog.Level) bool { return true }
func (h *lineWatch) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "line" {
			h.on(a.Value.String())
		}
		return true
	})
	return nil
}
func (h *lineWatch) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *lineWatch) WithGroup(string) slog.Handler      { return h }

// checkMoveRuns measures the check-driven local-VIP move.
func checkMoveRuns(ctx context.Context, lab *vipLab, o VIPOptions) ([]float64, error) {
	const port = "7070"
	var svc [2]net.Listener
	serve := func(i int) error {
		ln, err := listenIn(lab.nodes[i], vipLabAddrs[i].Addr().String()+":"+port)
		if err != nil {
			return err
		}
		svc[i] = ln
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		return nil
	}
	for i := range 2 {
		if err := serve(i); err != nil {
			return nil, err
		}
	}
	defer func() {
		for _, ln := range svc {
			if ln != nil {
				ln.Close()
			}
		}
	}()
	timeout := o.CheckInterval / 2
	var checks []failover.Check
	var switchers []failover.Switcher
	names := [2]string{"a", "b"}
	for i, name := range names {
		c, err := health.NewTCP(health.TCPConfig{Address: vipLabAddrs[i].Addr().String() + ":" + port, Timeout: timeout, Dial: dialFrom(lab.nodes[2])})
		if err != nil {
			return nil, err
		}
		checks = append(checks, failover.Check{CheckSpec: failover.CheckSpec{Name: name + "/tcp", Node: name}, Checker: c, Timeout: timeout})
		// No ARP probe: the arbiter released the address on the other
		// node in the same switch, and a probe would add its timeout.
		v, err := ippool.NewVIP(ippool.VIPConfig{Self: name, Interface: "veth0", NetNS: lab.nodes[i], Address: vipLabVIP, NoProbe: true, Announce: ippool.Burst{Count: 1, Repeats: 1}})
		if err != nil {
			return nil, err
		}
		defer v.Close()
		switchers = append(switchers, v)
	}
	// Release before claim: b's switcher releases when the target is a,
	// a's when it is b; order them so the releasing one runs first.
	arb, err := failover.New(failover.Config{
		Policy: failover.Policy{
			Nodes: []failover.Node{
				{Name: "a", Address: vipLabVIP.Addr(), Priority: 2},
				{Name: "b", Address: vipLabVIP.Addr(), Priority: 1},
			},
			FailAfter: o.FailAfter, RiseAfter: 1,
		},
		Checks: checks, Switchers: []failover.Switcher{releaseFirst{switchers}}, Interval: o.CheckInterval, CheckTimeout: timeout,
	})
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { arb.Run(rctx) })
	defer wg.Wait()
	defer cancel()

	macs := [2]net.HardwareAddr{}
	for i := range 2 {
		l, err := lab.link(i)
		if err != nil {
			return nil, err
		}
		macs[i] = l.MAC()
		l.Close()
	}
	settle := 20*o.CheckInterval*time.Duration(o.FailAfter) + 5*time.Second
	var ms []float64
	for run := range o.Runs {
		if err := waitFor(ctx, settle, func() bool {
			s := arb.Snapshot()
			if s.Active != "a" || !lab.holds(0) || lab.holds(1) {
				return false
			}
			for _, n := range s.Nodes {
				if n.Status != failover.StatusUp {
					return false
				}
			}
			return true
		}); err != nil {
			return nil, fmt.Errorf("run %d: steady state: %w", run, err)
		}
		if sleepFor(ctx, rand.N(o.CheckInterval)) != nil {
			return nil, ctx.Err()
		}
		start := time.Now()
		svc[0].Close()
		if err := lab.arpWatch(ctx, vipLabVIP.Addr(), macs[1], settle); err != nil {
			return nil, fmt.Errorf("run %d: waiting for the VIP on b: %w", run, err)
		}
		ms = append(ms, float64(time.Since(start).Microseconds())/1000)
		fmt.Fprintf(o.Progress, "run %d check-driven vip_move_ms=%.1f\n", run+1, ms[len(ms)-1])
		if err := serve(0); err != nil {
			return nil, err
		}
	}
	return ms, nil
}

// releaseFirst runs the VIP switchers of the nodes that are not the
// target first (they release), then the target's (it claims).
type releaseFirst struct{ vips []failover.Switcher }

func (r releaseFirst) Switch(ctx context.Context, to failover.Node) error {
	names := []string{"a", "b"}
	var claim failover.Switcher
	for i, s := range r.vips {
		if names[i] == to.Name {
			claim = s
			continue
		}
		if err := s.Switch(ctx, to); err != nil {
			return err
		}
	}
	if claim == nil {
		return nil
	}
	return claim.Switch(ctx, to)
}
