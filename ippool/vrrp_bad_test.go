package ippool_test

import (
	"context"
	"encoding/binary"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/understudy-ha/understudy/internal/testkit/netns"
	"github.com/understudy-ha/understudy/ippool"
)

// forge sends one hand-built IPv4 packet (protocol 112) from node 1's
// namespace to dst, with the source address and TTL given.
func forge(t *testing.T, lab *netns.Lab, src, dst netip.Addr, ttl uint8, payload []byte) {
	t.Helper()
	pkt := make([]byte, 20+len(payload))
	pkt[0] = 0x45
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
	pkt[8] = ttl
	pkt[9] = ippool.VRRPProto
	s4, d4 := src.As4(), dst.As4()
	copy(pkt[12:], s4[:])
	copy(pkt[16:], d4[:])
	copy(pkt[20:], payload) // the kernel fills in the header checksum
	require.NoError(t, lab.Do(1, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return unix.Sendto(fd, pkt, 0, &unix.SockaddrInet4{Addr: d4})
	}))
}

// checksum recomputes the VRRPv3 checksum of b in place.
func checksum(src, dst netip.Addr, b []byte) []byte {
	b[6], b[7] = 0, 0
	s4, d4 := src.As4(), dst.As4()
	var sum uint32
	words := append(append(append(s4[:], d4[:]...), 0, ippool.VRRPProto, byte(len(b)>>8), byte(len(b))), b...)
	if len(words)%2 == 1 {
		words = append(words, 0)
	}
	for i := 0; i < len(words); i += 2 {
		sum += uint32(words[i])<<8 | uint32(words[i+1])
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(b[6:], ^uint16(sum))
	return b
}

// TestVRRPIgnoresBadAdverts sends a lone master adverts that would
// demote it (priority 254) were they valid, each broken in one way: each
// must be counted as dropped for the right reason, and the state must not
// change. A final valid one proves the forged path works.
func TestVRRPIgnoresBadAdverts(t *testing.T) {
	lab := netns.New(t, netns.Options{})
	s := startSpeaker(t, vrrpConfig(lab, 0, 100))
	waitFor(t, 3*time.Second, "master", func() bool { return s.State() == ippool.VRRPMaster })
	events := len(s.Events())

	peer, self := lab.Addr(1).Addr(), lab.Addr(0).Addr()
	vip := lab.Host(100).Addr()
	advert := func(edit func(a *ippool.Advert)) []byte {
		a := ippool.Advert{VRID: 51, Priority: 254, Interval: testAdvert, Addrs: []netip.Addr{vip}}
		if edit != nil {
			edit(&a)
		}
		b, err := a.Marshal(peer, self)
		require.NoError(t, err)
		return b
	}
	cases := []struct {
		name    string
		src     netip.Addr
		ttl     uint8
		payload []byte
		want    ippool.DropReason
	}{
		{"version 2", peer, 255, func() []byte { b := advert(nil); b[0] = 0x21; return checksum(peer, self, b) }(), ippool.DropMalformed},
		{"type 2", peer, 255, func() []byte { b := advert(nil); b[0] = 0x32; return checksum(peer, self, b) }(), ippool.DropMalformed},
		{"bad checksum", peer, 255, func() []byte { b := advert(nil); b[7] ^= 0xff; return b }(), ippool.DropMalformed},
		{"truncated address list", peer, 255, func() []byte { b := advert(nil); b[3] = 2; return checksum(peer, self, b) }(), ippool.DropMalformed},
		{"zero interval", peer, 255, func() []byte { b := advert(nil); b[4], b[5] = 0, 0; return checksum(peer, self, b) }(), ippool.DropMalformed},
		{"short", peer, 255, []byte{0x31, 51, 254}, ippool.DropMalformed},
		{"ttl 254", peer, 254, advert(nil), ippool.DropTTL},
		{"ttl 1", peer, 1, advert(nil), ippool.DropTTL},
		{"unknown vrid", peer, 255, advert(func(a *ippool.Advert) { a.VRID = 52 }), ippool.DropVRID},
		{"vrid collision", peer, 255, advert(func(a *ippool.Advert) { a.Addrs = []netip.Addr{lab.Host(200).Addr()} }), ippool.DropCollision},
		{"forged source", lab.Host(9).Addr(), 255, checksum(lab.Host(9).Addr(), self, advert(nil)), ippool.DropSource},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := s.Stats().Dropped[tc.want]
			forge(t, lab, tc.src, self, tc.ttl, tc.payload)
			waitFor(t, 2*time.Second, "the drop counted", func() bool { return s.Stats().Dropped[tc.want] == before+1 })
			assert.Equal(t, ippool.VRRPMaster, s.State())
			assert.Len(t, s.Events(), events, "no state change")
		})
	}

	// The same path with a valid advert does demote it.
	forge(t, lab, peer, self, 255, advert(nil))
	waitFor(t, 2*time.Second, "backup", func() bool { return s.State() == ippool.VRRPBackup })
	last := s.Events()[len(s.Events())-1]
	assert.Equal(t, peer, last.Peer)
}

