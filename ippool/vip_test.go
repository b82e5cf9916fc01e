package ippool_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/internal/testkit/netns"
	"github.com/understudy-ha/understudy/ippool"
)

// quick makes announcements fast and single, so tests do not wait 5 s
// for a second burst they do not look at.
var quick = ippool.Burst{Count: 3, Repeats: 1}

func newVIP(t *testing.T, lab *netns.Lab, node int, self string, addr netip.Prefix) *ippool.VIP {
	t.Helper()
	v, err := ippool.NewVIP(ippool.VIPConfig{
		Self: self, Interface: "veth0", Address: addr, NetNS: lab.Node(node),
		Announce: quick, ProbeTimeout: 300 * time.Millisecond,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	return v
}

func openLink(t *testing.T, lab *netns.Lab, node int) *ippool.Link {
	t.Helper()
	l, err := ippool.OpenLink(lab.Node(node), "veth0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	return l
}

var lladdrRE = regexp.MustCompile(`lladdr ([0-9a-f:]{17})`)

// neighMAC returns the MAC address ns's kernel holds for addr ("" if none).
func neighMAC(lab *netns.Lab, ns string, addr netip.Addr) string {
	m := lladdrRE.FindStringSubmatch(lab.IP(ns, "neigh", "show", "to", addr.String(), "dev", "veth0"))
	if m == nil {
		return ""
	}
	return m[1]
}

func TestVIPClaimAnswersARPInPeer(t *testing.T) {
	lab := netns.New(t, netns.Options{})
	vip := lab.Host(100)
	v := newVIP(t, lab, 0, "a", vip)
	ctx := t.Context()

	require.NoError(t, v.Switch(ctx, failover.Node{Name: "a"}))
	held, err := v.Held(ctx)
	require.NoError(t, err)
	assert.True(t, held)
	assert.Contains(t, lab.IP(lab.Node(0), "-4", "-o", "addr", "show", "dev", "veth0"), " "+vip.String()+" ")

	// The peer asks by ARP, as any neighbour would, and gets node 0's MAC.
	mac, err := openLink(t, lab, 1).Resolve(ctx, vip.Addr(), 2*time.Second)
	require.NoError(t, err)
	assert.Equal(t, openLink(t, lab, 0).MAC().String(), mac.String())

	// Idempotent: a second claim changes nothing and succeeds.
	require.NoError(t, v.Switch(ctx, failover.Node{Name: "a"}))
	assert.Equal(t, 1, strings.Count(lab.IP(lab.Node(0), "-4", "-o", "addr", "show", "dev", "veth0"), vip.Addr().String()+"/"))
}

func TestGratuitousARPUpdatesPeerNeighbourTable(t *testing.T) {
	lab := netns.New(t, netns.Options{Nodes: 3})
	vip := lab.Host(100)
	a := newVIP(t, lab, 0, "a", vip)
	b := newVIP(t, lab, 1, "b", vip)
	ctx := t.Context()
	client := lab.Node(2)
	macA, macB := openLink(t, lab, 0).MAC().String(), openLink(t, lab, 1).MAC().String()

	require.NoError(t, a.Switch(ctx, failover.Node{Name: "a"}))
	// The client's kernel resolves the VIP by sending to it.
	require.NoError(t, netns.Do(client, func() error {
		c, err := net.Dial("udp4", netip.AddrPortFrom(vip.Addr(), 9).String())
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("x"))
		return err
	}))
	require.Eventually(t, func() bool { return neighMAC(lab, client, vip.Addr()) == macA }, 5*time.Second, 10*time.Millisecond,
		"client never resolved the VIP to node a")

	// Move it: a releases (every non-holder runs the release), b claims
	// and announces; the client's entry must now point at b.
	require.NoError(t, a.Switch(ctx, failover.Node{Name: "b"}))
	require.NoError(t, b.Switch(ctx, failover.Node{Name: "b"}))
	require.Eventually(t, func() bool { return neighMAC(lab, client, vip.Addr()) == macB }, 5*time.Second, 10*time.Millisecond,
		"gratuitous ARP from b did not update the client's neighbour table (still %s)", neighMAC(lab, client, vip.Addr()))
	held, err := a.Held(ctx)
	require.NoError(t, err)
	assert.False(t, held, "a still holds the VIP")
}

func TestUnsolicitedNeighbourAdvertisementUpdatesPeer(t *testing.T) {
	lab := netns.New(t, netns.Options{Prefix6: netip.MustParsePrefix("fd00:77::/64")})
	vip := netip.MustParsePrefix("fd00:77::100/64")
	v := newVIP(t, lab, 0, "a", vip)
	peer := lab.Node(1)
	// The peer has a stale entry pointing at a host that is gone.
	lab.IP(peer, "-6", "neigh", "replace", vip.Addr().String(), "lladdr", "02:00:00:00:00:01", "dev", "veth0", "nud", "stale")

	require.NoError(t, v.Switch(t.Context(), failover.Node{Name: "a"}))
	macA := openLink(t, lab, 0).MAC().String()
	// The kernel only accepts the advertisement if its hop limit,
	// checksum and option are right.
	require.Eventually(t, func() bool { return neighMAC(lab, peer, vip.Addr()) == macA }, 5*time.Second, 10*time.Millisecond,
		"unsolicited NA did not update the peer (entry: %s)", neighMAC(lab, peer, vip.Addr()))
}

func TestClaimRefusedWhenAddressInUse(t *testing.T) {
	lab := netns.New(t, netns.Options{})
	vip := lab.Host(100)
	// Another host (node 1) already uses the address.
	lab.IP(lab.Node(1), "addr", "add", vip.String(), "dev", "veth0")
	v := newVIP(t, lab, 0, "a", vip)

	err := v.Switch(t.Context(), failover.Node{Name: "a"})
	require.ErrorIs(t, err, ippool.ErrAddressInUse)
	var inUse *ippool.AddressInUseError
	require.ErrorAs(t, err, &inUse)
	assert.Equal(t, openLink(t, lab, 1).MAC().String(), inUse.MAC.String())
	held, herr := v.Held(t.Context())
	require.NoError(t, herr)
	assert.False(t, held, "the VIP was added despite the conflict")
}

func TestStaleCopyRemovedWhenNotHolder(t *testing.T) {
	lab := netns.New(t, netns.Options{})
	vip := lab.Host(100)
	// A crashed keepalived leaves the VIP configured (lab README, §4).
	lab.IP(lab.Node(0), "addr", "add", vip.String(), "dev", "veth0")
	a := newVIP(t, lab, 0, "a", vip)
	b := newVIP(t, lab, 1, "b", vip)
	ctx := t.Context()

	// While a's stale copy answers, b refuses to claim.
	require.ErrorIs(t, b.Switch(ctx, failover.Node{Name: "b"}), ippool.ErrAddressInUse)
	// a is not the holder: its switch removes the stale copy …
	require.NoError(t, a.Switch(ctx, failover.Node{Name: "b"}))
	held, err := a.Held(ctx)
	require.NoError(t, err)
	assert.False(t, held)
	// … and b's retried claim succeeds.
	require.NoError(t, b.Switch(ctx, failover.Node{Name: "b"}))
	mac, err := openLink(t, lab, 0).Resolve(ctx, vip.Addr(), 2*time.Second)
	require.NoError(t, err)
	assert.Equal(t, openLink(t, lab, 1).MAC().String(), mac.String())
	// Releasing where it is absent is a no-op.
	require.NoError(t, a.Release(ctx))
}

func TestMissingInterface(t *testing.T) {
	lab := netns.New(t, netns.Options{Nodes: 1})
	v, err := ippool.NewVIP(ippool.VIPConfig{Self: "a", Interface: "nope0", Address: lab.Host(100), NetNS: lab.Node(0)})
	require.NoError(t, err)
	for _, op := range []struct {
		name string
		f    func(context.Context) error
	}{{"takeover", v.Takeover}, {"release", v.Release}} {
		t.Run(op.name, func(t *testing.T) {
			err := op.f(t.Context())
			require.ErrorIs(t, err, ippool.ErrNoInterface)
			assert.Contains(t, err.Error(), `"nope0"`)
		})
	}
	_, err = ippool.OpenLink("", "")
	require.ErrorIs(t, err, ippool.ErrNoInterface)
}

func TestVIPConfigValidate(t *testing.T) {
	_, err := ippool.NewVIP(ippool.VIPConfig{})
	require.Error(t, err)
	for _, want := range []string{"self", "interface", "address"} {
		assert.Contains(t, err.Error(), want)
	}
}

// TestPermissionErrorsNameCapability drops CAP_NET_ADMIN and CAP_NET_RAW
// from one OS thread (capabilities are per thread on Linux), inside a lab
// namespace, and checks the errors name the capability that was missing.
func TestPermissionErrorsNameCapability(t *testing.T) {
	lab := netns.New(t, netns.Options{Nodes: 1})
	target, err := vnetns.GetFromName(lab.Node(0))
	require.NoError(t, err)
	defer target.Close()
	type result struct{ add, announce, probe error }
	done := make(chan result, 1)
	setup := make(chan error, 1)
	go func() {
		// This thread is never unlocked: it dies with the goroutine, so
		// its reduced capabilities and namespace are never reused.
		runtime.LockOSThread()
		if err := vnetns.Set(target); err != nil {
			setup <- err
			return
		}
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			setup <- err
			return
		}
		drop := uint32(1<<unix.CAP_NET_ADMIN | 1<<unix.CAP_NET_RAW)
		data[0].Effective &^= drop
		data[0].Permitted &^= drop
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			setup <- err
			return
		}
		setup <- nil
		l, err := ippool.OpenLink("", "veth0")
		if err != nil {
			done <- result{add: err}
			return
		}
		defer l.Close()
		var r result
		_, r.add = l.AddAddress(lab.Host(100))
		r.announce = l.Announce(context.Background(), lab.Host(100).Addr(), quick)
		r.probe = l.Probe(context.Background(), lab.Host(100).Addr(), 100*time.Millisecond)
		done <- r
	}()
	require.NoError(t, <-setup)
	r := <-done
	for _, c := range []struct {
		name string
		err  error
		cap  string
	}{{"add address", r.add, "CAP_NET_ADMIN"}, {"announce", r.announce, "CAP_NET_RAW"}, {"probe", r.probe, "CAP_NET_RAW"}} {
		t.Run(c.name, func(t *testing.T) {
			require.ErrorIs(t, c.err, ippool.ErrPermission)
			var pe *ippool.PermissionError
			require.ErrorAs(t, c.err, &pe)
			assert.Equal(t, c.cap, pe.Capability)
			assert.Contains(t, c.err.Error(), c.cap)
			assert.True(t, errors.Is(c.err, unix.EPERM) || errors.Is(c.err, unix.EACCES))
		})
	}
}

