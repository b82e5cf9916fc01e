package ippool_test

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/internal/testkit/netns"
	"github.com/understudy-ha/understudy/internal/testkit/testenv"
	"github.com/understudy-ha/understudy/ippool"
)

func TestKeepalivedConfigRender(t *testing.T) {
	c := ippool.KeepalivedConfig{
		Interface: "eth1", VRID: 33, Priority: 200, Master: true,
		SourceIP: netip.MustParseAddr("10.134.23.164"), Peers: []netip.Addr{netip.MustParseAddr("10.134.4.220")},
		VIPs:          []netip.Prefix{netip.MustParsePrefix("10.134.0.100/16")},
		TrackScript:   []string{"/usr/bin/understudy", "check", "nginx"},
		TrackFile:     "/run/understudy/steer",
		NotifyMaster:  []string{"/usr/bin/understudy", "switch", "-switcher", "reserved_ip", "web1"},
		PreemptDelay:  1500 * time.Millisecond,
		Advert:        100 * time.Millisecond,
		TrackInterval: 2 * time.Second,
	}
	text, err := c.Render()
	require.NoError(t, err)
	want, err := os.ReadFile("testdata/keepalived-article.conf")
	require.NoError(t, err)
	assert.Equal(t, string(want), string(text))
}

func TestKeepalivedConfigValidate(t *testing.T) {
	good := ippool.KeepalivedConfig{Interface: "eth0", VRID: 1, VIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.100/24")}}
	require.NoError(t, good.Validate())
	cases := []struct {
		name string
		edit func(c *ippool.KeepalivedConfig)
	}{
		{"no interface", func(c *ippool.KeepalivedConfig) { c.Interface = "" }},
		{"interface with a space", func(c *ippool.KeepalivedConfig) { c.Interface = "eth0 }" }},
		{"vrid 0", func(c *ippool.KeepalivedConfig) { c.VRID = 0 }},
		{"v2 fractional advert", func(c *ippool.KeepalivedConfig) { c.Version, c.Advert = 2, 100*time.Millisecond }},
		{"v3 advert too short", func(c *ippool.KeepalivedConfig) { c.Advert = time.Millisecond }},
		{"version 4", func(c *ippool.KeepalivedConfig) { c.Version = 4 }},
		{"nopreempt with MASTER", func(c *ippool.KeepalivedConfig) { c.Master, c.NoPreempt = true, true }},
		{"no vip", func(c *ippool.KeepalivedConfig) { c.VIPs = nil }},
		{"peer without source", func(c *ippool.KeepalivedConfig) { c.Peers = []netip.Addr{netip.MustParseAddr("10.0.0.2")} }},
		{"relative script", func(c *ippool.KeepalivedConfig) { c.TrackScript = []string{"pidof", "nginx"} }},
		{"script argument with a quote", func(c *ippool.KeepalivedConfig) { c.NotifyMaster = []string{"/bin/echo", `a"b`} }},
		{"script argument with a space", func(c *ippool.KeepalivedConfig) { c.NotifyMaster = []string{"/bin/echo", "a b"} }},
		{"fractional script interval", func(c *ippool.KeepalivedConfig) {
			c.TrackScript, c.TrackInterval = []string{"/bin/true"}, 1500*time.Millisecond
		}},
		{"relative track file", func(c *ippool.KeepalivedConfig) { c.TrackFile = "steer" }},
		{"positive track file weight", func(c *ippool.KeepalivedConfig) { c.TrackFile, c.TrackFileWeight = "/run/steer", 10 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			require.Error(t, c.Validate())
			_, err := c.Render()
			require.Error(t, err)
		})
	}
}

func TestCheckKeepalivedConfigArgv(t *testing.T) {
	rec := &cmdrun.Recorder{}
	require.NoError(t, ippool.CheckKeepalivedConfig(t.Context(), rec, "/usr/sbin/keepalived", "/usr/sbin/ip", "ns1", "/etc/k.conf"))
	require.NoError(t, ippool.CheckKeepalivedConfig(t.Context(), rec, "/usr/sbin/keepalived", "", "", "/etc/k.conf"))
	assert.Equal(t, [][]string{
		{"/usr/sbin/ip", "netns", "exec", "ns1", "/usr/sbin/keepalived", "--config-test", "-f", "/etc/k.conf"},
		{"/usr/sbin/keepalived", "--config-test", "-f", "/etc/k.conf"},
	}, rec.Argvs())
}

// kaNode is a supervised keepalived in a lab node.
type kaNode struct {
	*ippool.Keepalived
	cancel context.CancelFunc
	exited chan struct{}
	mu     sync.Mutex
	events []ippool.KeepalivedEvent
}

func (k *kaNode) count(kind ippool.KeepalivedEventKind) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := 0
	for _, e := range k.events {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// kill SIGKILLs keepalived's parent and VRRP child, as a crash would.
func (k *kaNode) kill(t *testing.T) {
	t.Helper()
	var parent, child int
	waitFor(t, 5*time.Second, "keepalived PIDs", func() bool {
		parent, child = k.PIDs()
		return parent > 0 && child > 0
	})
	require.NoError(t, syscall.Kill(child, syscall.SIGKILL))
	require.NoError(t, syscall.Kill(parent, syscall.SIGKILL))
}

// stop ends Run: SIGTERM, graceful.
func (k *kaNode) stop(t *testing.T) {
	t.Helper()
	k.cancel()
	select {
	case <-k.exited:
	case <-time.After(15 * time.Second):
		t.Fatal("keepalived did not stop")
	}
}

func kaConfig(lab *netns.Lab, node int, prio uint8) ippool.KeepalivedConfig {
	return ippool.KeepalivedConfig{
		Interface: "veth0", VRID: 51, Priority: prio, Advert: testAdvert,
		SourceIP: lab.Addr(node).Addr(), Peers: []netip.Addr{lab.Addr(1 - node).Addr()},
		VIPs:       []netip.Prefix{lab.Host(100)},
		GARPRepeat: 1,
	}
}

func startKeepalived(t *testing.T, lab *netns.Lab, node int, cfg ippool.KeepalivedConfig, restart time.Duration) *kaNode {
	t.Helper()
	testenv.Require(t, "keepalived", "keepalived")
	k := &kaNode{exited: make(chan struct{})}
	ka, err := ippool.NewKeepalived(ippool.KeepalivedOptions{
		Config: cfg, Dir: t.TempDir(), NetNS: lab.Node(node), RestartDelay: restart,
		OnEvent: func(e ippool.KeepalivedEvent) {
			k.mu.Lock()
			k.events = append(k.events, e)
			k.mu.Unlock()
		},
	})
	require.NoError(t, err)
	k.Keepalived = ka
	// Check the configuration here, so a rejection fails the test with
	// keepalived's message rather than a timeout.
	require.NoError(t, ka.WriteConfig(t.Context()))
	ctx, cancel := context.WithCancel(context.Background())
	k.cancel = cancel
	go func() {
		defer close(k.exited)
		if err := ka.Run(ctx); err != nil {
			t.Errorf("keepalived run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-k.exited
	})
	waitFor(t, 5*time.Second, "keepalived started", func() bool { return k.count(ippool.KeepalivedStarted) > 0 })
	return k
}

func TestKeepalivedConfigTestInNamespace(t *testing.T) {
	testenv.Require(t, "keepalived", "keepalived")
	lab := netns.New(t, netns.Options{})
	dir := t.TempDir()
	write := func(c ippool.KeepalivedConfig) string {
		text, err := c.Render()
		require.NoError(t, err)
		p := filepath.Join(dir, "k.conf")
		require.NoError(t, os.WriteFile(p, text, 0o600))
		return p
	}
	good := kaConfig(lab, 0, 100)
	require.NoError(t, ippool.CheckKeepalivedConfig(t.Context(), nil, "", "", lab.Node(0), write(good)))

	// An interface that exists on the host but not in the namespace.
	bad := good
	bad.Interface = "nope0"
	err := ippool.CheckKeepalivedConfig(t.Context(), nil, "", "", lab.Node(0), write(bad))
	require.ErrorIs(t, err, ippool.ErrKeepalivedConfig)
	assert.Contains(t, err.Error(), "nope0")
}

// TestKeepalivedTrackFileMovesVIP runs keepalived in two namespaces from
// the generated configuration and moves the VIP by writing the track
// files, as the arbiter's switchers would.
func TestKeepalivedTrackFileMovesVIP(t *testing.T) {
	lab := netns.New(t, netns.Options{})
	a := startKeepalived(t, lab, 0, kaConfig(lab, 0, 200), time.Second)
	b := startKeepalived(t, lab, 1, kaConfig(lab, 1, 100), time.Second)
	waitHolder(t, lab, 0, 5*time.Second)
	answersARP(t, lab, 0)

	switchTo := func(node int) {
		to := failover.Node{Name: lab.Node(node)}
		require.NoError(t, a.Switcher(lab.Node(0)).Switch(t.Context(), to))
		require.NoError(t, b.Switcher(lab.Node(1)).Switch(t.Context(), to))
	}
	switchTo(1)
	steer, err := os.ReadFile(a.TrackFile())
	require.NoError(t, err)
	assert.Equal(t, "1\n", string(steer))
	waitHolder(t, lab, 1, 3*time.Second)
	answersARP(t, lab, 1)

	switchTo(0)
	waitHolder(t, lab, 0, 3*time.Second)
	answersARP(t, lab, 0)
}

// TestKeepalivedStaleVIPCleanup SIGKILLs the master keepalived: the peer
// takes over, and the supervisor removes the VIP the dead keepalived left
// behind before restarting it.
func TestKeepalivedStaleVIPCleanup(t *testing.T) {
	lab := netns.New(t, netns.Options{})
	// A long restart delay: the stale copy must go away without the
	// restarted keepalived's help.
	a := startKeepalived(t, lab, 0, kaConfig(lab, 0, 200), time.Hour)
	startKeepalived(t, lab, 1, kaConfig(lab, 1, 100), time.Second)
	waitHolder(t, lab, 0, 5*time.Second)
	a.kill(t)
	waitHolder(t, lab, 1, 3*time.Second)
	waitFor(t, time.Second, "stale_vip event", func() bool { return a.count(ippool.KeepalivedStaleVIP) == 1 })
	assert.Equal(t, 1, a.count(ippool.KeepalivedExited))
	assert.Equal(t, 1, a.count(ippool.KeepalivedStarted), "not restarted yet")
}

// TestVRRPInteropKeepalived runs the native speaker against keepalived
// (vrrp_version 3, unicast, advert 0.1 s) in both roles, with crashes of
// master and backup on both sides.
func TestVRRPInteropKeepalived(t *testing.T) {
	vip := func(lab *netns.Lab) netip.Prefix { return lab.Host(100) }

	t.Run("native master, keepalived backup", func(t *testing.T) {
		lab := netns.New(t, netns.Options{})
		n := startSpeaker(t, vrrpConfig(lab, 0, 200))
		k := startKeepalived(t, lab, 1, kaConfig(lab, 1, 100), 200*time.Millisecond)
		waitHolder(t, lab, 0, 5*time.Second)
		answersARP(t, lab, 0)

		// keepalived (backup) crashes and comes back: the native master
		// never lets go.
		k.kill(t)
		waitFor(t, 5*time.Second, "keepalived restarted", func() bool { return k.count(ippool.KeepalivedStarted) == 2 })
		sent := n.Stats().Sent
		waitFor(t, 5*time.Second, "10 more adverts", func() bool {
			require.Equal(t, ippool.VRRPMaster, n.State())
			require.False(t, holds(t, lab, 1, vip(lab)))
			return n.Stats().Sent >= sent+10
		})

		// The native master crashes: keepalived takes over.
		n.crash(t)
		waitFor(t, 3*time.Second, "keepalived takes the VIP", func() bool { return holds(t, lab, 1, vip(lab)) })
		answersARP(t, lab, 1)
		// The native speaker restarts, drops its stale copy and preempts.
		n = startSpeaker(t, vrrpConfig(lab, 0, 200))
		waitHolder(t, lab, 0, 3*time.Second)

		// Graceful stop: priority 0, keepalived takes over within skew.
		require.NoError(t, n.Stop(t.Context()))
		waitHolder(t, lab, 1, 2*time.Second)
	})

	t.Run("keepalived master, native backup", func(t *testing.T) {
		lab := netns.New(t, netns.Options{})
		k := startKeepalived(t, lab, 0, kaConfig(lab, 0, 200), 200*time.Millisecond)
		n := startSpeaker(t, vrrpConfig(lab, 1, 100))
		waitHolder(t, lab, 0, 5*time.Second)
		waitFor(t, time.Second, "native backup", func() bool { return n.State() == ippool.VRRPBackup })

		// keepalived (master) crashes: the native backup takes over,
		// the supervisor removes the stale VIP, and the restarted
		// keepalived preempts back.
		k.kill(t)
		waitFor(t, 3*time.Second, "native master", func() bool { return n.State() == ippool.VRRPMaster })
		waitFor(t, 5*time.Second, "stale VIP removed", func() bool { return k.count(ippool.KeepalivedStaleVIP) == 1 })
		waitHolder(t, lab, 0, 5*time.Second)
		// The speaker removes its VIP just before it records the state.
		waitFor(t, time.Second, "native backup again", func() bool { return n.State() == ippool.VRRPBackup })

		// The native backup crashes: keepalived stays master.
		n.crash(t)
		n = startSpeaker(t, vrrpConfig(lab, 1, 100))
		waitFor(t, 5*time.Second, "10 adverts from keepalived", func() bool {
			require.NotEqual(t, ippool.VRRPMaster, n.State())
			require.True(t, holds(t, lab, 0, vip(lab)))
			return n.Stats().Received >= 10
		})

		// keepalived stops gracefully (SIGTERM): the native speaker
		// takes over.
		k.stop(t)
		waitHolder(t, lab, 1, 3*time.Second)
		answersARP(t, lab, 1)
	})
}
