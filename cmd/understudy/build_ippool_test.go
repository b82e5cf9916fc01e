package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/internal/daemon/config"
	"github.com/understudy-ha/understudy/internal/testkit/fakes/doreservedip"
)

func TestBuildIPPoolSwitchers(t *testing.T) {
	api := doreservedip.New(t, "dop_v1_test")
	api.AddDroplet(1111, 2222)
	api.AddReservedIP("203.0.113.177", 1111)
	t.Setenv("DO_TOKEN", "dop_v1_test")
	y := `
nodes:
  - {name: debian1, address: 192.0.2.14, labels: {droplet_id: "1111"}}
  - {name: debian2, address: 192.0.2.15, labels: {droplet_id: "2222"}}
switchers:
  - {type: do_reserved_ip, ip: 203.0.113.177, token_env: DO_TOKEN, api_url: "` + api.URL + `", no_metadata: true, poll_interval: 1ms}
  - {type: vip, self: debian1, interface: eth0, address: 192.0.2.100/24}
  - type: group
    self: debian1
    name: web
    steps:
      - {type: command, name: drbddisk, takeover: [drbdadm, primary, repl], release: [drbdadm, secondary, repl]}
      - {type: systemctl, unit: apache2.service}
`
	cfg, err := config.Parse("ippool.yaml", []byte(y))
	require.NoError(t, err)
	rec := &cmdrun.Recorder{}
	d := deps{runner: rec}

	do, err := switcherBuilders["do_reserved_ip"](cfg.Switchers[0], d)
	require.NoError(t, err)
	require.NoError(t, do.Switch(t.Context(), cfg.FailoverPolicy().Nodes[1]))
	assert.Equal(t, 2222, api.Holder("203.0.113.177"))

	_, err = switcherBuilders["vip"](cfg.Switchers[1], d)
	require.NoError(t, err)

	g, err := switcherBuilders["group"](cfg.Switchers[2], d)
	require.NoError(t, err)
	require.NoError(t, g.Switch(t.Context(), failover.Node{Name: "debian1"}))
	require.NoError(t, g.Switch(t.Context(), failover.Node{Name: "debian2"}))
	assert.Equal(t, [][]string{
		{"drbdadm", "primary", "repl"},
		{"systemctl", "start", "--", "apache2.service"},
		{"systemctl", "stop", "--", "apache2.service"},
		{"drbdadm", "secondary", "repl"},
	}, rec.Argvs())
}
