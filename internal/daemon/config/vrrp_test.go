package config

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const vrrpYAML = `nodes:
  - {name: a, address: 10.0.0.1}
  - {name: b, address: 10.0.0.2}
switch: {timeout: 20s}
vrrp:
  - name: v1
    self: a
    interface: eth1
    vrid: 51
    virtual_addresses: [10.0.0.100/24]
    peers: [10.0.0.2]
    preempt_delay: 5s
  - {name: v2, self: a, interface: eth1, vrid: 52, priority: 255, advert: 100ms, virtual_addresses: [10.0.0.101/24], nopreempt: true}
keepalived:
  self: a
  dir: ka
  interface: eth1
  vrid: 53
  virtual_addresses: [10.0.0.102/24]
  source_ip: 10.0.0.1
  peers: [10.0.0.2]
  notify_master:
    - {type: exec, command: [/bin/true]}
switchers:
  - {type: vrrp, vrrp: v2}
  - {type: keepalived_track}
`

func TestVRRPSections(t *testing.T) {
	c, err := Parse("/etc/understudy/u.yaml", []byte(vrrpYAML))
	require.NoError(t, err)
	require.Len(t, c.VRRP, 2)
	v := c.VRRP[0]
	assert.Equal(t, "a", v.Self)
	assert.Equal(t, 51, v.VRID)
	assert.Equal(t, DefaultVRRPPriority, v.Priority, "default")
	assert.Equal(t, time.Second, v.Advert, "default")
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.100/24")}, v.Prefixes())
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("10.0.0.2")}, v.Peers)
	assert.Equal(t, 5*time.Second, v.PreemptDelay)
	assert.Equal(t, 100*time.Millisecond, c.VRRP[1].Advert)
	assert.True(t, c.VRRP[1].NoPreempt)

	k := c.Keepalived
	require.True(t, k.IsSet())
	assert.Equal(t, "/etc/understudy/ka", k.Dir, "relative to the file")
	assert.Equal(t, "/etc/understudy/ka/steer", k.TrackFile())
	assert.Equal(t, 3, k.Version)
	assert.Equal(t, 2*time.Second, k.TrackInterval)
	assert.Equal(t, -254, k.TrackFileWeight)
	assert.Equal(t, DefaultNotifyTries, k.NotifyTries)
	assert.Equal(t, DefaultNotifyDelay, k.NotifyDelay)
	require.Len(t, k.NotifyMaster, 1)
	assert.Equal(t, []string{"/bin/true"}, k.NotifyMaster[0].Exec.Command)
	assert.Equal(t, 20*time.Second, k.NotifyMaster[0].Timeout, "inherits switch.timeout")

	require.Len(t, c.Switchers, 2)
	require.NotNil(t, c.Switchers[0].VRRP)
	assert.Equal(t, "v2", c.Switchers[0].VRRP.VRRP)
	assert.NotNil(t, c.Switchers[1].KeepalivedTrack)
}

func TestVRRPSectionsNotSet(t *testing.T) {
	c, err := Parse("u.yaml", []byte("nodes:\n  - {name: a, address: 10.0.0.1}\n"))
	require.NoError(t, err)
	assert.False(t, c.Keepalived.IsSet())
	assert.Empty(t, c.VRRP)
}

// TestVRRPSectionsBad: each mistake is reported at its line.
func TestVRRPSectionsBad(t *testing.T) {
	const head = "nodes:\n  - {name: a, address: 10.0.0.1}\n" // lines 1-2
	vrrp := func(fields string) string {
		return head + "vrrp:\n  - {name: v, self: a, interface: eth1, vrid: 51, virtual_addresses: [10.0.0.100/24]" + fields + "}\n"
	}
	ka := func(extra string) string {
		return head + "keepalived:\n  self: a\n  dir: /run/ka\n  interface: eth1\n  vrid: 51\n  virtual_addresses: [10.0.0.100/24]\n" + extra
	}
	cases := []struct {
		name, yaml, want string
	}{
		{"vrid out of range", vrrp(", vrid: 256"), `:4:`},
		{"unknown self", head + "vrrp:\n  - {name: v, self: z, interface: eth1, vrid: 1, virtual_addresses: [10.0.0.100/24]}\n", `:4:`},
		{"address without prefix", head + "vrrp:\n  - name: v\n    self: a\n    interface: eth1\n    vrid: 1\n    virtual_addresses: [10.0.0.100]\n", `:8:`},
		{"ipv6 address", vrrp(", peers: [fd00::1]"), `:4:`},
		{"advert not in 10ms steps", vrrp(", advert: 15ms"), `:4:`},
		{"missing vrid", head + "vrrp:\n  - {name: v, self: a, interface: eth1, virtual_addresses: [10.0.0.100/24]}\n", `:4:`},
		{"vrid collision", head + "vrrp:\n  - {name: v, self: a, interface: eth1, vrid: 7, virtual_addresses: [10.0.0.100/24]}\n  - {name: w, self: a, interface: eth1, vrid: 7, virtual_addresses: [10.0.0.101/24]}\n", `:5:`},
		{"unknown vrrp in switcher", head + "switchers:\n  - {type: vrrp, vrrp: nope}\n", `:4:`},
		{"track switcher without keepalived", head + "switchers:\n  - {type: keepalived_track}\n", `:4:`},
		{"keepalived peers without source", ka("  peers: [10.0.0.2]\n"), `:9:`},
		{"keepalived relative track script", ka("  track_script: [pidof, nginx]\n"), `:9:`},
		{"keepalived version 4", ka("  version: 4\n"), `:9:`},
		{"keepalived v2 fractional advert", ka("  version: 2\n  advert: 500ms\n"), `:10:`},
		{"keepalived master and nopreempt", ka("  master: true\n  nopreempt: true\n"), `:10:`},
		{"keepalived notify vrrp switcher", ka("  notify_master:\n    - {type: keepalived_track}\n"), `:10:`},
		{"keepalived bad track interval", ka("  track_interval: 1500ms\n"), `:9:`},
		{"keepalived unknown field", ka("  priorty: 100\n"), `:9:`},
		{"keepalived missing dir", head + "keepalived:\n  self: a\n  interface: eth1\n  vrid: 1\n  virtual_addresses: [10.0.0.1/32]\n", `:4:3: keepalived: missing required field "dir"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(filepath.Join("x", "bad.yaml"), []byte(c.yaml))
			require.Error(t, err)
			var cfgErr *Error
			require.ErrorAs(t, err, &cfgErr)
			assert.Contains(t, err.Error(), "x/bad.yaml"+c.want)
			assert.False(t, strings.Contains(err.Error(), "\n"), "one problem, got:\n%v", err)
		})
	}
}
