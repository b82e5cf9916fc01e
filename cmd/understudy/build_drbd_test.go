package main

import (
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/cmdrun"
	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/internal/daemon/config"
	"github.com/understudy-ha/understudy/replicate"
)

// drbdState answers drbdadm status from a role that drbdadm primary and
// secondary change.
type drbdState struct {
	mu   sync.Mutex
	role string
}

func (s *drbdState) respond(c cmdrun.Cmd) (cmdrun.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch c.Args[0] {
	case "primary":
		s.role = "Primary"
	case "secondary":
		s.role = "Secondary"
	}
	out := "repl role:" + s.role + "\n  disk:UpToDate\n  debian2 role:Secondary\n    peer-disk:UpToDate\n"
	return cmdrun.Result{Stdout: []byte(out)}, nil
}

func TestBuildDRBD(t *testing.T) {
	y := `
nodes:
  - {name: debian1, address: 192.168.69.14}
  - {name: debian2, address: 192.168.69.15}
switchers:
  - {type: drbd, self: debian1, resource: repl, source: drbdadm, drbdadm: /sbin/drbdadm}
  - type: group
    self: debian1
    steps:
      - {type: drbd, name: "drbddisk::repl", resource: repl, source: drbdadm, drbdadm: /sbin/drbdadm}
      - {type: systemctl, unit: apache2.service}
`
	cfg, err := config.Parse("drbd.yaml", []byte(y))
	require.NoError(t, err)
	state := &drbdState{role: "Secondary"}
	rec := &cmdrun.Recorder{Respond: state.respond}
	d := deps{runner: rec}

	sw, err := switcherBuilders["drbd"](cfg.Switchers[0], d)
	require.NoError(t, err)
	_, ok := sw.(*replicate.DRBD)
	require.True(t, ok)
	require.NoError(t, sw.Switch(t.Context(), failover.Node{Name: "debian1"}))
	assert.Equal(t, "Primary", state.role)
	require.NoError(t, sw.Switch(t.Context(), failover.Node{Name: "debian2"}))
	assert.Equal(t, "Secondary", state.role)

	g, err := switcherBuilders["group"](cfg.Switchers[1], d)
	require.NoError(t, err)
	rec.Cmds = nil
	require.NoError(t, g.Switch(t.Context(), failover.Node{Name: "debian1"}))
	require.NoError(t, g.Switch(t.Context(), failover.Node{Name: "debian2"}))
	var got []string
	for _, a := range rec.Argvs() {
		got = append(got, strings.Join(a, " "))
	}
	assert.Equal(t, []string{
		"/sbin/drbdadm status repl", "/sbin/drbdadm primary repl", "/sbin/drbdadm status repl",
		"systemctl start -- apache2.service",
		"systemctl stop -- apache2.service",
		"/sbin/drbdadm status repl", "/sbin/drbdadm secondary repl", "/sbin/drbdadm status repl",
	}, got)
}
