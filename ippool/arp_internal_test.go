package ippool

import (
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
)

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
	vip  = netip.MustParseAddr("10.77.0.100")
)

func TestARPAnswer(t *testing.T) {
	cases := []struct {
		name  string
		frame []byte
		self  net.HardwareAddr
		want  bool
	}{
		{"reply from another host", arpFrame(macA, macB, arpReply, macB, vip, macA, netip.MustParseAddr("10.77.0.1")), macA, true},
		{"announcement from another host", arpFrame(broadcastMAC, macB, arpRequest, macB, vip, nil, vip), macA, true},
		{"our own announcement", arpFrame(broadcastMAC, macA, arpRequest, macA, vip, nil, vip), macA, false},
		{"probe from another host (sender 0.0.0.0)", arpFrame(broadcastMAC, macB, arpRequest, macB, netip.IPv4Unspecified(), nil, vip), macA, false},
		{"reply about another address", arpFrame(macA, macB, arpReply, macB, netip.MustParseAddr("10.77.0.2"), macA, vip), macA, false},
		{"truncated", arpFrame(macA, macB, arpReply, macB, vip, macA, vip)[:30], macA, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mac, ok := arpAnswer(c.frame, vip, c.self)
			assert.Equal(t, c.want, ok)
			if c.want {
				assert.Equal(t, macB, mac)
			}
		})
	}
}

func TestNAChecksumVerifies(t *testing.T) {
	target := netip.MustParseAddr("fd00:77::100")
	f := naFrame(macA, target)
	m := f[54:]
	// Summing a message that carries its checksum gives 0 after inversion.
	assert.Zero(t, icmpv6Checksum(target.As16(), netip.MustParseAddr("ff02::1").As16(), m))
	assert.Equal(t, byte(255), f[14+7], "hop limit")
	assert.Equal(t, byte(136), m[0])
}

func FuzzARPAnswer(f *testing.F) {
	f.Add(arpFrame(macA, macB, arpReply, macB, vip, macA, vip))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, frame []byte) {
		mac, ok := arpAnswer(frame, vip, macA)
		if ok && (len(mac) != 6 || mac.String() == macA.String()) {
			t.Fatalf("answer from %v", mac)
		}
	})
}
