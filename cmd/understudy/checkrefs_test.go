package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/internal/testkit/mariadb"
	"github.com/understudy-ha/understudy/internal/testkit/testenv"
	"github.com/understudy-ha/understudy/syncer"
)

// syncCheckConfig writes a configuration whose standby b is fit only
// while the sync www (src → dst, real rsync) succeeded within 10m.
func syncCheckConfig(t *testing.T, extraSync string) (cfgPath, src, dst string) {
	t.Helper()
	base := t.TempDir()
	src, dst = filepath.Join(base, "src"), filepath.Join(base, "dst")
	require.NoError(t, os.MkdirAll(src, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(src, "index.html"), []byte("hello"), 0o644))
	cfgPath = filepath.Join(base, "understudy.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(`state_file: state.json
interval: 2s
check_timeout: 1s
log: {level: warn}
policy: {fail_after: 1, rise_after: 1}
nodes:
  - name: a
    address: 127.0.0.1
  - name: b
    address: 127.0.0.2
    checks:
      - {name: files, type: sync, sync: www, max_age: 10m}
syncs:
  - {name: www, local: %q, remote: %q%s}
`, src, dst, extraSync)), 0o600))
	return cfgPath, src, dst
}

// checkRows runs `check -json` and returns its rows by "node/check".
func checkRows(t *testing.T, cfgPath string) (int, map[string]checkRow) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"-c", cfgPath, "check", "-json"}, &out, &errb)
	var rows []checkRow
	require.NoError(t, json.Unmarshal(out.Bytes(), &rows), "stdout %q, stderr %q", out.String(), errb.String())
	byName := map[string]checkRow{}
	for _, r := range rows {
		byName[r.Node+"/"+r.Check] = r
	}
	return code, byName
}

// TestSyncCheckGoesStale: a cron `understudy sync www` is seen by later
// `check` and `tick` processes, until the copy is older than max_age.
// Real rsync between two temporary directories; time is synctest's fake
// clock, so "11 minutes later" takes no time.
func TestSyncCheckGoesStale(t *testing.T) {
	testenv.Require(t, "rsync", "rsync")
	synctest.Test(t, func(t *testing.T) {
		cfgPath, _, dst := syncCheckConfig(t, "")

		code, rows := checkRows(t, cfgPath)
		assert.Equal(t, exitFailure, code, "a critical check fails before any sync")
		assert.False(t, rows["b/files"].OK)
		assert.Contains(t, rows["b/files"].Error, "never succeeded")

		r := runCLI(t, "-c", cfgPath, "sync", "-q", "www") // as from cron
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Empty(t, r.stdout, "-q: nothing printed on success")
		assert.FileExists(t, filepath.Join(dst, "index.html"))
		assert.FileExists(t, filepath.Join(filepath.Dir(cfgPath), "state.syncs.json"))

		code, rows = checkRows(t, cfgPath)
		assert.Equal(t, exitOK, code)
		assert.True(t, rows["b/files"].OK, rows["b/files"].Error)
		r = runCLI(t, "-c", cfgPath, "tick", "-v")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Contains(t, r.stdout, "0 of 1 checks failed")

		time.Sleep(9 * time.Minute) // fake time
		code, rows = checkRows(t, cfgPath)
		assert.Equal(t, exitOK, code, "9 minutes old is still fresh: %s", rows["b/files"].Error)

		time.Sleep(2 * time.Minute)
		code, rows = checkRows(t, cfgPath)
		assert.Equal(t, exitFailure, code)
		assert.False(t, rows["b/files"].OK)
		assert.Contains(t, rows["b/files"].Error, "last success 11m0s ago (limit 10m0s)")
		r = runCLI(t, "-c", cfgPath, "tick", "-v")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Contains(t, r.stdout, "1 of 1 checks failed")
		r = runCLI(t, "-c", cfgPath, "status")
		assert.Contains(t, r.stdout, "last success 11m0s ago")

		// A failed run names its error in the check and keeps the copy stale.
		require.NoError(t, os.RemoveAll(filepath.Join(filepath.Dir(dst), "src")))
		r = runCLI(t, "-c", cfgPath, "sync", "www")
		assert.Equal(t, exitFailure, r.code)
		_, rows = checkRows(t, cfgPath)
		assert.Contains(t, rows["b/files"].Error, "source directory missing")
	})
}

// TestRunStartsSyncs: the daemon runs the scheduled syncs, records them
// for the sync checks, and stops them on shutdown.
func TestRunStartsSyncs(t *testing.T) {
	testenv.Require(t, "rsync", "rsync")
	cfgPath, _, dst := syncCheckConfig(t, ", every: 1h")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"-c", cfgPath, "run"}, &stdout, &stderr) }()

	store := &syncer.FileStore{Path: filepath.Join(filepath.Dir(cfgPath), "state.syncs.json")}
	require.Eventually(t, func() bool {
		r, err := store.Load(ctx, "www")
		return err == nil && !r.LastSuccess.IsZero()
	}, 10*time.Second, 10*time.Millisecond, "the daemon never ran the scheduled sync: %s", stderr.String())
	assert.FileExists(t, filepath.Join(dst, "index.html"))

	cancel()
	select {
	case code := <-done:
		assert.Equal(t, exitOK, code, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
}

// TestReplicationCheck: node b is fit while its replica of a (a real
// MariaDB pair) replicates, and not once replication is stopped.
func TestReplicationCheck(t *testing.T) {
	p := mariadb.StartPair(t)
	cfgPath := writeConfig(t, fmt.Sprintf(`nodes:
  - name: a
    address: 192.0.2.1
  - name: b
    address: 192.0.2.2
    checks:
      - {name: db, type: replication, replication: b-from-a}
replication:
  - name: b-from-a
    node: b
    replica: {address: %q, user: root}
    max_lag: 10s
`, p.B.Addr))
	p.B.WaitReplicating(t)
	require.Eventually(t, func() bool { code, _ := checkRows(t, cfgPath); return code == exitOK },
		20*time.Second, 100*time.Millisecond, "the replica never showed fit")

	p.B.Exec(t, "STOP SLAVE")
	code, rows := checkRows(t, cfgPath)
	assert.Equal(t, exitFailure, code)
	assert.False(t, rows["b/db"].OK)
	assert.Contains(t, rows["b/db"].Error, "not running")
}
