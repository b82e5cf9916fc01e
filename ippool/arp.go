package ippool

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

const (
	etherTypeARP  = 0x0806
	etherTypeIPv6 = 0x86dd
	arpRequest    = 1
	arpReply      = 2
)

var broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// Burst says how a newly claimed address is announced, the way keepalived
// does it after becoming master: Count packets at once, then again
// Repeats-1 more times, Delay apart (keepalived's garp_master_repeat and
// garp_master_delay). The first announcement updates neighbours at once;
// the later ones catch hosts or switches that missed it.
type Burst struct {
	// Count is the number of packets in one burst (default 5).
	Count int
	// Interval separates the packets of a burst (default 0: back to back,
	// keepalived's garp_interval).
	Interval time.Duration
	// Repeats is the number of bursts (default 2).
	Repeats int
	// Delay separates bursts (default 5s, keepalived's garp_master_delay).
	Delay time.Duration
}

func (b Burst) withDefaults() Burst {
	if b.Count <= 0 {
		b.Count = 5
	}
	if b.Repeats <= 0 {
		b.Repeats = 2
	}
	if b.Delay <= 0 {
		b.Delay = 5 * time.Second
	}
	return b
}

// Announce sends one burst of gratuitous ARP (IPv4) or unsolicited
// neighbour advertisements with the override flag (IPv6) for addr from
// the interface's MAC address, so that neighbours update their caches at
// once. Only Count and Interval of b are used; see [Link.AnnounceBursts]
// for repeated bursts.
func (l *Link) Announce(ctx context.Context, addr netip.Addr, b Burst) error {
	b = b.withDefaults()
	var (
		frame []byte
		proto uint16
	)
	if addr.Is4() || addr.Is4In6() {
		addr = addr.Unmap()
		proto = etherTypeARP
		frame = arpFrame(broadcastMAC, l.mac, arpRequest, l.mac, addr, nil, addr)
	} else {
		proto = etherTypeIPv6
		frame = naFrame(l.mac, addr)
	}
	fd, err := l.packetSocket(proto)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	to := &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: l.index, Halen: 6}
	copy(to.Addr[:], frame[:6])
	for i := range b.Count {
		if i > 0 && b.Interval > 0 {
			if err := sleepCtx(ctx, b.Interval); err != nil {
				return fmt.Errorf("ippool: announce %s on %s: %w", addr, l, err)
			}
		}
		if err := unix.Sendto(fd, frame, 0, to); err != nil {
			return sysErr(fmt.Sprintf("announce %s on %s", addr, l), "CAP_NET_RAW", err)
		}
	}
	return nil
}

// AnnounceBursts sends b.Repeats bursts, b.Delay apart, and returns when
// the last is sent or ctx ends.
func (l *Link) AnnounceBursts(ctx context.Context, addr netip.Addr, b Burst) error {
	b = b.withDefaults()
	for i := range b.Repeats {
		if i > 0 {
			if err := sleepCtx(ctx, b.Delay); err != nil {
				return fmt.Errorf("ippool: announce %s on %s: %w", addr, l, err)
			}
		}
		if err := l.Announce(ctx, addr, b); err != nil {
			return err
		}
	}
	return nil
}

// Probe asks, by ARP, whether any other host uses IPv4 address addr
// (RFC 5227 probe: sender address 0.0.0.0). It sends a request every
// 100 ms until timeout and returns nil if nobody answered, or an
// *AddressInUseError (errors.Is ErrAddressInUse) naming the MAC address
// that did. Answers from this interface's own MAC are ignored.
func (l *Link) Probe(ctx context.Context, addr netip.Addr, timeout time.Duration) error {
	mac, err := l.arpExchange(ctx, addr, netip.IPv4Unspecified(), timeout)
	switch {
	case err == nil:
		return &AddressInUseError{Addr: addr, MAC: mac}
	case errors.Is(err, ErrNoReply):
		return nil
	default:
		return err
	}
}

// Resolve asks, by ARP, for the MAC address of IPv4 address addr, with the
// interface's first IPv4 address as sender. It returns ErrNoReply when
// nobody answered within timeout. This is what a neighbour does before
// sending to the address; the VIP benchmarks use it to tell when a moved
// address answers.
func (l *Link) Resolve(ctx context.Context, addr netip.Addr, timeout time.Duration) (net.HardwareAddr, error) {
	src, err := l.FirstIPv4()
	if err != nil {
		return nil, err
	}
	return l.arpExchange(ctx, addr, src, timeout)
}

