package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReplicationAndSyncChecks(t *testing.T) {
	const yaml = `state_file: state.json
nodes:
  - name: b
    address: 192.0.2.2
    checks:
      - {name: db, type: replication, replication: b-from-a}
      - {name: db-tight, type: replication, replication: b-from-a, max_lag: 5s}
      - {name: www, type: sync, sync: www}
      - {name: www-loose, type: sync, sync: www, max_age: 1h, role: notify}
      - {name: logs, type: sync, sync: logs, max_age: 10m}
replication:
  - name: b-from-a
    replica: {address: "127.0.0.1:3307", user: watch}
    max_lag: 20s
syncs:
  - {name: www, local: /srv/www, remote: /srv/www-copy, max_age: 15m}
  - {name: logs, local: /srv/logs, remote: /srv/logs-copy}
`
	c, err := Parse("u.yaml", []byte(yaml))
	require.NoError(t, err)
	ch := c.Nodes[0].Checks
	tests := []struct {
		name     string
		check    Check
		ref      string
		limit    time.Duration
		replOnly bool
	}{
		{"replication max_lag from the entry", ch[0], "b-from-a", 20 * time.Second, true},
		{"replication max_lag given", ch[1], "b-from-a", 5 * time.Second, true},
		{"sync max_age from the entry", ch[2], "www", 15 * time.Minute, false},
		{"sync max_age given", ch[3], "www", time.Hour, false},
		{"sync entry without max_age", ch[4], "logs", 10 * time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.replOnly {
				require.NotNil(t, tt.check.Replication)
				assert.Nil(t, tt.check.Sync)
				assert.Equal(t, tt.ref, tt.check.Replication.Replication)
				assert.Equal(t, tt.limit, tt.check.Replication.MaxLag)
				return
			}
			require.NotNil(t, tt.check.Sync)
			assert.Nil(t, tt.check.Replication)
			assert.Equal(t, tt.ref, tt.check.Sync.Sync)
			assert.Equal(t, tt.limit, tt.check.Sync.MaxAge)
		})
	}
}

func TestReplicationAndSyncChecksBad(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"file", "", []string{
			`refs.yaml:6:52: nodes[0].checks[0].replication: no replication entry named "nosuch" (known: b-from-a)`,
			`refs.yaml:7:72: nodes[0].checks[1].max_lag: must not be negative`,
			`refs.yaml:8:39: nodes[0].checks[2].sync: no sync named "nosuch" (known: www)`,
			`refs.yaml:9:9: nodes[0].checks[3]: missing max_age (here or on the sync "www")`,
			`refs.yaml:10:9: nodes[0].checks[4]: missing required field "sync"`,
		}},
		{"sync check without state_file", "nodes:\n  - name: a\n    address: 10.1.0.1\n    checks:\n      - {name: www, type: sync, sync: www, max_age: 1m}\nsyncs:\n  - {name: www, local: /a, remote: /b}\n", []string{
			`u.yaml:5:27: nodes[0].checks[0].type: a sync check needs state_file`,
		}},
		{"no entries at all", "nodes:\n  - name: a\n    address: 10.1.0.1\n    checks:\n      - {name: db, type: replication, replication: x}\n", []string{
			`u.yaml:5:52: nodes[0].checks[0].replication: no replication entry named "x" (none are configured)`,
		}},
		{"witness", "state_file: s.json\nnodes: [{name: a, address: 10.1.0.1}]\nwitness:\n  - {name: w, type: sync, sync: nope, max_age: 1m}\n", []string{
			`u.yaml:4:33: witness[0].sync: no sync named "nope" (none are configured)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.yaml == "" {
				_, err = Load(filepath.Join("testdata", "bad", "refs.yaml"))
			} else {
				_, err = Parse("u.yaml", []byte(tt.yaml))
			}
			require.Error(t, err)
			var e *Error
			require.True(t, errors.As(err, &e), "errors are *config.Error")
			msg := err.Error()
			for _, w := range tt.want {
				assert.Contains(t, msg, w)
			}
			assert.Len(t, strings.Split(msg, "\n"), len(tt.want), "one line per problem, and no other:\n%s", msg)
		})
	}
}
