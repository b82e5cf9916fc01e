package config

import (
	"fmt"
	"testing"
	"time"

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

// TestDRBDCheckConfig: a check of type drbd loads its settings and
// refuses a resource drbdadm would misread, an unknown source and a
// negative max_lag, each at its place in the file.
func TestDRBDCheckConfig(t *testing.T) {
	const base = `nodes:
  - name: debian1
    address: 192.168.69.14
    checks:
      - {name: disk, type: drbd, %s}
`
	for _, tc := range []struct {
		name, fields string
		want         DRBDCheck
		wantErr      string
	}{
		{"all fields", "resource: repl, minors: [1], source: proc, proc_path: /tmp/drbd, drbdadm: /sbin/drbdadm, max_lag: 1m",
			DRBDCheck{Resource: "repl", Minors: []int{1}, Source: "proc", ProcPath: "/tmp/drbd", Drbdadm: "/sbin/drbdadm", MaxLag: time.Minute}, ""},
		{"auto", "resource: repl, source: auto", DRBDCheck{Resource: "repl", Source: "auto"}, ""},
		{"no resource", "source: proc", DRBDCheck{}, `missing required field "resource"`},
		{"all resources", "resource: all", DRBDCheck{}, `nodes[0].checks[0].resource: resource name "all" not allowed`},
		{"option as resource", "resource: --force", DRBDCheck{}, `resource name "--force" not allowed`},
		{"unknown source", "resource: repl, source: sysfs", DRBDCheck{}, "sysfs"},
		{"negative max_lag", "resource: repl, max_lag: -1s", DRBDCheck{}, "nodes[0].checks[0].max_lag: must not be negative"},
		{"negative minor", "resource: repl, minors: [-1]", DRBDCheck{}, "minor -1 is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("understudy.yaml", []byte(fmt.Sprintf(base, tc.fields)))
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			ch := c.Nodes[0].Checks[0]
			require.NotNil(t, ch.DRBD)
			assert.Equal(t, tc.want, *ch.DRBD)
		})
	}
}
