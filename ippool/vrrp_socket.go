package ippool

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// vrrpSocket is a raw IPv4 socket for protocol 112, bound to one
// interface inside the link's namespace, driven by the Go poller so that
// Close unblocks a reader.
type vrrpSocket struct {
	conn net.PacketConn
	rc   syscall.RawConn
}

// openVRRPSocket opens the socket; with group it also joins 224.0.0.18 on
// the interface.
func openVRRPSocket(l *Link, group bool) (*vrrpSocket, error) {
	fd := -1
	err := inNS(l.ns, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, VRRPProto)
		return err
	})
	if err != nil {
		return nil, sysErr("open raw VRRP socket on "+l.String(), "CAP_NET_RAW", err)
	}
	opts := []struct {
		name string
		set  func() error
	}{
		{"SO_BINDTODEVICE", func() error { return unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, l.name) }},
		{"IP_TTL", func() error { return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL, VRRPTTL) }},
		{"IP_MULTICAST_TTL", func() error { return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, VRRPTTL) }},
		{"IP_MULTICAST_LOOP", func() error { return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 0) }},
		{"IP_MULTICAST_IF", func() error {
			return unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(l.index)})
		}},
	}
	if group {
		opts = append(opts, struct {
			name string
			set  func() error
		}{"IP_ADD_MEMBERSHIP", func() error {
			return unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP,
				&unix.IPMreqn{Multiaddr: VRRPGroup.As4(), Ifindex: int32(l.index)})
		}})
	}
	for _, o := range opts {
		if err := o.set(); err != nil {
			unix.Close(fd)
			return nil, sysErr(fmt.Sprintf("set %s on the VRRP socket of %s", o.name, l), "CAP_NET_RAW", err)
		}
	}
	f := os.NewFile(uintptr(fd), "vrrp-"+l.name)
	conn, err := net.FilePacketConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("ippool: VRRP socket on %s: %w", l, err)
	}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("ippool: VRRP socket on %s: %T has no raw access", l, conn)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("ippool: VRRP socket on %s: %w", l, err)
	}
	return &vrrpSocket{conn: conn, rc: rc}, nil
}

// send sends payload from src to dst (TTL 255); the source address is
// set per packet with IP_PKTINFO.
func (s *vrrpSocket) send(src, dst netip.Addr, payload []byte) error {
	oob := unix.PktInfo4(&unix.Inet4Pktinfo{Spec_dst: src.As4()})
	to := &unix.SockaddrInet4{Addr: dst.As4()}
	var serr error
	err := s.rc.Write(func(fd uintptr) bool {
		serr = unix.Sendmsg(int(fd), payload, oob, to, 0)
		return !errors.Is(serr, unix.EAGAIN)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return sysErr(fmt.Sprintf("send VRRP advert to %s", dst), "CAP_NET_RAW", err)
	}
	return nil
}

// recv reads one packet, IPv4 header included.
func (s *vrrpSocket) recv(buf []byte) (int, error) {
	var (
		n    int
		rerr error
	)
	err := s.rc.Read(func(fd uintptr) bool {
		n, _, rerr = unix.Recvfrom(int(fd), buf, 0)
		return !errors.Is(rerr, unix.EAGAIN)
	})
	if err == nil {
		err = rerr
	}
	return n, err
}

func (s *vrrpSocket) Close() error { return s.conn.Close() }
