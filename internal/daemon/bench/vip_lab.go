package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"time"

	"golang.org/x/sys/unix"

	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/internal/nsthread"
	"github.com/understudy-ha/understudy/ippool"
)

// vipLab is three network namespaces on a bridge, built like
// internal/testkit/netns (which needs a testing.TB): node a, node b and a client
// c that measures by ARP. Nothing is configured in the host namespace.
//
//	[a] veth0 10.78.0.1 ─┐
//	[b] veth0 10.78.0.2 ─┼─ [sw: br0]     VIP 10.78.0.100/24
//	[c] veth0 10.78.0.3 ─┘
type vipLab struct {
	ip    string
	sw    string
	nodes [3]string
}

var (
	vipLabVIP   = netip.MustParsePrefix("10.78.0.100/24")
	vipLabAddrs = [3]netip.Prefix{
		netip.MustParsePrefix("10.78.0.1/24"),
		netip.MustParsePrefix("10.78.0.2/24"),
		netip.MustParsePrefix("10.78.0.3/24"),
	}
)

func newVIPLab(ctx context.Context) (*vipLab, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("bench vip needs root (network namespaces, CAP_NET_ADMIN and CAP_NET_RAW)")
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		return nil, fmt.Errorf("ip not found (Debian package iproute2): %w", err)
	}
	id := fmt.Sprintf("usbv%d", os.Getpid())
	l := &vipLab{ip: ip, sw: id + "-sw", nodes: [3]string{id + "-a", id + "-b", id + "-c"}}
	steps := [][]string{{"netns", "add", l.sw}, {"-n", l.sw, "link", "add", "br0", "type", "bridge"}, {"-n", l.sw, "link", "set", "br0", "up"}}
	for i, ns := range l.nodes {
		port := fmt.Sprintf("p%d", i)
		steps = append(steps,
			[]string{"netns", "add", ns},
			[]string{"-n", ns, "link", "set", "lo", "up"},
			[]string{"-n", ns, "link", "add", "veth0", "type", "veth", "peer", "name", port, "netns", l.sw},
			[]string{"-n", l.sw, "link", "set", port, "master", "br0"},
			[]string{"-n", l.sw, "link", "set", port, "up"},
			[]string{"-n", ns, "addr", "add", vipLabAddrs[i].String(), "dev", "veth0"},
			[]string{"-n", ns, "link", "set", "veth0", "up"})
	}
	for _, s := range steps {
		if _, err := (cmdrun.Exec{}).Run(ctx, cmdrun.Cmd{Path: ip, Args: s}); err != nil {
			l.remove()
			return nil, fmt.Errorf("building the lab: %w", err)
		}
	}
	return l, nil
}

func (l *vipLab) remove() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, ns := range append(l.nodes[:], l.sw) {
		_, _ = (cmdrun.Exec{}).Run(ctx, cmdrun.Cmd{Path: l.ip, Args: []string{"netns", "del", ns}})
	}
}

// link opens veth0 of node i.
func (l *vipLab) link(i int) (*ippool.Link, error) { return ippool.OpenLink(l.nodes[i], "veth0") }

// holds reports whether node i carries the VIP.
func (l *vipLab) holds(i int) bool {
	lk, err := l.link(i)
	if err != nil {
		return false
	}
	defer lk.Close()
	has, err := lk.HasAddress(vipLabVIP.Addr())
	return err == nil && has
}

// dropVIP removes the VIP from node i: what a dead host's absence does
// to ARP, which a killed daemon in a live namespace does not.
func (l *vipLab) dropVIP(i int) error {
	lk, err := l.link(i)
	if err != nil {
		return err
	}
	defer lk.Close()
	_, err = lk.RemoveAddress(vipLabVIP)
	return err
}

// dialFrom dials from inside namespace ns.
func dialFrom(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := doIn(ns, func() error {
			var err error
			c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}

// listenIn listens on addr inside namespace ns.
func listenIn(ns, addr string) (net.Listener, error) {
	var ln net.Listener
	err := doIn(ns, func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	})
	return ln, err
}

// doIn runs f on a locked OS thread inside namespace ns (nsthread.Do).
func doIn(ns string, f func() error) error { return nsthread.Do(ns, f) }

// arpWatch asks for addr from the client namespace every 5 ms on one
// packet socket and returns when a reply (or a gratuitous ARP) says addr
// is at want: a finer clock than repeated Link.Resolve calls, each of
// which opens a socket and waits 20 ms per read.
func (l *vipLab) arpWatch(ctx context.Context, addr netip.Addr, want net.HardwareAddr, within time.Duration) error {
	client, err := l.link(2)
	if err != nil {
		return err
	}
	defer client.Close()
	src := vipLabAddrs[2].Addr().As4()
	fd := -1
	if err := doIn(l.nodes[2], func() error {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ARP)))
		return err
	}); err != nil {
		return fmt.Errorf("ARP socket: %w", err)
	}
	defer unix.Close(fd)
	idx := 0
	if err := doIn(l.nodes[2], func() error {
		i, err := net.InterfaceByName("veth0")
		if err == nil {
			idx = i.Index
		}
		return err
	}); err != nil {
		return err
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: idx}); err != nil {
		return err
	}
	tv := unix.NsecToTimeval((2 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return err
	}
	mac := client.MAC()
	tgt := addr.As4()
	req := make([]byte, 42)
	copy(req[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(req[6:12], mac)
	req[12], req[13] = 0x08, 0x06
	copy(req[14:22], []byte{0, 1, 8, 0, 6, 4, 0, 1})
	copy(req[22:28], mac)
	copy(req[28:32], src[:])
	copy(req[38:42], tgt[:])
	to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: idx, Halen: 6, Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	deadline := time.Now().Add(within)
	next := time.Now()
	buf := make([]byte, 1500)
	for time.Now().Before(deadline) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if now := time.Now(); !now.Before(next) {
			if err := unix.Sendto(fd, req, 0, to); err != nil {
				return err
			}
			next = now.Add(5 * time.Millisecond)
		}
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil || n < 42 {
			continue
		}
		// An ARP reply or request whose sender is addr at want.
		if buf[12] == 0x08 && buf[13] == 0x06 && [4]byte(buf[28:32]) == tgt && net.HardwareAddr(buf[22:28]).String() == want.String() {
			return nil
		}
	}
	return fmt.Errorf("%s not at %s within %s", addr, want, within)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