// arpExchange sends ARP requests for target from sender every 100 ms
// until a reply from another MAC arrives or timeout passes.
func (l *Link) arpExchange(ctx context.Context, target, sender netip.Addr, timeout time.Duration) (net.HardwareAddr, error) {
	if !target.Unmap().Is4() {
		return nil, fmt.Errorf("ippool: ARP is for IPv4 addresses, not %s", target)
	}
	target = target.Unmap()
	fd, err := l.packetSocket(etherTypeARP)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval((20 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return nil, fmt.Errorf("ippool: ARP socket on %s: %w", l, err)
	}
	req := arpFrame(broadcastMAC, l.mac, arpRequest, l.mac, sender, nil, target)
	to := &unix.SockaddrLinklayer{Protocol: htons(etherTypeARP), Ifindex: l.index, Halen: 6, Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	deadline := time.Now().Add(timeout)
	nextSend := time.Now()
	buf := make([]byte, 1500)
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("ippool: ARP for %s on %s: %w", target, l, err)
		}
		now := time.Now()
		if !now.Before(deadline) {
			return nil, fmt.Errorf("%w: %s on %s after %v", ErrNoReply, target, l, timeout)
		}
		if !now.Before(nextSend) {
			if err := unix.Sendto(fd, req, 0, to); err != nil {
				return nil, sysErr(fmt.Sprintf("send ARP request for %s on %s", target, l), "CAP_NET_RAW", err)
			}
			nextSend = now.Add(100 * time.Millisecond)
		}
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			return nil, fmt.Errorf("ippool: receive ARP on %s: %w", l, err)
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if mac, ok := arpAnswer(buf[:n], target, l.mac); ok {
			return mac, nil
		}
	}
}

// arpAnswer reports whether frame says another host (not self) holds
// target: an ARP reply from target, or a request or probe from another
// MAC claiming target as its sender address.
func arpAnswer(frame []byte, target netip.Addr, self net.HardwareAddr) (net.HardwareAddr, bool) {
	if len(frame) < 42 || binary.BigEndian.Uint16(frame[12:14]) != etherTypeARP {
		return nil, false
	}
	a := frame[14:]
	if binary.BigEndian.Uint16(a[0:2]) != 1 || binary.BigEndian.Uint16(a[2:4]) != 0x0800 || a[4] != 6 || a[5] != 4 {
		return nil, false
	}
	sha := net.HardwareAddr(bytes.Clone(a[8:14]))
	spa := netip.AddrFrom4([4]byte(a[14:18]))
	if bytes.Equal(sha, self) || spa != target {
		return nil, false
	}
	return sha, true
}

// arpFrame builds an Ethernet frame carrying an ARP packet.
func arpFrame(dst, src net.HardwareAddr, op uint16, sha net.HardwareAddr, spa netip.Addr, tha net.HardwareAddr, tpa netip.Addr) []byte {
	f := make([]byte, 42)
	copy(f[0:6], dst)
	copy(f[6:12], src)
	binary.BigEndian.PutUint16(f[12:14], etherTypeARP)
	a := f[14:]
	binary.BigEndian.PutUint16(a[0:2], 1)      // Ethernet
	binary.BigEndian.PutUint16(a[2:4], 0x0800) // IPv4
	a[4], a[5] = 6, 4
	binary.BigEndian.PutUint16(a[6:8], op)
	copy(a[8:14], sha)
	s4, t4 := spa.As4(), tpa.As4()
	copy(a[14:18], s4[:])
	copy(a[18:24], tha) // nil: zero, as in an RFC 5227 announcement
	copy(a[24:28], t4[:])
	return f
}

// naFrame builds an Ethernet frame carrying an unsolicited neighbour
// advertisement (RFC 4861 §7.2.6) for target to all nodes (ff02::1), with
// the override flag and the target link-layer address option.
func naFrame(mac net.HardwareAddr, target netip.Addr) []byte {
	const icmpLen = 32
	f := make([]byte, 14+40+icmpLen)
	copy(f[0:6], net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1})
	copy(f[6:12], mac)
	binary.BigEndian.PutUint16(f[12:14], etherTypeIPv6)
	ip := f[14:54]
	ip[0] = 6 << 4
	binary.BigEndian.PutUint16(ip[4:6], icmpLen)
	ip[6] = 58  // ICMPv6
	ip[7] = 255 // hop limit: receivers drop NDP with any other value
	src, dst := target.As16(), netip.MustParseAddr("ff02::1").As16()
	copy(ip[8:24], src[:])
	copy(ip[24:40], dst[:])
	m := f[54:]
	m[0] = 136  // neighbour advertisement
	m[4] = 0x20 // override
	copy(m[8:24], src[:])
	m[24], m[25] = 2, 1 // target link-layer address, 8 bytes
	copy(m[26:32], mac)
	binary.BigEndian.PutUint16(m[2:4], icmpv6Checksum(src, dst, m))
	return f
}

func icmpv6Checksum(src, dst [16]byte, msg []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(src[:])
	add(dst[:])
	var l [8]byte
	binary.BigEndian.PutUint32(l[0:4], uint32(len(msg)))
	l[7] = 58
	add(l[:])
	add(msg)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
