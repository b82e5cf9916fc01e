package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReplicationConfig(t *testing.T) {
	t.Setenv("REPL_PW", "s3cret")
	const base = "state_file: s.json\nnodes:\n  - name: a\n    address: 192.0.2.1\n"
	c, err := Parse("u.yaml", []byte(base+`replication:
  - name: db
    node: a
    replica: {address: "127.0.0.1:3307", user: watch, password_env: REPL_PW}
    source: {address: "127.0.0.1:3306", user: root, password_env: REPL_PW}
    tables: [lab.t]
    schemas: [lab]
    allow_repair: [replace-row, reseed]
`))
	require.NoError(t, err)
	require.Len(t, c.Replication, 1)
	r := c.Replication[0]
	assert.Equal(t, "127.0.0.1:3307", r.Replica.Address)
	assert.Equal(t, "s3cret", r.Source.Password.Reveal())
	assert.Equal(t, DefaultReplicationMaxLag, r.MaxLag)
	assert.Equal(t, []string{"replace-row", "reseed"}, r.AllowRepair)

	for name, bad := range map[string]string{
		"unknown strategy":       "replication:\n  - name: db\n    replica: {address: \"h:1\", user: u}\n    source: {address: \"h:2\", user: u}\n    allow_repair: [idempotent]\n",
		"repair without source":  "replication:\n  - name: db\n    replica: {address: \"h:1\", user: u}\n    allow_repair: [skip]\n",
		"reseed without schemas": "replication:\n  - name: db\n    replica: {address: \"h:1\", user: u}\n    source: {address: \"h:2\", user: u}\n    allow_repair: [reseed]\n",
		"inline password":        "replication:\n  - name: db\n    replica: {address: \"h:1\", user: u, password: x}\n",
		"no replica":             "replication:\n  - name: db\n",
		"negative lag":           "replication:\n  - name: db\n    replica: {address: \"h:1\", user: u}\n    max_lag: -1s\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("u.yaml", []byte(base+bad))
			assert.Error(t, err)
		})
	}
}
