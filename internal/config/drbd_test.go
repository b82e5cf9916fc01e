package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const drbdYAML = `
nodes:
  - {name: debian1, address: 192.168.69.14}
  - {name: debian2, address: 192.168.69.15}
switchers:
  - type: drbd
    self: debian1
    resource: repl
    minors: [0]
    source: proc
  - type: group
    self: debian1
    steps:
      - {type: drbd, name: "drbddisk::repl", resource: repl}
      - {type: mount, device: /dev/drbd0, target: /mnt/repl, fstype: ext3}
`

func TestDRBDConfig(t *testing.T) {
	c, err := Parse("understudy.yaml", []byte(drbdYAML))
	require.NoError(t, err)
	require.Len(t, c.Switchers, 2)
	d := c.Switchers[0].DRBD
	require.NotNil(t, d)
	assert.Equal(t, DRBD{Self: "debian1", Resource: "repl", Minors: []int{0}, Source: "proc"}, *d)
	step := c.Switchers[1].Group.Steps[0]
	require.NotNil(t, step.DRBD)
	assert.Equal(t, "repl", step.DRBD.Resource)
	assert.False(t, step.DRBD.Force)
}

func TestDRBDConfigBad(t *testing.T) {
	cases := []struct{ name, switcher, want string }{
		{"no self", "{type: drbd, resource: repl}", `missing required field "self"`},
		{"no resource", "{type: drbd, self: a}", `missing required field "resource"`},
		{"all", "{type: drbd, self: a, resource: all}", "not allowed"},
		{"option as resource", "{type: drbd, self: a, resource: --force}", "not allowed"},
		{"bad source", "{type: drbd, self: a, resource: r0, source: sysfs}", "sysfs"},
		{"negative minor", "{type: drbd, self: a, resource: r0, minors: [-1]}", "negative"},
		{"self in a step", "{type: group, self: a, steps: [{type: drbd, self: b, resource: r0}]}", "takes self from its group"},
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
