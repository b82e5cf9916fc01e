// Package netns builds throw-away network labs for tests: one network
// namespace per node, each with a veth0 whose peer sits on a bridge in a
// switch namespace, the way /work/shared/lab/keepalived-netns.sh does it.
//
//	[node0] veth0 10.77.0.1/24 --- p0 [switch: br0] p1 --- veth0 10.77.0.2/24 [node1]
//
// Nothing is configured in the host namespace: the veths are created
// inside the node namespaces with their peers moved straight into the
// switch namespace. Names are unique per lab, so tests may run in
// parallel, and every namespace is deleted by t.Cleanup (which takes the
// veths and the bridge with it). Creating namespaces needs root
// (CAP_SYS_ADMIN and CAP_NET_ADMIN); New skips, or fails in CI, without it.
//
// Go code runs inside a namespace with [Lab.Do] (a locked OS thread moved
// into the namespace and back); programs run inside it with [Lab.Run]
// (`ip netns exec NAME argv...`).
package netns

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/internal/nsthread"
	"github.com/understudy-ha/understudy/internal/testkit/testenv"
)

// Options shape a lab. The zero value gives two nodes on 10.77.0.0/24.
type Options struct {
	// Nodes is the number of node namespaces (default 2).
	Nodes int
	// Prefix is the lab's subnet; node i gets host address i+1 on its
	// veth0 (default 10.77.0.0/24). Only addresses in 10.0.0.0/8 and
	// 192.0.2.0/24 (TEST-NET-1) are accepted: the lab is private, but its
	// addresses should never look like anything real.
	Prefix netip.Prefix
	// Prefix6, when valid, also gives node i host address i+1 in this
	// IPv6 subnet (for example fd00:77::/64), added without DAD.
	Prefix6 netip.Prefix
}

// Lab is a set of namespaces joined by a bridge.
type Lab struct {
	t      testing.TB
	ip     string
	id     string
	nodes  []string
	addrs  []netip.Prefix
	addrs6 []netip.Prefix
	sw     string
	prefix netip.Prefix
}

var labCount atomic.Int64

// New builds a lab and registers its removal with t.Cleanup. It needs
// root and the ip program (iproute2).
func New(t testing.TB, o Options) *Lab {
	t.Helper()
	testenv.RequireRoot(t)
	ip := testenv.Require(t, "ip", "iproute2")
	if o.Nodes == 0 {
		o.Nodes = 2
	}
	if !o.Prefix.IsValid() {
		o.Prefix = netip.MustParsePrefix("10.77.0.0/24")
	}
	if !allowed(o.Prefix) {
		t.Fatalf("netns: prefix %s is outside 10.0.0.0/8 and 192.0.2.0/24", o.Prefix)
	}
	l := &Lab{t: t, ip: ip, prefix: o.Prefix, id: fmt.Sprintf("us%d-%d", os.Getpid(), labCount.Add(1))}
	l.sw = l.id + "-sw"
	for i := range o.Nodes {
		l.nodes = append(l.nodes, fmt.Sprintf("%s-n%d", l.id, i))
		l.addrs = append(l.addrs, hostPrefix(o.Prefix, i+1))
		if o.Prefix6.IsValid() {
			l.addrs6 = append(l.addrs6, hostPrefix(o.Prefix6, i+1))
		}
	}
	t.Cleanup(l.remove)
	l.must("netns", "add", l.sw)
	l.must("-n", l.sw, "link", "set", "lo", "up")
	l.must("-n", l.sw, "link", "add", "br0", "type", "bridge")
	l.must("-n", l.sw, "link", "set", "br0", "up")
	for i, ns := range l.nodes {
		port := fmt.Sprintf("p%d", i)
		l.must("netns", "add", ns)
		l.must("-n", ns, "link", "set", "lo", "up")
		l.must("-n", ns, "link", "add", "veth0", "type", "veth", "peer", "name", port, "netns", l.sw)
		l.must("-n", l.sw, "link", "set", port, "master", "br0")
		l.must("-n", l.sw, "link", "set", port, "up")
		l.must("-n", ns, "addr", "add", l.addrs[i].String(), "dev", "veth0")
		if l.addrs6 != nil {
			l.must("-n", ns, "addr", "add", l.addrs6[i].String(), "dev", "veth0", "nodad")
		}
		l.must("-n", ns, "link", "set", "veth0", "up")
	}
	return l
}