// TestVRRPPermissionError drops CAP_NET_RAW from one OS thread (per
// thread on Linux) inside a lab namespace and runs the speaker there.
func TestVRRPPermissionError(t *testing.T) {
	lab := netns.New(t, netns.Options{})
	target, err := vnetns.GetFromName(lab.Node(0))
	require.NoError(t, err)
	defer target.Close()
	done := make(chan error, 1)
	go func() {
		// Never unlocked: the thread dies with the goroutine.
		runtime.LockOSThread()
		if err := vnetns.Set(target); err != nil {
			done <- err
			return
		}
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			done <- err
			return
		}
		drop := uint32(1 << unix.CAP_NET_RAW)
		data[0].Effective &^= drop
		data[0].Permitted &^= drop
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			done <- err
			return
		}
		cfg := vrrpConfig(lab, 0, 100)
		cfg.NetNS = "" // this thread is already inside
		v, err := ippool.NewVRRP(cfg)
		if err != nil {
			done <- err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- v.Run(ctx)
	}()
	err = <-done
	require.ErrorIs(t, err, ippool.ErrPermission)
	var pe *ippool.PermissionError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "CAP_NET_RAW", pe.Capability)
	assert.Contains(t, err.Error(), "CAP_NET_RAW")
}

func FuzzParseAdvert(f *testing.F) {
	src, dst := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	good, err := ippool.Advert{VRID: 51, Priority: 100, Interval: time.Second,
		Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.100"), netip.MustParseAddr("10.0.0.101")}}.Marshal(src, dst)
	require.NoError(f, err)
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0x21, 51, 100, 1, 1, 0, 0, 0, 10, 0, 0, 100})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ippool.ParseAdvert(src, dst, b)
		if err != nil {
			require.ErrorIs(t, err, ippool.ErrBadAdvert)
			return
		}
		// What parses re-encodes to an advert that parses the same.
		again, err := a.Marshal(src, dst)
		require.NoError(t, err)
		b2, err := ippool.ParseAdvert(src, dst, again)
		require.NoError(t, err)
		require.Equal(t, a, b2)
	})
}

func TestAdvertRoundTrip(t *testing.T) {
	src, dst := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("224.0.0.18")
	a := ippool.Advert{VRID: 7, Priority: 255, Interval: 40950 * time.Millisecond, Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.100")}}
	b, err := a.Marshal(src, dst)
	require.NoError(t, err)
	assert.Equal(t, []byte{0x31, 7, 255, 1, 0x0f, 0xff}, b[:6])
	got, err := ippool.ParseAdvert(src, dst, b)
	require.NoError(t, err)
	assert.Equal(t, a, got)
	// The checksum covers the pseudo-header: another destination fails.
	_, err = ippool.ParseAdvert(src, netip.MustParseAddr("10.0.0.2"), b)
	require.ErrorIs(t, err, ippool.ErrBadAdvert)

	_, err = ippool.Advert{VRID: 1, Priority: 1, Interval: 5 * time.Millisecond, Addrs: a.Addrs}.Marshal(src, dst)
	require.Error(t, err)
	_, err = ippool.Advert{VRID: 1, Priority: 1, Interval: time.Second, Addrs: []netip.Addr{netip.MustParseAddr("fd00::1")}}.Marshal(src, dst)
	require.Error(t, err)
}
