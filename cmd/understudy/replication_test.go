package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// replicationCLI writes a configuration for one replication entry b-from-a
// (extra YAML lines appended to it), node b checked by it, and returns a
// runner of `understudy replication ...` and the file's path.
func replicationCLI(t *testing.T, p *mariadb.Pair, replicaUser, extra string) (func(args ...string) (int, string, string), string) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "understudy.yaml")
	yaml := fmt.Sprintf(`state_file: state.json
nodes:
  - name: a
    address: 192.0.2.1
  - name: b
    address: 192.0.2.2
    checks:
      - {name: db, type: replication, replication: b-from-a}
replication:
  - name: b-from-a
    node: b
    replica: {address: %q, user: %s}
    source: {address: %q, user: root}
    tables: [lab.t]
    schemas: [lab]
    max_lag: 10s
%s`, p.B.Addr, replicaUser, p.A.Addr, extra)
	require.NoError(t, os.WriteFile(cfg, []byte(yaml), 0o600))
	return func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"-c", cfg, "replication"}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}, cfg
}

// TestReplicationSeedSilentSkip is the seed's scenario on a real
// file/position master-master pair: a 1062, then STOP SLAVE; START SLAVE,
// then STOP SLAVE; RESET SLAVE; START SLAVE, which "works" with
// transactions missing. status must not say FIT yes, status -data must
// fail, and a reseed with a passing data check makes it fit again.
func TestReplicationSeedSilentSkip(t *testing.T) {
	p := mariadb.StartPair(t, mariadb.FilePos())
	p.A.Exec(t, "CREATE DATABASE lab; CREATE TABLE lab.t (id INT PRIMARY KEY, v VARCHAR(40)); INSERT INTO lab.t VALUES (1,'seed')")
	cli, cfgPath := replicationCLI(t, p, "root", "    allow_repair: [reseed]\n")
	waitReplicationCLI(t, func() bool { code, _, _ := cli("status", "-data"); return code == exitOK })

	p.B.Exec(t, "SET sql_log_bin=0; INSERT INTO lab.t VALUES (10,'replica-local'); SET sql_log_bin=1")
	p.A.Exec(t, "INSERT INTO lab.t VALUES (10,'from-master'), (11,'after'); INSERT INTO lab.t VALUES (20,'later')")
	waitReplicationCLI(t, func() bool { _, out, _ := cli("status"); return strings.Contains(out, "1062") })

	// The seed's first attempt: the same error, gtid_slave_pos moved.
	p.B.Exec(t, "STOP SLAVE")
	p.B.Exec(t, "START SLAVE")
	waitReplicationCLI(t, func() bool { _, out, _ := cli("status"); return strings.Contains(out, "would now skip") })
	code, out, _ := cli("status")
	assert.Equal(t, exitFailure, code, out)
	t.Log(out)

	// The seed's repair: running, lag 0, transactions missing.
	p.B.Exec(t, "STOP SLAVE; RESET SLAVE; START SLAVE")
	p.B.WaitReplicating(t)
	waitReplicationCLI(t, func() bool {
		_, out, _ := cli("status")
		return strings.Contains(out, "  Yes ") && strings.Contains(out, "0s")
	})
	code, out, _ = cli("status")
	t.Log(out)
	assert.Equal(t, exitFailure, code, "running, lag 0, but transactions were skipped")
	assert.Regexp(t, `b-from-a .* Yes +true +0s .* no +skipped_transactions: moved past the transaction that failed with error 1062`, out)
	assert.NotRegexp(t, `\byes\b`, out)
	// The daemon's check of node b says the same.
	code, rows := checkRows(t, cfgPath)
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, rows["b/db"].Error, "skipped_transactions: moved past the transaction that failed with error 1062")

	code, out, _ = cli("status", "-data")
	t.Log(out)
	assert.Equal(t, exitFailure, code, "differences make -data fail")
	assert.Contains(t, out, "lab.t (id): 10 (differs); 11 (missing on replica); 20 (missing on replica);")
	assert.Contains(t, out, "diverged: data check at")

	// Reseed: converged, the data check passes, fit again.
	code, out, errOut := cli("repair", "b-from-a", "reseed")
	require.Equal(t, exitOK, code, out+errOut)
	assert.Contains(t, out, "converged: true")
	code, out, _ = cli("status")
	assert.Equal(t, exitOK, code, out)
	assert.Regexp(t, `b-from-a .* yes$`, strings.TrimSpace(strings.Split(out, "\n")[1]))
	code, out, _ = cli("status", "-data")
	assert.Equal(t, exitOK, code, out)
	assert.Contains(t, out, "1 table(s) equal")
	code, rows = checkRows(t, cfgPath)
	assert.Equal(t, exitOK, code, rows["b/db"].Error)
}

// TestReplicationDoctor runs the preflight for a limited account and for
// root against a real pair.
func TestReplicationDoctor(t *testing.T) {
	p := mariadb.StartPair(t)
	p.A.Exec(t, "CREATE DATABASE lab; CREATE TABLE lab.t (id INT PRIMARY KEY, v VARCHAR(40))")
	p.B.WaitReplicating(t)
	p.B.Exec(t, "SET sql_log_bin=0; CREATE USER 'watch'@'127.0.0.1'; GRANT SLAVE MONITOR ON *.* TO 'watch'@'127.0.0.1'; "+
		"GRANT SELECT ON lab.* TO 'watch'@'127.0.0.1'; SET sql_log_bin=1")
	cli, _ := replicationCLI(t, p, "watch", "    allow_repair: [restart, replace-row]\n")
	code, out, errOut := cli("doctor")
	t.Log(out)
	assert.Equal(t, exitFailure, code, errOut)
	assert.Contains(t, out, "b-from-a: replica "+p.B.Addr+" as watch@127.0.0.1, source "+p.A.Addr+" as root@127.0.0.1")
	assert.Regexp(t, `status +replica +SHOW ALL SLAVES STATUS +ok`, out)
	assert.Regexp(t, `fence +replica +SET GLOBAL read_only +missing .*GRANT READ_ONLY ADMIN ON \*\.\* TO 'watch'@'127\.0\.0\.1'`, out)
	assert.Regexp(t, `repair restart +replica +FLUSH LOCAL PRIVILEGES +missing .*GRANT RELOAD ON`, out)
	assert.Regexp(t, "repair replace-row +replica +DELETE on lab.t +missing .*GRANT DELETE ON `lab`.`t`", out)
	assert.NotContains(t, out, "repair skip", "only allow_repair unless -all")
	_, out, _ = cli("doctor", "-all")
	assert.Contains(t, out, "repair skip")
	assert.Contains(t, out, "repair reseed")

	root, _ := replicationCLI(t, p, "root", "    allow_repair: [restart, replace-row, skip, reseed]\n")
	code, out, _ = root("doctor", "b-from-a")
	assert.Equal(t, exitOK, code, out)
	assert.Contains(t, out, "b-from-a: every privilege present")
	code, _, errOut = root("doctor", "nope")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "no replication named")
}