func newLab(t *testing.T) *netns.Lab { return netns.New(t, netns.Options{}) }

// TestLaterBurstReachesPeer checks the background burst: after the first
// burst the peer's entry is spoiled by hand, and the second burst, Delay
// later, must set it right again.
func TestLaterBurstReachesPeer(t *testing.T) {
	lab := newLab(t)
	vip := lab.Host(100)
	v, err := ippool.NewVIP(ippool.VIPConfig{Self: "a", Interface: "veth0", Address: vip, NetNS: lab.Node(0),
		Announce: ippool.Burst{Count: 2, Repeats: 2, Delay: 300 * time.Millisecond}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	peer := lab.Node(1)
	bogus := "02:00:00:00:00:01"
	lab.IP(peer, "neigh", "replace", vip.Addr().String(), "lladdr", bogus, "dev", "veth0", "nud", "stale")
	macA := openLink(t, lab, 0).MAC().String()

	require.NoError(t, v.Switch(t.Context(), failover.Node{Name: "a"}))
	require.Eventually(t, func() bool { return neighMAC(lab, peer, vip.Addr()) == macA }, 5*time.Second, 10*time.Millisecond,
		"the first burst never came")
	lab.IP(peer, "neigh", "replace", vip.Addr().String(), "lladdr", bogus, "dev", "veth0", "nud", "stale")
	require.Eventually(t, func() bool { return neighMAC(lab, peer, vip.Addr()) == macA }, 5*time.Second, 10*time.Millisecond,
		"the second burst never came")
}
