package ippool

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/understudy-ha/understudy/internal/nsthread"
)

// Link is one network interface, in the current network namespace or in
// a named one, with the operations a floating address needs: add, remove
// and look up an address (netlink), announce it (gratuitous ARP,
// unsolicited neighbour advertisement) and probe or resolve an IPv4
// address by ARP (raw AF_PACKET sockets).
//
// A Link holds a netlink handle bound to its namespace; sockets it opens
// are created inside that namespace, so a Link for another namespace can
// be used from any goroutine. Methods may be called concurrently. Close
// releases the handle.
type Link struct {
	name  string
	ns    string
	h     *netlink.Handle
	link  netlink.Link
	index int
	mac   net.HardwareAddr
}

// OpenLink opens interface name in network namespace ns: "" for the
// current namespace, a name created by `ip netns add` (looked up in
// /run/netns), or a path such as /proc/PID/ns/net. A missing interface is
// ErrNoInterface.
func OpenLink(ns, name string) (*Link, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: empty interface name", ErrNoInterface)
	}
	var (
		h   *netlink.Handle
		err error
	)
	if ns == "" {
		h, err = netlink.NewHandle()
	} else {
		var nsh netns.NsHandle
		nsh, err = openNS(ns)
		if err != nil {
			return nil, err
		}
		h, err = netlink.NewHandleAt(nsh)
		nsh.Close()
	}
	if err != nil {
		return nil, sysErr("open netlink in "+nsName(ns), "CAP_SYS_ADMIN", err)
	}
	l, err := h.LinkByName(name)
	if err != nil {
		h.Close()
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return nil, fmt.Errorf("%w: %q in %s", ErrNoInterface, name, nsName(ns))
		}
		return nil, sysErr(fmt.Sprintf("look up interface %q in %s", name, nsName(ns)), "CAP_NET_ADMIN", err)
	}
	return &Link{name: name, ns: ns, h: h, link: l, index: l.Attrs().Index, mac: l.Attrs().HardwareAddr}, nil
}

func openNS(ns string) (netns.NsHandle, error) {
	h, err := nsthread.Open(ns)
	if err != nil {
		return h, fmt.Errorf("ippool: %w", err)
	}
	return h, nil
}

func nsName(ns string) string {
	if ns == "" {
		return "the current network namespace"
	}
	return "network namespace " + ns
}

// Close releases the netlink handle.
func (l *Link) Close() error {
	l.h.Close()
	return nil
}

// Name returns the interface name.
func (l *Link) Name() string { return l.name }

// MAC returns the interface's hardware address.
func (l *Link) MAC() net.HardwareAddr { return l.mac }

// String names the interface and its namespace, for messages.
func (l *Link) String() string {
	if l.ns == "" {
		return l.name
	}
	return l.name + " (netns " + l.ns + ")"
}

func toNetlinkAddr(p netip.Prefix) *netlink.Addr {
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if p.Addr().Is6() {
		// A floating address moves between hosts that know what they are
		// doing; duplicate address detection would hold it tentative
		// (unusable) for a second or more. keepalived adds VIPs the same way.
		a.Flags = unix.IFA_F_NODAD
	}
	return a
}

// HasAddress reports whether addr is configured on the interface (with
// any prefix length).
func (l *Link) HasAddress(addr netip.Addr) (bool, error) {
	fam := netlink.FAMILY_V4
	if addr.Is6() {
		fam = netlink.FAMILY_V6
	}
	addrs, err := l.h.AddrList(l.link, fam)
	if err != nil {
		return false, sysErr("list addresses of "+l.String(), "CAP_NET_ADMIN", err)
	}
	for _, a := range addrs {
		if got, ok := netip.AddrFromSlice(a.IP); ok && got.Unmap() == addr.Unmap() {
			return true, nil
		}
	}
	return false, nil
}

// AddAddress adds p to the interface. It is idempotent: added is false
// when the address was already there. IPv6 addresses are added without
// duplicate address detection (IFA_F_NODAD), as keepalived does.
func (l *Link) AddAddress(p netip.Prefix) (added bool, err error) {
	if has, err := l.HasAddress(p.Addr()); err != nil || has {
		return false, err
	}
	if err := l.h.AddrAdd(l.link, toNetlinkAddr(p)); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return false, nil
		}
		return false, sysErr(fmt.Sprintf("add %s to %s", p, l), "CAP_NET_ADMIN", err)
	}
	return true, nil
}

// RemoveAddress removes p's address from the interface. It is idempotent:
// removed is false when the address was not there.
func (l *Link) RemoveAddress(p netip.Prefix) (removed bool, err error) {
	fam := netlink.FAMILY_V4
	if p.Addr().Is6() {
		fam = netlink.FAMILY_V6
	}
	addrs, err := l.h.AddrList(l.link, fam)
	if err != nil {
		return false, sysErr("list addresses of "+l.String(), "CAP_NET_ADMIN", err)
	}
	for _, a := range addrs {
		if got, ok := netip.AddrFromSlice(a.IP); !ok || got.Unmap() != p.Addr().Unmap() {
			continue
		}
		// Remove it with the prefix length it was added with, whatever
		// the configuration says now.
		if err := l.h.AddrDel(l.link, &a); err != nil {
			if errors.Is(err, unix.EADDRNOTAVAIL) {
				return false, nil
			}
			return false, sysErr(fmt.Sprintf("remove %s from %s", a.IPNet, l), "CAP_NET_ADMIN", err)
		}
		return true, nil
	}
	return false, nil
}

// FirstIPv4 returns the first IPv4 address configured on the interface,
// for use as the sender of ARP requests.
func (l *Link) FirstIPv4() (netip.Addr, error) {
	addrs, err := l.h.AddrList(l.link, netlink.FAMILY_V4)
	if err != nil {
		return netip.Addr{}, sysErr("list addresses of "+l.String(), "CAP_NET_ADMIN", err)
	}
	for _, a := range addrs {
		if got, ok := netip.AddrFromSlice(a.IP); ok {
			return got.Unmap(), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("ippool: %s has no IPv4 address", l)
}

// packetSocket opens an AF_PACKET raw socket for ethertype proto, bound to
// the interface, inside the link's namespace.
func (l *Link) packetSocket(proto uint16) (int, error) {
	fd := -1
	err := inNS(l.ns, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(proto)))
		return err
	})
	if err != nil {
		return -1, sysErr("open raw packet socket on "+l.String(), "CAP_NET_RAW", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: l.index}); err != nil {
		unix.Close(fd)
		return -1, sysErr("bind raw packet socket to "+l.String(), "CAP_NET_RAW", err)
	}
	return fd, nil
}

// inNS runs f on an OS thread inside namespace ns ("" runs it here); see
// nsthread.Run. A refused entry names CAP_SYS_ADMIN.
func inNS(ns string, f func() error) error {
	if ns == "" {
		return f()
	}
	target, err := openNS(ns)
	if err != nil {
		return err
	}
	defer target.Close()
	err = nsthread.Run(target, ns, f)
	var e *nsthread.Error
	if errors.As(err, &e) && e.Step == nsthread.Enter {
		return sysErr("enter "+nsName(ns), "CAP_SYS_ADMIN", e.Err)
	}
	return err
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
