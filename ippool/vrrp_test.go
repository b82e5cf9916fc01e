package ippool_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/internal/testkit/netns"
	"github.com/understudy-ha/understudy/internal/testkit/testenv"
	"github.com/understudy-ha/understudy/ippool"
)

const testAdvert = 100 * time.Millisecond

// speaker is a native VRRP speaker running in a lab node.
type speaker struct {
	*ippool.VRRP
	cancel context.CancelFunc
	exited chan struct{} // closed when Run returned
	err    error         // Run's result, once exited
	mu     sync.Mutex
	events []ippool.VRRPEvent
}

func (s *speaker) Events() []ippool.VRRPEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ippool.VRRPEvent(nil), s.events...)
}

// crash ends Run by cancelling its context: no priority-0 advert, the
// VIPs stay, as after a kill.
func (s *speaker) crash(t *testing.T) {
	t.Helper()
	s.cancel()
	select {
	case <-s.exited:
		require.ErrorIs(t, s.err, context.Canceled)
	case <-time.After(5 * time.Second):
		t.Fatal("speaker did not stop")
	}
}

// vrrpConfig is node's half of a unicast pair with the other node.
func vrrpConfig(lab *netns.Lab, node int, prio uint8) ippool.VRRPConfig {
	other := 1 - node
	return ippool.VRRPConfig{
		Self: lab.Node(node), Interface: "veth0", NetNS: lab.Node(node),
		VRID: 51, Priority: prio, Advert: testAdvert,
		VIPs:     []netip.Prefix{lab.Host(100)},
		SourceIP: lab.Addr(node).Addr(), Peers: []netip.Addr{lab.Addr(other).Addr()},
		Announce: quick,
	}
}

func startSpeaker(t *testing.T, cfg ippool.VRRPConfig) *speaker {
	t.Helper()
	s := &speaker{exited: make(chan struct{})}
	cfg.OnEvent = func(e ippool.VRRPEvent) {
		s.mu.Lock()
		s.events = append(s.events, e)
		s.mu.Unlock()
	}
	v, err := ippool.NewVRRP(cfg)
	require.NoError(t, err)
	s.VRRP = v
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() {
		s.err = v.Run(ctx)
		close(s.exited)
	}()
	t.Cleanup(func() {
		cancel()
		<-s.exited
	})
	return s
}

// holds reports whether node's veth0 carries addr.
func holds(t *testing.T, lab *netns.Lab, node int, addr netip.Prefix) bool {
	t.Helper()
	l, err := ippool.OpenLink(lab.Node(node), "veth0")
	require.NoError(t, err)
	defer l.Close()
	has, err := l.HasAddress(addr.Addr())
	require.NoError(t, err)
	return has
}

// waitFor polls cond every 5 ms until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	testenv.Eventually(t, within, what, cond)
}

// waitHolder waits until exactly node holds the VIP.
func waitHolder(t *testing.T, lab *netns.Lab, node int, within time.Duration) {
	t.Helper()
	vip := lab.Host(100)
	waitFor(t, within, "the VIP on "+lab.Node(node)+" only", func() bool {
		return holds(t, lab, node, vip) && !holds(t, lab, 1-node, vip)
	})
}

// answersARP checks that the peer of node resolves the VIP to node's MAC.
func answersARP(t *testing.T, lab *netns.Lab, node int) {
	t.Helper()
	mac, err := openLink(t, lab, 1-node).Resolve(t.Context(), lab.Host(100).Addr(), 2*time.Second)
	require.NoError(t, err)
	assert.Equal(t, openLink(t, lab, node).MAC().String(), mac.String())
}

func TestVRRPNativePair(t *testing.T) {
	lab := netns.New(t, netns.Options{})
	a := startSpeaker(t, vrrpConfig(lab, 0, 200))
	b := startSpeaker(t, vrrpConfig(lab, 1, 100))
	waitHolder(t, lab, 0, 3*time.Second)
	waitFor(t, time.Second, "b backup", func() bool { return b.State() == ippool.VRRPBackup })
	// A speaker adds its VIP just before it records the state.
	waitFor(t, time.Second, "a master", func() bool { return a.State() == ippool.VRRPMaster })
	answersARP(t, lab, 0)
	require.NoError(t, a.Check(t.Context()))
	require.ErrorIs(t, b.Check(t.Context()), ippool.ErrNotMaster)

	// Graceful stop: a priority-0 advert, b takes over within its skew.
	require.NoError(t, a.Stop(t.Context()))
	waitHolder(t, lab, 1, 2*time.Second)
	answersARP(t, lab, 1)
	waitFor(t, time.Second, "b master", func() bool { return b.State() == ippool.VRRPMaster })
	last := b.Events()[len(b.Events())-1]
	assert.Equal(t, ippool.VRRPMaster, last.To)

	// a comes back and preempts (priority 200 > 100).
	a = startSpeaker(t, vrrpConfig(lab, 0, 200))
	waitHolder(t, lab, 0, 3*time.Second)

	// Crash of the master: b takes over after master-down; the VIP stays
	// on the crashed a (nothing removes it) until a restarts.
	a.crash(t)
	waitFor(t, 3*time.Second, "b master", func() bool { return holds(t, lab, 1, lab.Host(100)) })
	assert.True(t, holds(t, lab, 0, lab.Host(100)), "a crashed master leaves its VIP")
	a = startSpeaker(t, vrrpConfig(lab, 0, 200))
	// Restarted, a removes its stale copy at once (backup at start) and
	// then preempts.
	waitHolder(t, lab, 0, 3*time.Second)

	// Crash of the backup changes nothing on the master.
	b.crash(t)
	assert.Equal(t, ippool.VRRPMaster, a.State())
	assert.True(t, holds(t, lab, 0, lab.Host(100)))
}