func allowed(p netip.Prefix) bool {
	return netip.MustParsePrefix("10.0.0.0/8").Contains(p.Addr()) && p.Bits() >= 8 ||
		netip.MustParsePrefix("192.0.2.0/24").Contains(p.Addr()) && p.Bits() >= 24 ||
		p.Addr().Is6()
}

// hostPrefix returns host number n of p, with p's length.
func hostPrefix(p netip.Prefix, n int) netip.Prefix {
	b := p.Masked().Addr().AsSlice()
	for i := len(b) - 1; n > 0 && i >= 0; i-- {
		sum := int(b[i]) + n
		b[i] = byte(sum)
		n = sum >> 8
	}
	a, _ := netip.AddrFromSlice(b)
	return netip.PrefixFrom(a, p.Bits())
}

// Node returns the namespace name of node i.
func (l *Lab) Node(i int) string { return l.nodes[i] }

// Switch returns the namespace name of the switch (the bridge br0 and the
// veth peers p0, p1, …).
func (l *Lab) Switch() string { return l.sw }

// Addr returns node i's address on veth0, with the lab's prefix length.
func (l *Lab) Addr(i int) netip.Prefix { return l.addrs[i] }

// Addr6 returns node i's IPv6 address (invalid unless Options.Prefix6).
func (l *Lab) Addr6(i int) netip.Prefix {
	if l.addrs6 == nil {
		return netip.Prefix{}
	}
	return l.addrs6[i]
}

// Host returns address n of the lab's subnet (for a VIP, say), with the
// lab's prefix length.
func (l *Lab) Host(n int) netip.Prefix { return hostPrefix(l.prefix, n) }

// Do runs f on an OS thread moved into namespace ns and returns its
// error (see nsthread.Run). Sockets and netlink handles opened by f stay
// in ns after Do returns.
func Do(ns string, f func() error) error { return nsthread.Do(ns, f) }

// Do runs f inside node i's namespace (see the package-level Do).
func (l *Lab) Do(i int, f func() error) error { return Do(l.nodes[i], f) }

// Run runs argv inside namespace ns (`ip netns exec ns argv...`) and
// returns its standard output.
func (l *Lab) Run(ctx context.Context, ns string, argv ...string) ([]byte, error) {
	res, err := cmdrun.Exec{}.Run(ctx, cmdrun.Cmd{Path: l.ip, Args: append([]string{"netns", "exec", ns}, argv...)})
	return res.Stdout, err
}

// IP runs `ip -n ns args...` and returns its standard output, failing
// the test on error.
func (l *Lab) IP(ns string, args ...string) string {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := cmdrun.Exec{}.Run(ctx, cmdrun.Cmd{Path: l.ip, Args: append([]string{"-n", ns}, args...)})
	if err != nil {
		l.t.Fatalf("netns: %v", err)
	}
	return string(res.Stdout)
}

func (l *Lab) must(args ...string) {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := (cmdrun.Exec{}).Run(ctx, cmdrun.Cmd{Path: l.ip, Args: args}); err != nil {
		l.t.Fatalf("netns: building lab: %v", err)
	}
}

// remove deletes the lab's namespaces; deleting a namespace destroys the
// veth ends and the bridge inside it.
func (l *Lab) remove() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, ns := range append(append([]string(nil), l.nodes...), l.sw) {
		if _, err := os.Stat("/run/netns/" + ns); err != nil {
			continue
		}
		if _, err := (cmdrun.Exec{}).Run(ctx, cmdrun.Cmd{Path: l.ip, Args: []string{"netns", "del", ns}}); err != nil && !strings.Contains(err.Error(), "No such file") {
			l.t.Errorf("netns: cleanup: %v", err)
		}
	}
}
