package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/internal/testkit/mariadb"
)

// TestReplicationCommands runs status and repair against a real
// master-master pair broken with a 1062.
func TestReplicationCommands(t *testing.T) {
	p := mariadb.StartPair(t)
	p.A.Exec(t, "CREATE DATABASE lab; CREATE TABLE lab.t (id INT PRIMARY KEY, v VARCHAR(40))")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "understudy.yaml")
	yaml := fmt.Sprintf(`state_file: state.json
nodes:
  - name: a
    address: 192.0.2.1
  - name: b
    address: 192.0.2.2
replication:
  - name: b-from-a
    node: b
    replica: {address: %q, user: root}
    source: {address: %q, user: root}
    tables: [lab.t]
    schemas: [lab]
    max_lag: 10s
    allow_repair: [replace-row]
`, p.B.Addr, p.A.Addr)
	require.NoError(t, os.WriteFile(cfg, []byte(yaml), 0o600))
	cli := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"-c", cfg, "replication"}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	p.B.WaitReplicating(t)
	waitReplicationCLI(t, func() bool { code, _, _ := cli("status"); return code == exitOK })
	code, out, _ := cli("status", "-data")
	assert.Equal(t, exitOK, code, out)
	assert.Contains(t, out, "b-from-a")
	assert.Contains(t, out, "1 table(s) equal")

	// The article's break.
	p.B.Exec(t, "SET sql_log_bin=0; INSERT INTO lab.t VALUES (10,'replica-local'); SET sql_log_bin=1")
	p.A.Exec(t, "INSERT INTO lab.t VALUES (10,'from-master')")
	waitReplicationCLI(t, func() bool { code, _, _ := cli("status"); return code == exitFailure })
	_, out, _ = cli("status")
	assert.Contains(t, out, "1062")

	code, _, errOut := cli("repair", "b-from-a", "skip")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "not in allow_repair")

	code, out, errOut = cli("repair", "b-from-a", "replace-row")
	assert.Equal(t, exitOK, code, out+errOut)
	assert.Contains(t, out, "converged: true")
	code, _, _ = cli("status")
	assert.Equal(t, exitOK, code)

	code, _, errOut = cli("status", "nope")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "no replication named")
}

func waitReplicationCLI(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		require.False(t, time.Now().After(deadline), "condition not reached")
		<-tick.C
	}
}
