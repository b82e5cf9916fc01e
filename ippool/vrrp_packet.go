package ippool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// VRRP protocol constants (RFC 5798).
const (
	// VRRPProto is the IP protocol number of VRRP.
	VRRPProto = 112
	// VRRPTTL is the TTL every advertisement is sent with and must arrive
	// with (RFC 5798 section 5.1.1.3).
	VRRPTTL = 255

	vrrpVersion     = 3
	vrrpTypeAdvert  = 1
	vrrpHeaderLen   = 8
	maxAdvertCentis = 0x0fff
)

// VRRPGroup is the IPv4 multicast address adverts go to when no unicast
// peers are configured.
var VRRPGroup = netip.MustParseAddr("224.0.0.18")

// ErrBadAdvert: a received VRRP packet failed validation (version, type,
// checksum, TTL, length, address count). It is logged and ignored.
var ErrBadAdvert = errors.New("ippool: invalid VRRP advertisement")

// Advert is a VRRPv3 advertisement for IPv4 (RFC 5798 section 5.2).
type Advert struct {
	// VRID is the virtual router identifier (1-255).
	VRID uint8
	// Priority is the sender's priority: 255 for the address owner, 0
	// when the master is giving up.
	Priority uint8
	// Interval is the sender's advertisement interval, carried in
	// centiseconds (10ms to 40.95s).
	Interval time.Duration
	// Addrs are the virtual addresses the virtual router carries.
	Addrs []netip.Addr
}

// Marshal encodes a as a VRRPv3 advertisement with its checksum, which
// covers an IPv4 pseudo-header of src, dst, protocol 112 and the length.
func (a Advert) Marshal(src, dst netip.Addr) ([]byte, error) {
	if len(a.Addrs) > 255 {
		return nil, fmt.Errorf("ippool: vrrp advert: %d addresses (at most 255)", len(a.Addrs))
	}
	cs := a.Interval / (10 * time.Millisecond)
	if cs < 1 || cs > maxAdvertCentis {
		return nil, fmt.Errorf("ippool: vrrp advert: interval %s outside 10ms..40.95s", a.Interval)
	}
	b := make([]byte, vrrpHeaderLen, vrrpHeaderLen+4*len(a.Addrs))
	b[0] = vrrpVersion<<4 | vrrpTypeAdvert
	b[1] = a.VRID
	b[2] = a.Priority
	b[3] = byte(len(a.Addrs))
	binary.BigEndian.PutUint16(b[4:], uint16(cs))
	for _, ad := range a.Addrs {
		if !ad.Unmap().Is4() {
			return nil, fmt.Errorf("ippool: vrrp advert: %s is not IPv4", ad)
		}
		v4 := ad.Unmap().As4()
		b = append(b, v4[:]...)
	}
	binary.BigEndian.PutUint16(b[6:], vrrpChecksum(src, dst, b))
	return b, nil
}

// ParseAdvert decodes and validates a VRRPv3 IPv4 advertisement (the IP
// payload) received from src for dst. Anything but a well-formed version
// 3 advertisement with a correct checksum is an error wrapping
// ErrBadAdvert.
func ParseAdvert(src, dst netip.Addr, b []byte) (Advert, error) {
	bad := func(format string, args ...any) (Advert, error) {
		return Advert{}, fmt.Errorf("%w: %s", ErrBadAdvert, fmt.Sprintf(format, args...))
	}
	if len(b) < vrrpHeaderLen {
		return bad("%d bytes, shorter than the header", len(b))
	}
	if v := b[0] >> 4; v != vrrpVersion {
		return bad("version %d, want 3", v)
	}
	if t := b[0] & 0x0f; t != vrrpTypeAdvert {
		return bad("type %d, want 1 (advertisement)", t)
	}
	n := int(b[3])
	if n == 0 {
		return bad("no addresses")
	}
	if len(b) < vrrpHeaderLen+4*n {
		return bad("%d addresses announced in %d bytes", n, len(b))
	}
	// Trailing bytes (VRRPv2 authentication data from a confused sender)
	// are not covered by a v3 checksum; take the announced length.
	b = b[:vrrpHeaderLen+4*n]
	if vrrpChecksum(src, dst, b) != 0 {
		return bad("checksum mismatch")
	}
	cs := binary.BigEndian.Uint16(b[4:]) & maxAdvertCentis
	if cs == 0 {
		return bad("advertisement interval 0")
	}
	a := Advert{VRID: b[1], Priority: b[2], Interval: time.Duration(cs) * 10 * time.Millisecond}
	if a.VRID == 0 {
		return bad("VRID 0")
	}
	for i := range n {
		a.Addrs = append(a.Addrs, netip.AddrFrom4([4]byte(b[vrrpHeaderLen+4*i:])))
	}
	return a, nil
}

// vrrpChecksum is the Internet checksum of the pseudo-header and b. Over
// a message that carries its checksum it is 0 when the checksum is right.
func vrrpChecksum(src, dst netip.Addr, b []byte) uint16 {
	var sum uint32
	s, d := src.Unmap().As4(), dst.Unmap().As4()
	add := func(p []byte) {
		for len(p) >= 2 {
			sum += uint32(p[0])<<8 | uint32(p[1])
			p = p[2:]
		}
		if len(p) == 1 {
			sum += uint32(p[0]) << 8
		}
	}
	add(s[:])
	add(d[:])
	sum += VRRPProto + uint32(len(b))
	add(b)
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// ipPacket is what the speaker needs from a received IPv4 packet.
type ipPacket struct {
	src, dst netip.Addr
	ttl      uint8
	payload  []byte
}

// parseIPv4 splits a raw IPv4 packet (as a raw socket returns it) into
// header fields and payload.
func parseIPv4(b []byte) (ipPacket, error) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return ipPacket{}, fmt.Errorf("%w: not an IPv4 packet", ErrBadAdvert)
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:]))
	if ihl < 20 || total < ihl || total > len(b) {
		return ipPacket{}, fmt.Errorf("%w: IPv4 header length %d, total %d, got %d bytes", ErrBadAdvert, ihl, total, len(b))
	}
	if b[9] != VRRPProto {
		return ipPacket{}, fmt.Errorf("%w: IP protocol %d", ErrBadAdvert, b[9])
	}
	return ipPacket{
		src:     netip.AddrFrom4([4]byte(b[12:16])),
		dst:     netip.AddrFrom4([4]byte(b[16:20])),
		ttl:     b[8],
		payload: b[ihl:total],
	}, nil
}