func TestVRRPPreemptModes(t *testing.T) {
	cases := []struct {
		name      string
		noPreempt bool
		delay     time.Duration
		wantBack  bool // the higher-priority node takes the VIP back
	}{
		{name: "preempt", wantBack: true},
		{name: "nopreempt", noPreempt: true},
		{name: "delayed", delay: 600 * time.Millisecond, wantBack: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lab := netns.New(t, netns.Options{})
			b := startSpeaker(t, vrrpConfig(lab, 1, 100))
			waitHolder(t, lab, 1, 3*time.Second)
			cfg := vrrpConfig(lab, 0, 200)
			cfg.NoPreempt, cfg.PreemptDelay = tc.noPreempt, tc.delay
			start := time.Now()
			a := startSpeaker(t, cfg)
			if !tc.wantBack {
				// a settles as backup and b keeps the VIP for well over a
				// master-down interval of a.
				waitFor(t, 2*time.Second, "a backup", func() bool { return a.State() == ippool.VRRPBackup })
				// Over 15 more adverts from b (> 4 master-down intervals
				// of a), a must stay backup every time we look.
				sent := b.Stats().Sent
				waitFor(t, 5*time.Second, "15 adverts from b", func() bool {
					require.Equal(t, ippool.VRRPBackup, a.State())
					require.True(t, holds(t, lab, 1, lab.Host(100)))
					return b.Stats().Sent >= sent+15
				})
				return
			}
			waitHolder(t, lab, 0, 5*time.Second)
			if tc.delay > 0 {
				assert.GreaterOrEqual(t, time.Since(start), tc.delay, "preempted before preempt_delay")
			}
		})
	}
}

func TestVRRPAddressOwnerStartsMaster(t *testing.T) {
	lab := netns.New(t, netns.Options{})
	b := startSpeaker(t, vrrpConfig(lab, 1, 100))
	waitHolder(t, lab, 1, 3*time.Second)
	a := startSpeaker(t, vrrpConfig(lab, 0, 255))
	// The owner goes master at once; b yields on its first advert.
	waitHolder(t, lab, 0, time.Second)
	assert.Equal(t, "address owner (priority 255)", a.Events()[0].Reason)
	waitFor(t, time.Second, "b backup", func() bool { return b.State() == ippool.VRRPBackup })
}

func TestVRRPSwitch(t *testing.T) {
	lab := netns.New(t, netns.Options{})
	a := startSpeaker(t, vrrpConfig(lab, 0, 200))
	b := startSpeaker(t, vrrpConfig(lab, 1, 100))
	waitHolder(t, lab, 0, 3*time.Second)

	// The arbiter on each node says "b": a resigns, b takes over.
	to := failover.Node{Name: lab.Node(1)}
	require.NoError(t, a.Switch(t.Context(), to))
	require.NoError(t, b.Switch(t.Context(), to))
	assert.NotEqual(t, ippool.VRRPMaster, a.State())
	waitHolder(t, lab, 1, 2*time.Second)

	// Idempotent.
	require.NoError(t, a.Switch(t.Context(), to))

	// Back to a: a restores priority 200 and preempts.
	to = failover.Node{Name: lab.Node(0)}
	require.NoError(t, a.Switch(t.Context(), to))
	require.NoError(t, b.Switch(t.Context(), to))
	waitHolder(t, lab, 0, 3*time.Second)
}

func TestVRRPMulticast(t *testing.T) {
	lab := netns.New(t, netns.Options{})
	ca, cb := vrrpConfig(lab, 0, 200), vrrpConfig(lab, 1, 100)
	ca.Peers, cb.Peers = nil, nil
	a := startSpeaker(t, ca)
	startSpeaker(t, cb)
	waitHolder(t, lab, 0, 3*time.Second)
	require.NoError(t, a.Stop(t.Context()))
	waitHolder(t, lab, 1, 2*time.Second)
}

func TestVRRPNoInterface(t *testing.T) {
	lab := netns.New(t, netns.Options{})
	cfg := vrrpConfig(lab, 0, 100)
	cfg.Interface = "nope0"
	v, err := ippool.NewVRRP(cfg)
	require.NoError(t, err)
	err = v.Run(t.Context())
	require.ErrorIs(t, err, ippool.ErrNoInterface)
}

func TestVRRPConfigValidate(t *testing.T) {
	good := ippool.VRRPConfig{Self: "a", Interface: "eth0", VRID: 1, VIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24")}}
	cases := []struct {
		name string
		edit func(c *ippool.VRRPConfig)
	}{
		{"no self", func(c *ippool.VRRPConfig) { c.Self = "" }},
		{"no interface", func(c *ippool.VRRPConfig) { c.Interface = "" }},
		{"vrid 0", func(c *ippool.VRRPConfig) { c.VRID = 0 }},
		{"advert too short", func(c *ippool.VRRPConfig) { c.Advert = time.Millisecond }},
		{"advert not centiseconds", func(c *ippool.VRRPConfig) { c.Advert = 105 * time.Millisecond }},
		{"no vip", func(c *ippool.VRRPConfig) { c.VIPs = nil }},
		{"ipv6 vip", func(c *ippool.VRRPConfig) { c.VIPs = []netip.Prefix{netip.MustParsePrefix("fd00::1/64")} }},
		{"ipv6 peer", func(c *ippool.VRRPConfig) { c.Peers = []netip.Addr{netip.MustParseAddr("fd00::2")} }},
		{"negative delay", func(c *ippool.VRRPConfig) { c.PreemptDelay = -time.Second }},
	}
	require.NoError(t, good.Validate())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			_, err := ippool.NewVRRP(c)
			require.Error(t, err)
		})
	}
}
