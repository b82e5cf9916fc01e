package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const ippoolYAML = `
nodes:
  - name: debian1
    address: 192.168.69.14
    labels: {droplet_id: "1111"}
  - name: debian2
    address: 192.168.69.15
    labels: {droplet_id: "2222"}
switchers:
  - type: do_reserved_ip
    ip: 203.0.113.177
    token_file: do.token
    deadline: 30s
  - type: vip
    self: debian1
    interface: eth0
    address: 192.168.69.100/24
    garp_count: 5
    garp_delay: 5s
  - type: group
    self: debian1
    name: web
    steps:
      - {type: vip, interface: eth0, address: 192.168.69.101/24}
      - {type: command, name: drbddisk, takeover: [drbdadm, primary, repl], release: [drbdadm, secondary, repl]}
      - {type: mount, device: /dev/drbd0, target: /mnt/repl, fstype: ext3}
      - {type: systemctl, unit: apache2.service}
`

func TestIPPoolSwitchers(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "do.token"), []byte("dop_v1_secret\n"), 0o600))
	path := filepath.Join(dir, "understudy.yaml")
	require.NoError(t, os.WriteFile(path, []byte(ippoolYAML), 0o600))
	c, err := Load(path)
	require.NoError(t, err)
	require.Len(t, c.Switchers, 3)

	do := c.Switchers[0].DOReservedIP
	require.NotNil(t, do)
	assert.Equal(t, netip.MustParseAddr("203.0.113.177"), do.IP)
	assert.Equal(t, "dop_v1_secret", strings.TrimSpace(do.Token.Reveal()))
	assert.Equal(t, 30*time.Second, do.Deadline)

	v := c.Switchers[1].VIP
	require.NotNil(t, v)
	assert.Equal(t, "debian1", v.Self)
	assert.Equal(t, netip.MustParsePrefix("192.168.69.100/24"), v.Prefix())
	assert.Equal(t, 5, v.GARPCount)

	g := c.Switchers[2].Group
	require.NotNil(t, g)
	require.Len(t, g.Steps, 4)
	assert.NotNil(t, g.Steps[0].VIP)
	assert.Equal(t, []string{"drbdadm", "primary", "repl"}, g.Steps[1].Command.Takeover)
	assert.Equal(t, "/mnt/repl", g.Steps[2].Mount.Target)
	assert.Equal(t, "apache2.service", g.Steps[3].Systemctl.Unit)
}

func TestIPPoolSwitchersBad(t *testing.T) {
	cases := []struct{ name, switcher, want string }{
		{"vip without self", "{type: vip, interface: eth0, address: 10.0.0.5/24}", `missing required field "self"`},
		{"vip without prefix", "{type: vip, self: a, interface: eth0, address: 10.0.0.5}", "prefix length"},
		{"reserved ip token inline", "{type: do_reserved_ip, ip: 203.0.113.1, token: abc}", "token_file"},
		{"reserved ip without token", "{type: do_reserved_ip, ip: 203.0.113.1}", "missing token_file or token_env"},
		{"unknown step", "{type: group, self: a, steps: [{type: stonith}]}", `unknown group step type "stonith"`},
		{"self in a group step", "{type: group, self: a, steps: [{type: vip, self: b, interface: eth0, address: 10.0.0.5/24}]}", "takes self from its group"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			y := "nodes:\n  - {name: a, address: 10.0.0.1}\n  - {name: b, address: 10.0.0.2}\nswitchers:\n  - " + c.switcher + "\n"
			_, err := Parse("bad.yaml", []byte(y))
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}
