package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// drbdFixture is the absolute path of a /proc/drbd capture of the
// replicate package.
func drbdFixture(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "replicate", "testdata", "drbd", name))
	require.NoError(t, err)
	return p
}

// drbdConfig is one node with a drbd check on resource r0, and a drbd
// switcher on the same resource read the same way, so that `replication
// status` must show it once.
func drbdConfig(proc string) string {
	return fmt.Sprintf(`log: {level: warn}
nodes:
  - name: a
    address: 127.0.0.1
    checks:
      - {name: disk, type: drbd, resource: r0, source: proc, proc_path: %q, max_lag: 1m}
switchers:
  - {type: drbd, self: a, resource: r0, source: proc, proc_path: %q}
`, proc, proc)
}

// TestReplicationStatusDRBD reads /proc/drbd captures through proc_path:
// one row per resource, and exit 1 with DRBD's reason when it is unfit.
func TestReplicationStatusDRBD(t *testing.T) {
	for _, tc := range []struct {
		name, fixture string
		code          int
		row           string // spaces collapsed
		reason        string
	}{
		{"connected and up to date", "proc-84-connected.txt", exitOK,
			"r0 Primary Connected UpToDate UpToDate - yes", ""},
		{"standalone after a split-brain", "proc-84-standalone.txt", exitFailure,
			"r0 Primary StandAlone UpToDate DUnknown - no", "peer StandAlone: not connected"},
		{"resync target 4m40s from done, limit 1m", "proc-84-synctarget.txt", exitFailure,
			"r0 Secondary Connected Inconsistent UpToDate 45.2 no", "4m40s behind (limit 1m0s)"},
		{"no /proc/drbd", "missing.txt", exitFailure,
			"r0 - - - - - no", "kernel module not loaded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, "-c", writeConfig(t, drbdConfig(drbdFixture(t, tc.fixture))), "replication", "status")
			assert.Equal(t, tc.code, r.code, r.stdout+r.stderr)
			lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
			require.Len(t, lines, 2, "a header and one row, the check and the switcher share r0: %s", r.stdout)
			assert.Equal(t, "DRBD ROLE CONNECTION DISK PEER_DISK SYNC% FIT PROBLEM", spaces.ReplaceAllString(lines[0], " "))
			row := spaces.ReplaceAllString(lines[1], " ")
			assert.True(t, strings.HasPrefix(row, tc.row), "row %q, want prefix %q", row, tc.row)
			assert.Contains(t, row, tc.reason)
		})
	}

	cfg := writeConfig(t, drbdConfig(drbdFixture(t, "proc-84-connected.txt")))
	r := runCLI(t, "-c", cfg, "replication", "status", "r0")
	assert.Equal(t, exitOK, r.code, r.stderr)
	r = runCLI(t, "-c", cfg, "replication", "status", "r1")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, `no drbd resource "r1"`)
	r = runCLI(t, "-c", writeConfig(t, "nodes: [{name: a, address: 127.0.0.1}]\n"), "replication", "status")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "no replication entries and no drbd resources")
}

// TestCheckDRBD runs a check of type drbd through `understudy check` on
// /proc/drbd captures.
func TestCheckDRBD(t *testing.T) {
	for _, tc := range []struct {
		fixture, result string
		code            int
		err             string
	}{
		{"proc-84-connected.txt", "ok", exitOK, ""},
		{"proc-84-wfconnection.txt", "FAIL", exitFailure, "not connected (WFConnection)"},
		{"proc-84-synctarget.txt", "FAIL", exitFailure, "4m40s behind (limit 1m0s)"},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			r := runCLI(t, "-c", writeConfig(t, drbdConfig(drbdFixture(t, tc.fixture))), "check")
			assert.Equal(t, tc.code, r.code, r.stdout+r.stderr)
			lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
			require.Len(t, lines, 2, r.stdout)
			row := spaces.ReplaceAllString(lines[1], " ")
			assert.True(t, strings.HasPrefix(row, "a disk critical "+tc.result), "row %q", row)
			assert.Contains(t, row, tc.err)
		})
	}
}
